"""Brax locomotion environments under our API (ids ``brax/<name>``): Box actions in [-1, 1].

Brax signals only ``done`` (unhealthy/terminal states); the time limit is ours (``max_steps_in_episode``,
1000 like Brax's ``EpisodeWrapper``), reported as ``truncated``. We use Brax's environments, not its trainer
(brax 0.14.2's trainer breaks with jax >= 0.10). Tested with brax 0.14.2 and jax 0.10.2.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite.adapters.ids import BRAX_ENVS  # noqa: F401  (re-exported)
from jaxrl_suite.env import Environment, EnvParams
from jaxrl_suite.spaces import Box


@struct.dataclass
class BraxParams(EnvParams):
    max_steps_in_episode: int = 1000


@struct.dataclass
class BraxState:
    brax_state: Any
    time: jax.Array


class BraxEnv(Environment):
    """One Brax environment; ``backend`` picks Brax's physics pipeline (static)."""

    def __init__(self, name: str, backend: str | None = None, **brax_kwargs: Any):
        from brax import envs as brax_envs

        if name not in brax_envs._envs:
            raise ValueError(f"unknown brax env {name!r}; known: {sorted(brax_envs._envs)}")
        kwargs = dict(brax_kwargs)
        if backend is not None:
            kwargs["backend"] = backend
        self.brax_name = name
        self.backend = backend
        self._env = brax_envs.get_environment(name, **kwargs)

    @property
    def name(self) -> str:
        return f"brax/{self.brax_name}"

    @property
    def default_params(self) -> BraxParams:
        return BraxParams()

    def observation_space(self, params):
        return Box(-jnp.inf, jnp.inf, (self._env.observation_size,))

    def action_space(self, params):
        return Box(-1.0, 1.0, (self._env.action_size,))

    def reset_env(self, key, params):
        state = self._env.reset(key)
        return state.obs, BraxState(state, jnp.zeros((), jnp.int32))

    def step_env(self, key, state, action, params):
        nxt = self._env.step(state.brax_state, jnp.clip(action, -1.0, 1.0))
        terminated = nxt.done > 0.5
        return nxt.obs, BraxState(nxt, state.time + 1), nxt.reward, terminated, {}

    def is_truncated(self, state, params):
        return state.time >= params.max_steps_in_episode
