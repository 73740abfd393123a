"""The level buffer of Prioritized Level Replay (Jiang et al. 2021, "Prioritized Level Replay"; robust PLR and
ACCEL use the same one): a fixed-capacity pytree of levels with scores and staleness, part of the learner's
state, so seeds vmap and runs checkpoint and resume exactly.

Replay distribution: ``P = (1 - rho) * P_score + rho * P_staleness`` over filled slots, with
``P_score ∝ h(score) ** (1 / temperature)`` (rank: ``h = 1 / rank``, ranks from 1, so never a division by
zero; top-k: ``h = 1`` on the k best) and ``P_staleness ∝ clock - last_sampled``. Empty slots have weight 0;
an empty buffer never replays. A new level enters a free slot, or replaces the lowest-scoring level when its
score is higher. Scores are finite by construction (see ``algos/ued/scores.py``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class PLRParams:
    """Replay hyperparameters (dynamic: vmappable). Defaults are robust PLR's for mazes (Jiang et al. 2021b)."""

    replay_prob: float = 0.8
    staleness_coef: float = 0.3
    temperature: float = 0.3
    min_fill: float = 0.5  # replay only once this fraction of the buffer is filled
    topk: int = 0  # 0: rank prioritisation; k > 0: uniform over the k best scores


@struct.dataclass
class LevelBuffer:
    """``capacity`` slots; ``levels`` is any level pytree with a leading ``[capacity]`` axis."""

    levels: Any
    scores: jax.Array  # f32[C]
    max_returns: jax.Array  # f32[C]: the best episode return seen on each level (for MaxMC)
    last_sampled: jax.Array  # i32[C]: clock when the level was last inserted or replayed
    filled: jax.Array  # bool[C]
    clock: jax.Array  # i32: one tick per sampling or insertion round

    @property
    def capacity(self) -> int:
        return int(self.scores.shape[-1])

    @property
    def size(self) -> jax.Array:
        return self.filled.sum()


def empty(template: Any, capacity: int) -> LevelBuffer:
    """An empty buffer whose slots have the shape of the ``template`` level."""
    if capacity < 1:
        raise ValueError(f"buffer capacity must be >= 1, got {capacity}")
    levels = jax.tree.map(lambda x: jnp.zeros((capacity,) + jnp.shape(x), jnp.asarray(x).dtype), template)
    return LevelBuffer(
        levels=levels,
        scores=jnp.zeros((capacity,), jnp.float32),
        max_returns=jnp.full((capacity,), -jnp.inf, jnp.float32),
        last_sampled=jnp.zeros((capacity,), jnp.int32),
        filled=jnp.zeros((capacity,), bool),
        clock=jnp.zeros((), jnp.int32),
    )


def weights(buf: LevelBuffer, p: PLRParams) -> jax.Array:
    """f32[C]: the replay distribution (zeros while the buffer is empty)."""
    filled = buf.filled
    masked = jnp.where(filled, buf.scores, -jnp.inf)
    order = jnp.argsort(-masked, stable=True)  # best first; ties keep slot order
    rank = jnp.zeros_like(order).at[order].set(jnp.arange(1, order.size + 1))
    topk = jnp.asarray(p.topk)
    h = jnp.where(topk > 0, (rank <= topk).astype(jnp.float32), 1.0 / rank)
    score_w = jnp.where(filled, h ** (1.0 / p.temperature), 0.0)
    stale = jnp.where(filled, (buf.clock - buf.last_sampled).astype(jnp.float32), 0.0)
    return (1.0 - p.staleness_coef) * _normalise(score_w) + p.staleness_coef * _normalise(stale, filled)


def _normalise(w: jax.Array, fallback: jax.Array | None = None) -> jax.Array:
    """``w / sum(w)``; where the sum is 0, uniform over ``fallback`` (or all zeros)."""
    total = w.sum()
    uniform = jnp.zeros_like(w) if fallback is None else fallback / jnp.maximum(fallback.sum(), 1)
    return jnp.where(total > 0, w / jnp.where(total > 0, total, 1.0), uniform)


def should_replay(buf: LevelBuffer, key: jax.Array, p: PLRParams) -> jax.Array:
    """Replay this round: the buffer is filled past ``min_fill`` and a coin with ``replay_prob`` says so."""
    enough = (buf.size >= jnp.maximum(1, jnp.ceil(p.min_fill * buf.capacity))) & (buf.size > 0)
    return enough & (jax.random.uniform(key) < p.replay_prob)


def sample(buf: LevelBuffer, key: jax.Array, n: int, p: PLRParams) -> tuple[LevelBuffer, jax.Array, Any]:
    """``n`` slots drawn (with replacement) from ``weights``: ``(buffer with their staleness reset,
    indices, levels)``. Call only when ``should_replay``; on an empty buffer the indices are arbitrary."""
    w = weights(buf, p)
    idx = jax.random.choice(key, buf.capacity, (n,), p=jnp.where(w.sum() > 0, w, 1.0 / buf.capacity))
    clock = buf.clock + 1
    buf = buf.replace(clock=clock, last_sampled=buf.last_sampled.at[idx].set(clock))
    return buf, idx, jax.tree.map(lambda x: x[idx], buf.levels)


def update(buf: LevelBuffer, idx: jax.Array, scores: jax.Array, max_returns: jax.Array) -> LevelBuffer:
    """New scores for replayed slots ``idx`` (a slot drawn twice keeps the last); the best return grows."""
    best = buf.max_returns.at[idx].max(max_returns)
    return buf.replace(scores=buf.scores.at[idx].set(scores), max_returns=best)


def insert(buf: LevelBuffer, levels: Any, scores: jax.Array, max_returns: jax.Array) -> LevelBuffer:
    """Offer new levels one by one: each takes a free slot, or replaces the lowest-scoring level when its
    score is strictly higher (otherwise it is dropped)."""
    clock = buf.clock + 1

    def offer(buf: LevelBuffer, new):
        level, score, ret = new
        lowest = jnp.argmin(jnp.where(buf.filled, buf.scores, jnp.inf))
        free = jnp.argmin(buf.filled)  # first free slot
        has_free = ~buf.filled.all()
        slot = jnp.where(has_free, free, lowest)
        take = has_free | (score > buf.scores[lowest])
        put = lambda a, v: a.at[slot].set(jnp.where(take, v, a[slot]))  # noqa: E731  (one slot written)
        buf = buf.replace(
            levels=jax.tree.map(put, buf.levels, level),
            scores=put(buf.scores, score),
            max_returns=put(buf.max_returns, ret),
            last_sampled=put(buf.last_sampled, clock),
            filled=put(buf.filled, True),
        )
        return buf, take

    buf, _ = jax.lax.scan(offer, buf, (levels, scores, max_returns))
    return buf.replace(clock=clock)
