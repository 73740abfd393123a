"""Time limit: truncate episodes after a fixed number of steps (on top of the env's own limit)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite.wrappers.base import StatefulWrapper


@struct.dataclass
class TimeLimitState:
    env_state: object
    elapsed: jax.Array


class TimeLimit(StatefulWrapper):
    """Truncate after ``max_steps`` steps; the inner env's own truncation still applies."""

    def __init__(self, env, max_steps: int):
        super().__init__(env)
        if int(max_steps) < 1:
            raise ValueError(f"TimeLimit needs max_steps >= 1, got {max_steps}")
        self.max_steps = int(max_steps)

    def reset_env(self, key, params):
        obs, env_state = self.env.reset_env(key, params)
        return obs, TimeLimitState(env_state, jnp.zeros((), jnp.int32))

    def step_env(self, key, state, action, params):
        obs, env_state, reward, terminated, info = self.env.step_env(key, state.env_state, action, params)
        return obs, TimeLimitState(env_state, state.elapsed + 1), reward, terminated, info

    def is_truncated(self, state, params):
        return self.env.is_truncated(state.env_state, params) | (state.elapsed >= self.max_steps)
