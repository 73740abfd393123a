"""Episode statistics: return and length of each finished episode, with an explicit validity flag."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite.wrappers.base import StatefulWrapper


@struct.dataclass
class EpisodeStatsState:
    env_state: object
    episode_return: jax.Array
    episode_length: jax.Array


class EpisodeStatistics(StatefulWrapper):
    """Adds ``info["episode"] = {"return", "length", "done"}`` to every step.

    ``return``/``length`` are those of the episode that ended on this step and are meaningful only where
    ``done`` is true; average them with ``done`` as the mask (no ambiguous zero before the first episode ends).
    Apply it outermost (after any TimeLimit) so it sees every way an episode can end.
    """

    def reset_env(self, key, params):
        obs, env_state = self.env.reset_env(key, params)
        return obs, EpisodeStatsState(env_state, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))

    def step_env(self, key, state, action, params):
        return self._count(self.env.step_env(key, state.env_state, action, params), state, params)

    def _count(self, stepped, state, params):
        obs, env_state, reward, terminated, info = stepped
        ret = state.episode_return + jnp.asarray(reward, jnp.float32)
        length = state.episode_length + 1
        done = jnp.asarray(terminated, bool) | jnp.asarray(self.env.is_truncated(env_state, params), bool)
        info = {**info, "episode": {"return": ret, "length": length, "done": done}}
        return obs, EpisodeStatsState(env_state, ret, length), reward, terminated, info

    def __getattr__(self, name):
        # the inner env's state-only protocol (observation built once by the caller), when it has one
        if name in ("observe_state", "step_state", "reset_state") and hasattr(self.env, name):
            return getattr(self, "_" + name)
        return super().__getattr__(name)

    def _observe_state(self, state, params):
        return self.env.observe_state(state.env_state, params)

    def _step_state(self, key, state, action, params):
        return self._count(self.env.step_state(key, state.env_state, action, params), state, params)

    def _reset_state(self, key, params):
        _, env_state = self.env.reset_state(key, params)
        return None, EpisodeStatsState(env_state, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))


def mean_finished(info_episode: dict) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(mean return, mean length, count) over the episodes flagged done in a batch of ``info["episode"]``."""
    done = info_episode["done"].astype(jnp.float32)
    count = done.sum()
    denom = jnp.maximum(count, 1.0)
    mean_ret = (info_episode["return"] * done).sum() / denom
    mean_len = (info_episode["length"].astype(jnp.float32) * done).sum() / denom
    return jnp.where(count > 0, mean_ret, jnp.nan), jnp.where(count > 0, mean_len, jnp.nan), count
