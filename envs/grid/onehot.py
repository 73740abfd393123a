"""One-hot grid observations: each cell's (object, colour, state) codes as 11 + 6 + 4 indicator channels.

MiniGrid's image holds integer codes; a network reading them as numbers sees a key (5) as a slightly smaller
ball (6). Baselines for MiniGrid feed one-hot or embedded cells instead, and on ``MiniGrid-MemoryS7-v0`` it
decides whether a GRU learns the task (``experiments/train_memory.py --tasks memory_onehot``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl_suite import spaces
from jaxrl_suite.envs.grid import constants
from jaxrl_suite.wrappers.base import Wrapper

#: indicator channels per cell: object types, colours, states (door states 0-2; a fully observable image keeps
#: the agent's direction, 0-3, there)
SIZES = (len(constants.OBJECT_NAMES), len(constants.COLOR_NAMES_BY_IDX), len(constants.DIR_TO_VEC))


def onehot_image(image: jax.Array) -> jax.Array:
    """float32[..., 21] from uint8[..., 3] codes (a code outside its table gives all zeros)."""
    codes = image.astype(jnp.int32)
    return jnp.concatenate([jax.nn.one_hot(codes[..., i], n) for i, n in enumerate(SIZES)], axis=-1)


class OneHotCells(Wrapper):
    """A grid env whose ``obs["image"]`` is one-hot per cell (``onehot_image``); the rest is unchanged. Keeps
    the grid's state-only protocol, so ``VecEnv`` still builds (and encodes) each observation once."""

    def __init__(self, env):
        super().__init__(env)
        if "image" not in getattr(env.observation_space(env.default_params), "spaces", {}):
            raise ValueError(f"OneHotCells needs a grid env with an 'image' observation, got {env!r}")

    def observation_space(self, params):
        space = self.env.observation_space(params)
        obs = dict(space.spaces)
        obs["image"] = spaces.Box(0.0, 1.0, obs["image"].shape[:-1] + (sum(SIZES),), jnp.float32)
        return spaces.Dict(obs)

    @staticmethod
    def encode(obs: dict) -> dict:
        return {**obs, "image": onehot_image(obs["image"])}

    def reset_env(self, key, params):
        obs, state = self.env.reset_env(key, params)
        return self.encode(obs), state

    def step_env(self, key, state, action, params):
        obs, state, reward, done, info = self.env.step_env(key, state, action, params)
        return self.encode(obs), state, reward, done, info

    def __getattr__(self, name):
        # the inner env's state-only protocol: states pass through, the observation is encoded once
        if name == "observe_state" and hasattr(self.env, name):
            return lambda state, params=None: self.encode(self.env.observe_state(state, params))
        if name in ("step_state", "reset_state") and hasattr(self.env, name):
            return getattr(self.env, name)
        return super().__getattr__(name)
