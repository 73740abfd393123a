"""Test support: comparing pytrees bit for bit (PRNG keys by their data), a run stopped and resumed, and a
small state to checkpoint."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.runtime import train_runs


def raw(x):
    """An array's comparable value: a typed PRNG key's data, anything else as is."""
    return jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def assert_trees_equal(a, b) -> None:
    """Every leaf equal, bit for bit (NaN where NaN)."""
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(raw(x)), np.asarray(raw(y)))


def trees_equal(a, b) -> bool:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return all(np.array_equal(np.asarray(raw(x)), np.asarray(raw(y)), equal_nan=True) for x, y in pairs)


def whole_and_resumed(learner, keys, hparams, tmp_path, chunk_updates: int):
    """The same runs uninterrupted, and stopped after one chunk then resumed: ``(whole, resumed)``."""
    kw = dict(chunk_updates=chunk_updates, progress=False)
    whole = train_runs(learner, keys, hparams, out_dir=tmp_path / "whole", **kw)
    train_runs(learner, keys, hparams, out_dir=tmp_path / "resumed", stop_after_chunks=1, **kw)
    resumed = train_runs(learner, keys, hparams, out_dir=tmp_path / "resumed", resume=True, **kw)
    return whole, resumed


def make_state(seed: float = 0.0) -> dict:
    """A few float arrays (one big enough to sit in its own data file), an empty one, and a PRNG key."""
    w = np.random.default_rng(int(seed)).normal(size=(64, 64)).astype(np.float32)
    return {
        "w": jnp.asarray(w),
        "b": jnp.full(3, seed, jnp.float32),
        "opt": {"mu": jnp.zeros((2, 5)), "count": jnp.asarray(7, jnp.int32)},
        "empty": jnp.zeros((0, 4)),
        "key": jax.random.key(int(seed)),
    }
