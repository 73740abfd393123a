"""Box-action wrappers: clip to the action space, or rescale a canonical [-1, 1] range onto it."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces as gx

from jaxrl_suite.spaces import Box
from jaxrl_suite.wrappers.base import Wrapper


def _box(env, params) -> gx.Box:
    space = env.action_space(params)
    if not isinstance(space, gx.Box):
        raise TypeError(f"{env.name} has {space!r} actions; this wrapper needs Box actions")
    return space


class ClipAction(Wrapper):
    """Clip actions into the Box action space (the policy may output any real vector)."""

    def __init__(self, env):
        super().__init__(env)
        _box(env, env.default_params)  # fail at construction, not under jit

    def step_env(self, key, state, action, params):
        space = _box(self.env, params)
        return self.env.step_env(key, state, jnp.clip(action, space.low, space.high), params)


class RescaleAction(Wrapper):
    """Expose actions in ``[low, high]`` (default [-1, 1]) and map them affinely onto the env's Box."""

    def __init__(self, env, low: float = -1.0, high: float = 1.0):
        super().__init__(env)
        space = _box(env, env.default_params)
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ValueError(f"{env.name}: cannot rescale onto an unbounded action space")
        if not low < high:
            raise ValueError(f"RescaleAction needs low < high, got {low}, {high}")
        self.low, self.high = float(low), float(high)

    def action_space(self, params):
        return Box(self.low, self.high, _box(self.env, params).shape)

    def step_env(self, key, state, action, params):
        space = _box(self.env, params)
        frac = (jnp.clip(action, self.low, self.high) - self.low) / (self.high - self.low)
        return self.env.step_env(key, state, space.low + frac * (space.high - space.low), params)
