"""Expose any jaxrl-suite (or gymnax) environment as a ``gymnasium.Env`` or ``gymnasium.vector.VectorEnv``.

So gymnasium tools (stable-baselines3, gymnasium's wrappers and checkers) run on our environments. Reset and
step are jit-compiled once; arrays cross to NumPy at the boundary.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import jax
import numpy as np
from gymnasium.vector import AutoresetMode

from jaxrl_suite.spaces import to_gymnasium_space
from jaxrl_suite.vector import VecEnv


def _np(tree: Any) -> Any:
    return jax.tree.map(np.asarray, tree)


class GymnasiumEnv(gymnasium.Env):
    """One environment; episodes end as in gymnasium (call ``reset`` after terminated or truncated)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, env: Any, params: Any = None, seed: int = 0, render_mode: str | None = None):
        self._env = env
        self._params = env.default_params if params is None else params
        self.observation_space = to_gymnasium_space(env.observation_space(self._params))
        self.action_space = to_gymnasium_space(env.action_space(self._params))
        self.render_mode = render_mode
        self._key = jax.random.key(seed)
        self._reset = jax.jit(env.reset_env)

        def step(key, state, action, params):
            obs, state, reward, terminated, info = env.step_env(key, state, action, params)
            return obs, state, reward, terminated, env.is_truncated(state, params), info

        self._step = jax.jit(step)
        self._state = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._key = jax.random.key(seed)
        self._key, key = jax.random.split(self._key)
        obs, self._state = self._reset(key, self._params)
        return _np(obs), {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        self._key, key = jax.random.split(self._key)
        obs, self._state, reward, terminated, truncated, info = self._step(
            key, self._state, action, self._params
        )
        return _np(obs), float(reward), bool(terminated), bool(truncated), _np(info)

    def render(self):
        if self._state is None:
            raise RuntimeError("call reset() before render()")
        return np.asarray(self._env.render(self._state, self._params))


class GymnasiumVectorEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` environments, auto-reset in the same step; final observations in ``info["final_obs"]``."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, env: Any, num_envs: int, params: Any = None, seed: int = 0):
        self._venv = VecEnv(env, num_envs)
        self._params = env.default_params if params is None else params
        self.num_envs = int(num_envs)
        self.single_observation_space = to_gymnasium_space(env.observation_space(self._params))
        self.single_action_space = to_gymnasium_space(env.action_space(self._params))
        self.observation_space = gymnasium.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gymnasium.vector.utils.batch_space(self.single_action_space, num_envs)
        self._key = jax.random.key(seed)
        self._reset = jax.jit(self._venv.reset)
        self._step = jax.jit(self._venv.step)
        self._state = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._key = jax.random.key(seed)
        self._key, key = jax.random.split(self._key)
        obs, self._state = self._reset(key, self._params)
        return _np(obs), {}

    def step(self, actions):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        self._key, key = jax.random.split(self._key)
        obs, self._state, reward, terminated, truncated, info = self._step(
            key, self._state, actions, self._params
        )
        info = _np(info)
        done = np.logical_or(terminated, truncated)
        info["final_obs"] = info.pop("final_observation")
        info["_final_obs"] = np.asarray(done)
        return _np(obs), np.asarray(reward), np.asarray(terminated), np.asarray(truncated), info


def to_gymnasium(env: Any, num_envs: int | None = None, params: Any = None, seed: int = 0, **kwargs):
    """A ``gymnasium.Env`` (``num_envs=None``) or a same-step auto-resetting ``VectorEnv`` over ``env``."""
    if num_envs is None:
        return GymnasiumEnv(env, params=params, seed=seed, **kwargs)
    return GymnasiumVectorEnv(env, int(num_envs), params=params, seed=seed)
