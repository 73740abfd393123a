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
        obs, env_state, reward, terminated, info = self.env.step_env(key, state.env_state, action, params)
        ret = state.episode_return + jnp.asarray(reward, jnp.float32)
        length = state.episode_length + 1
        done = jnp.asarray(terminated, bool) | jnp.asarray(self.env.is_truncated(env_state, params), bool)
        info = {**info, "episode": {"return": ret, "length": length, "done": done}}
        return obs, EpisodeStatsState(env_state, ret, length), reward, terminated, info


def mean_finished(info_episode: dict) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(mean return, mean length, count) over the episodes flagged done in a batch of ``info["episode"]``."""
    done = info_episode["done"].astype(jnp.float32)
    count = done.sum()
    denom = jnp.maximum(count, 1.0)
    mean_ret = (info_episode["return"] * done).sum() / denom
    mean_len = (info_episode["length"].astype(jnp.float32) * done).sum() / denom
    return jnp.where(count > 0, mean_ret, jnp.nan), jnp.where(count > 0, mean_len, jnp.nan), count
