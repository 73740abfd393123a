"""Batched environments: ``num_envs`` copies stepped in lock-step under ``vmap``, with a choice of reset mode.

``reset_mode="always"`` computes a fresh reset for every env on every step and keeps it where an episode ended
(gymnax's behaviour; exact). ``reset_mode="pooled"`` computes only ``pool_size`` resets per step and hands them
to the envs that finished, in order: the first ``pool_size`` finished envs each get a distinct fresh episode,
further ones share (each still a correctly distributed episode). For environments whose reset is expensive
(procedural level generation) this saves most of the reset cost at the price of occasional duplicates.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl_suite.env import has_privileged_observation


def _select(done: jax.Array, on_true: Any, on_false: Any) -> Any:
    def leaf(a, b):
        mask = done.reshape(done.shape + (1,) * (a.ndim - done.ndim))
        return jnp.where(mask, a, b)

    return jax.tree.map(leaf, on_true, on_false)


class VecEnv:
    """``num_envs`` environments sharing one params pytree; arrays carry a leading batch axis."""

    def __init__(self, env: Any, num_envs: int, reset_mode: str = "always", pool_size: int | None = None):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if reset_mode not in ("always", "pooled"):
            raise ValueError(f"reset_mode must be 'always' or 'pooled', got {reset_mode!r}")
        self.env = env
        self.num_envs = int(num_envs)
        self.reset_mode = reset_mode
        if reset_mode == "pooled":
            pool_size = max(1, self.num_envs // 8) if pool_size is None else int(pool_size)
            if not 1 <= pool_size <= self.num_envs:
                raise ValueError(f"pool_size must be in [1, num_envs={self.num_envs}], got {pool_size}")
        self.pool_size = pool_size

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def observation_space(self, params: Any):
        """The space of one env's observation (the batch adds a leading axis)."""
        return self.env.observation_space(params)

    def action_space(self, params: Any):
        return self.env.action_space(params)

    @property
    def has_privileged_observation(self) -> bool:
        return has_privileged_observation(self.env)

    def privileged_observation(self, state: Any, params: Any) -> jax.Array:
        return jax.vmap(self.env.privileged_observation, in_axes=(0, None))(state, params)

    def reset(self, key: jax.Array, params: Any = None):
        params = self.env.default_params if params is None else params
        keys = jax.random.split(key, self.num_envs)
        return jax.vmap(self.env.reset_env, in_axes=(0, None))(keys, params)

    def step(self, key: jax.Array, state: Any, action: Any, params: Any = None):
        """Batched auto-resetting step; same outputs and ``info`` keys as ``Environment.step``."""
        params = self.env.default_params if params is None else params
        key_step, key_reset = jax.random.split(key)
        keys = jax.random.split(key_step, self.num_envs)
        obs_st, state_st, reward, terminated, info = jax.vmap(self.env.step_env, in_axes=(0, 0, 0, None))(
            keys, state, action, params
        )
        terminated = jnp.asarray(terminated, bool)
        truncated = jnp.asarray(jax.vmap(self.env.is_truncated, in_axes=(0, None))(state_st, params), bool)
        done = terminated | truncated
        if self.reset_mode == "always":
            obs_re, state_re = self.reset(key_reset, params)
        else:
            pool_keys = jax.random.split(key_reset, self.pool_size)
            pool_obs, pool_state = jax.vmap(self.env.reset_env, in_axes=(0, None))(pool_keys, params)
            slot = jnp.where(done, (jnp.cumsum(done) - 1) % self.pool_size, 0)
            obs_re, state_re = jax.tree.map(lambda x: x[slot], (pool_obs, pool_state))
        new_state = _select(done, state_re, state_st)
        info = dict(info)
        info["final_observation"] = obs_st
        info["terminated"] = terminated
        info["truncated"] = truncated
        if self.has_privileged_observation:
            info["final_privileged_observation"] = self.privileged_observation(state_st, params)
            info["privileged_observation"] = self.privileged_observation(new_state, params)
        obs = _select(done, obs_re, obs_st)
        return obs, new_state, jnp.asarray(reward, jnp.float32), terminated, truncated, info

    def __repr__(self) -> str:
        return f"VecEnv({self.env!r}, num_envs={self.num_envs}, reset_mode={self.reset_mode!r})"
