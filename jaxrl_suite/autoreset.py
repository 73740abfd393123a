"""The one auto-resetting step of the environment contract (``jaxrl_suite.env``), shared by
``Environment.step``, the grid envs' fast ``step`` and ``VecEnv.step`` so the three cannot drift apart.

Callers plug in how a transition and a fresh episode are obtained (one env or a vmapped batch; a reset per env
or a pool of resets; observations from ``step_env``/``reset_env`` or built once from the selected state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def select(done: jax.Array, on_true: Any, on_false: Any) -> Any:
    """Leaf-wise ``where(done, a, b)`` over two pytrees of the same structure; ``done`` is a scalar or a batch
    of flags for the leading axis."""

    done = jnp.asarray(done)

    def leaf(a, b):
        mask = done if done.ndim == 0 else done.reshape(done.shape + (1,) * (jnp.ndim(a) - done.ndim))
        return jnp.where(mask, a, b)

    return jax.tree.map(leaf, on_true, on_false)


def step(
    step_env: Callable,
    reset: Callable,
    is_truncated: Callable,
    key_step: jax.Array,
    key_reset: jax.Array,
    state: Any,
    action: Any,
    params: Any,
    *,
    observe: Callable | None = None,
    privileged: Callable | None = None,
):
    """``(obs, state, reward, terminated, truncated, info)`` with auto-reset, as the contract defines it.

    ``step_env(key, state, action, params) -> (obs, state, reward, terminated, info)``; ``reset(key, params,
    done) -> (obs, state)`` gives the fresh episodes (``done`` lets a pooled reset hand them out);
    ``is_truncated(state, params)``. With ``observe(state, params)``, ``step_env``/``reset`` may return
    ``None`` observations: the observation is built once from the selected state, and the final one only
    when ``info["final_observation"]`` is used. ``privileged(state, params)`` adds the privileged
    observations.
    """
    obs_st, state_st, reward, terminated, info = step_env(key_step, state, action, params)
    terminated = jnp.asarray(terminated, bool)
    truncated = jnp.asarray(is_truncated(state_st, params), bool)
    done = terminated | truncated
    obs_re, state_re = reset(key_reset, params, done)
    new_state = select(done, state_re, state_st)
    info = dict(info)
    if observe is None:
        obs = select(done, obs_re, obs_st)
        info["final_observation"] = obs_st
    else:
        obs = observe(new_state, params)
        info["final_observation"] = observe(state_st, params)
    info["terminated"] = terminated
    info["truncated"] = truncated
    if privileged is not None:
        info["final_privileged_observation"] = privileged(state_st, params)
        info["privileged_observation"] = privileged(new_state, params)
    return obs, new_state, jnp.asarray(reward, jnp.float32), terminated, truncated, info
