"""Divergence detection: non-finite losses or parameters, told apart from "no episode finished".

Episode metrics (``return``, ``length``, ``return_last20``) are NaN by design in an update where no episode
finished; every other metric, the episode metrics of an update where episodes did finish, and the learner's
parameters must stay finite. The first update that breaks this is the run's divergence update.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

EPISODE_METRICS = frozenset({"return", "length", "return_last20"})
NOT_DIVERGED = np.iinfo(np.int64).max


def params_finite(state: Any) -> jax.Array:
    """True when every float leaf of the learner's parameters (``state.params`` if present) is finite."""
    tree = getattr(state, "params", state)
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
    if not leaves:
        return jnp.asarray(True)
    return jnp.all(jnp.stack([jnp.isfinite(x).all() for x in leaves]))


def bad_updates(metrics: dict[str, np.ndarray], episode_metrics: frozenset = EPISODE_METRICS) -> np.ndarray:
    """``[runs, chunk]`` mask of updates with a non-finite value that is not a legitimate "no episode" NaN
    (``episode_metrics``: the names that may be NaN where nothing finished; a learner may extend them)."""
    some = next(iter(metrics.values()))
    bad = np.zeros(np.shape(some)[:2], bool)
    finished = np.asarray(metrics["episodes"]) > 0 if "episodes" in metrics else None
    for name, arr in metrics.items():
        nonfinite = ~np.isfinite(np.asarray(arr, np.float64))
        if name == "return_last20":
            continue
        if name in episode_metrics:
            if finished is None:
                continue
            nonfinite &= finished
        bad |= nonfinite
    return bad


def first_divergence(
    metrics: dict[str, np.ndarray],
    state_ok: np.ndarray,
    first_update: int,
    episode_metrics: frozenset = EPISODE_METRICS,
) -> np.ndarray:
    """Per run: the first update (absolute index) of the chunk that diverged, else ``NOT_DIVERGED``.

    Parameters found non-finite only at the end of the chunk date the divergence to its last update.
    """
    bad = bad_updates(metrics, episode_metrics)
    n = bad.shape[1]
    first = np.where(bad.any(axis=1), bad.argmax(axis=1), np.where(np.asarray(state_ok), n, n - 1))
    return np.where(first < n, first_update + first, NOT_DIVERGED).astype(np.int64)
