"""Regret estimates that rank levels for replay, from one rollout ``[T, N]`` in which env n plays one level
(episodes restart on the same level). Both are finite for every level, including one on which no episode
finished (JaxUED's MaxMC gave such levels -inf, which then entered the buffer).

- Positive value loss (Jiang et al. 2021, "Replay-Guided Adversarial Environment Design"): the mean of the
  GAE advantages clipped at 0.
- MaxMC (Jiang et al. 2021): the mean of ``best return - V(s_t)``, where the best return is the highest
  episode return the level has ever given (stored in the buffer); with none yet, the rollout's highest value
  estimate stands in, so the score stays finite and non-negative.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def positive_value_loss(advantages: jax.Array) -> jax.Array:
    """f32[N] from GAE advantages ``[T, N]``."""
    return jnp.maximum(advantages, 0.0).mean(axis=0)


def episode_returns_max(rewards: jax.Array, done: jax.Array, best: jax.Array | None = None) -> jax.Array:
    """f32[N]: the highest undiscounted return of the episodes that ended in the rollout (episodes start
    with it), combined with the stored ``best``; -inf where neither exists."""

    def step(ret, x):
        r, d = x
        ret = ret + r
        return jnp.where(d, 0.0, ret), jnp.where(d, ret, -jnp.inf)

    _, finished = jax.lax.scan(step, jnp.zeros(rewards.shape[1:], rewards.dtype), (rewards, done))
    out = finished.max(axis=0)
    return out if best is None else jnp.maximum(out, best)


def max_mc(values: jax.Array, best: jax.Array) -> jax.Array:
    """f32[N]: ``mean_t(best - V(s_t))``; where no episode has ever finished, ``best`` is the rollout's
    highest value estimate."""
    best = jnp.where(jnp.isfinite(best), best, values.max(axis=0))
    return (best[None] - values).mean(axis=0)


SCORES = ("pvl", "maxmc")


def score(kind: str, advantages: jax.Array, values: jax.Array, best: jax.Array) -> jax.Array:
    """The named score for each env's level (``kind`` static: ``"pvl"`` or ``"maxmc"``)."""
    if kind == "pvl":
        return positive_value_loss(advantages)
    if kind == "maxmc":
        return max_mc(values, best)
    raise ValueError(f"unknown score {kind!r}; choose from {SCORES}")
