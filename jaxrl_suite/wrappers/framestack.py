"""Observation stacking: the last ``k`` observations along a new leading axis."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces as gx

from jaxrl_suite.spaces import Box
from jaxrl_suite.wrappers.base import StatefulWrapper


@struct.dataclass
class FrameStackState:
    env_state: object
    frames: jax.Array


class FrameStack(StatefulWrapper):
    """Observation ``[k, *obs_shape]``, oldest first; a new episode starts with ``k`` copies of its first obs."""

    def __init__(self, env, k: int):
        super().__init__(env)
        if int(k) < 1:
            raise ValueError(f"FrameStack needs k >= 1, got {k}")
        if not isinstance(env.observation_space(env.default_params), gx.Box):
            raise TypeError("FrameStack needs a Box observation space")
        self.k = int(k)

    def observation_space(self, params):
        space = self.env.observation_space(params)
        low = jnp.broadcast_to(jnp.asarray(space.low), space.shape)
        high = jnp.broadcast_to(jnp.asarray(space.high), space.shape)
        return Box(jnp.stack([low] * self.k), jnp.stack([high] * self.k), (self.k, *space.shape), space.dtype)

    def reset_env(self, key, params):
        obs, env_state = self.env.reset_env(key, params)
        frames = jnp.repeat(obs[None], self.k, axis=0)
        return frames, FrameStackState(env_state, frames)

    def step_env(self, key, state, action, params):
        obs, env_state, reward, terminated, info = self.env.step_env(key, state.env_state, action, params)
        frames = jnp.concatenate([state.frames[1:], obs[None]], axis=0)
        return frames, FrameStackState(env_state, frames), reward, terminated, info
