"""The environment API: gymnax >= 1.0 semantics, pure functions of (key, state, action, params).

Contract (the gymnax protocol, so gymnax environments run in our code and ours run in gymnax code):

* ``reset(key, params) -> (obs, state)``
* ``step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)``
* ``default_params``: a pytree of *dynamic* parameters (vmappable: you may ``jax.vmap`` over a batch of params).
  Static, shape-setting configuration (grid size, view size, number of drones) is passed to the constructor.
* ``observation_space(params)``, ``action_space(params)``.

Subclasses implement ``reset_env`` and ``step_env(key, state, action, params) -> (obs, state, reward,
terminated, info)``; truncation is ``is_truncated(state, params)`` (by default ``state.time >=
params.max_steps_in_episode``).

**Auto-reset and the final observation.** ``step`` resets automatically: when an episode ends (``terminated``
or ``truncated``) the returned ``obs`` and ``state`` are those of a *fresh* episode, and the true last
observation of the finished episode is in ``info["final_observation"]``. ``terminated`` means the MDP reached a
terminal state (bootstrap with 0); ``truncated`` means it was cut by a time limit (bootstrap with V of
``info["final_observation"]``). Both may be true on the same step; termination then takes precedence. Every
step also reports ``info["terminated"]`` and ``info["truncated"]``. Environments that expose privileged,
noise-free state for an asymmetric critic implement ``privileged_observation(state, params)``; ``step`` then
adds ``info["privileged_observation"]`` (of the returned state) and ``info["final_privileged_observation"]``.

We subclass ``gymnax.environments.environment.Environment`` (rather than define a parallel base) so that any
gymnax-based code (PureJaxRL, rejax, gymnax's wrappers) accepts our environments unchanged, and every gymnax
environment satisfies this contract with no adapter. ``jaxrl_suite.vector.VecEnv`` batches environments and
offers a pooled reset mode for environments whose reset is expensive. All auto-resetting steps (this base
class, the grid envs' fast step, ``VecEnv``) go through one function, ``jaxrl_suite.autoreset.step``.
"""

from __future__ import annotations

from typing import Any

import jax
from flax import struct
from gymnax.environments import environment as gx

from jaxrl_suite import autoreset


@struct.dataclass
class EnvState:
    """Base environment state; ``time`` counts steps in the current episode."""

    time: jax.Array


@struct.dataclass
class EnvParams:
    """Base dynamic parameters; every environment's params carry the episode step limit."""

    max_steps_in_episode: int = 500


select_tree = autoreset.select  # leaf-wise where(pred, a, b) over two pytrees (pred scalar or per-row)


def has_privileged_observation(env: Any) -> bool:
    """Whether ``env`` exposes a privileged (critic-only) observation."""
    return callable(getattr(env, "privileged_observation", None))


class Environment(gx.Environment):
    """Base class of every jaxrl-suite environment (see the module docstring for the contract)."""

    @property
    def default_params(self) -> EnvParams:
        return EnvParams()

    def step(self, key: jax.Array, state: Any, action: Any, params: Any = None):
        """One transition with auto-reset; the finished episode's last obs is ``info["final_observation"]``."""
        if params is None:
            params = self.default_params
        return autoreset_step(self, key, state, action, params)

    def reset(self, key: jax.Array, params: Any = None):
        """Start an episode: ``(obs, state)``."""
        if params is None:
            params = self.default_params
        return self.reset_env(key, params)

    def render(self, state: Any, params: Any) -> jax.Array:
        """An RGB frame ``uint8[H, W, 3]`` of ``state``; environments that can render override this."""
        raise NotImplementedError(f"{self.name} has no renderer")

    @property
    def can_render(self) -> bool:
        return type(self).render is not Environment.render

    def __repr__(self) -> str:
        return f"{self.name}()"


def autoreset_step(env: Any, key: jax.Array, state: Any, action: Any, params: Any):
    """The auto-resetting step of the contract for any environment with the gymnax protocol (one key split
    into the transition's and the reset's; the shared logic is ``jaxrl_suite.autoreset.step``)."""
    key_step, key_reset = jax.random.split(key)
    return autoreset.step(
        env.step_env,
        lambda k, p, done: env.reset_env(k, p),
        env.is_truncated,
        key_step,
        key_reset,
        state,
        action,
        params,
        privileged=env.privileged_observation if has_privileged_observation(env) else None,
    )
