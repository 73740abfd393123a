"""Running-statistics normalisation over a batch of environments (state lives in the vec-env state).

Statistics are shared across the batch and updated with every batch of observations (Welford/Chan parallel
update), like PureJaxRL's ``NormalizeVecObservation``/``NormalizeVecReward``. ``update=False`` freezes them
(for evaluation). Learners that keep the statistics in their own (checkpointed) state, like PPO, call the
same pieces: ``RunningMeanStd.update``/``normalize`` and ``normalize_reward``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces as gx

from jaxrl_suite.spaces import Box


@struct.dataclass
class RunningMeanStd:
    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> RunningMeanStd:
        return cls(
            jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32), jnp.asarray(1e-4, jnp.float32)
        )

    def update(self, batch: jax.Array) -> RunningMeanStd:
        """Merge a batch (leading axis) into the running moments."""
        n = jnp.asarray(batch.shape[0], jnp.float32)
        b_mean, b_var = batch.mean(0), batch.var(0)
        delta = b_mean - self.mean
        total = self.count + n
        mean = self.mean + delta * n / total
        m2 = self.var * self.count + b_var * n + delta**2 * self.count * n / total
        return RunningMeanStd(mean, m2 / total, total)

    def normalize(self, x: jax.Array, clip: float = 10.0, eps: float = 1e-8) -> jax.Array:
        """``x`` standardised by these moments, clipped to ``[-clip, clip]``."""
        return jnp.clip((x - self.mean) / jnp.sqrt(self.var + eps), -clip, clip)


def normalize_reward(
    rms: RunningMeanStd, discounted: jax.Array, reward: jax.Array, done: jax.Array, gamma, eps: float = 1e-8
) -> tuple[jax.Array, jax.Array, RunningMeanStd]:
    """Rewards divided by the running std of the discounted return (gymnasium's ``NormalizeReward``):
    ``(reward, discounted return, rms)``, the return restarting where ``done``."""
    discounted = discounted * gamma + reward
    rms = rms.update(discounted)
    reward = reward / jnp.sqrt(rms.var + eps)
    return reward, jnp.where(done, 0.0, discounted), rms


@struct.dataclass
class NormalizeObsState:
    env_state: Any
    obs_rms: RunningMeanStd


class NormalizeObservation:
    """Normalise Box observations of a ``VecEnv`` to ~N(0, 1) using running statistics, then clip."""

    def __init__(self, venv: Any, clip: float = 10.0, eps: float = 1e-8, update: bool = True):
        space = venv.observation_space(venv.default_params)
        if not isinstance(space, gx.Box):
            raise TypeError(f"NormalizeObservation needs Box observations, got {space!r}")
        self.venv, self.clip, self.eps, self.update = venv, float(clip), float(eps), bool(update)
        self.num_envs = venv.num_envs
        self._shape = tuple(space.shape)

    def __getattr__(self, name: str) -> Any:
        if name == "venv":
            raise AttributeError(name)
        return getattr(self.venv, name)

    def observation_space(self, params: Any):
        return Box(-self.clip, self.clip, self._shape)

    def normalize(self, obs: jax.Array, rms: RunningMeanStd) -> jax.Array:
        return rms.normalize(obs, self.clip, self.eps)

    def privileged_observation(self, state: NormalizeObsState, params: Any) -> jax.Array:
        return self.venv.privileged_observation(state.env_state, params)

    def reset(self, key: jax.Array, params: Any = None):
        obs, env_state = self.venv.reset(key, params)
        rms = RunningMeanStd.zeros(self._shape)
        rms = rms.update(obs) if self.update else rms
        return self.normalize(obs, rms), NormalizeObsState(env_state, rms)

    def step(self, key: jax.Array, state: NormalizeObsState, action: Any, params: Any = None):
        obs, env_state, reward, terminated, truncated, info = self.venv.step(
            key, state.env_state, action, params
        )
        rms = state.obs_rms.update(obs) if self.update else state.obs_rms
        info = {**info, "final_observation": self.normalize(info["final_observation"], rms)}
        return (
            self.normalize(obs, rms),
            NormalizeObsState(env_state, rms),
            reward,
            terminated,
            truncated,
            info,
        )


@struct.dataclass
class NormalizeRewardState:
    env_state: Any
    discounted_return: jax.Array  # [num_envs]
    return_rms: RunningMeanStd


class NormalizeReward:
    """Scale the rewards of a ``VecEnv`` by the running std of each env's discounted return (shared
    statistics); ``info["reward"]`` keeps the raw reward."""

    def __init__(self, venv: Any, gamma: float = 0.99, eps: float = 1e-8):
        self.venv, self.gamma, self.eps = venv, float(gamma), float(eps)
        self.num_envs = venv.num_envs

    def __getattr__(self, name: str) -> Any:
        if name == "venv":
            raise AttributeError(name)
        return getattr(self.venv, name)

    def privileged_observation(self, state: NormalizeRewardState, params: Any) -> jax.Array:
        return self.venv.privileged_observation(state.env_state, params)

    def reset(self, key: jax.Array, params: Any = None):
        obs, env_state = self.venv.reset(key, params)
        zeros = jnp.zeros((self.num_envs,), jnp.float32)
        return obs, NormalizeRewardState(env_state, zeros, RunningMeanStd.zeros(()))

    def step(self, key: jax.Array, state: NormalizeRewardState, action: Any, params: Any = None):
        obs, env_state, reward, terminated, truncated, info = self.venv.step(
            key, state.env_state, action, params
        )
        scaled, disc, rms = normalize_reward(
            state.return_rms, state.discounted_return, reward, terminated | truncated, self.gamma, self.eps
        )
        info = {**info, "reward": reward}
        return obs, NormalizeRewardState(env_state, disc, rms), scaled, terminated, truncated, info
