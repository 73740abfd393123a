"""The last-20-episodes window (``jaxrl_suite.runtime.episodes``) against a plain ``deque(maxlen=20)``."""

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl_suite.runtime.episodes import THRESHOLD_RULE, WINDOW, RecentReturns


def _window(recent: RecentReturns) -> list[float]:
    """The buffer's episodes oldest first (the ring's oldest slot is ``count % WINDOW`` once full)."""
    buf, count = np.asarray(recent.returns), int(recent.count)
    if count < WINDOW:
        return buf[:count].tolist()
    return np.roll(buf, -(count % WINDOW)).tolist()


def _rollouts(seed: int, n: int = 4, steps: int = 16):
    """Random [T, N] rollouts: sparse, none finished, more than WINDOW finished, all finished."""
    rng = np.random.default_rng(seed)
    probs = [0.05, 0.0, 0.2, 0.5, 0.1, 1.0, 0.02, 0.3]
    for p in probs:
        done = rng.random((steps, n)) < p
        returns = rng.integers(0, 500, (steps, n)).astype(np.float32)
        yield returns, done


def test_recent_returns_matches_deque():
    push = jax.jit(RecentReturns.push)
    recent, ref = RecentReturns.zeros(), deque(maxlen=WINDOW)
    sizes = []
    for returns, done in _rollouts(0):
        recent = push(recent, jnp.asarray(returns), jnp.asarray(done))
        ref.extend(returns[done].tolist())  # boolean indexing of [T, N]: time-major, then env index
        sizes.append(int(done.sum()))
        assert int(recent.count) == sum(sizes)
        assert _window(recent) == list(ref)
        mean = float(recent.mean())
        if sum(sizes) < WINDOW:
            assert np.isnan(mean)
        else:
            assert mean == pytest.approx(np.mean(ref), rel=1e-6)
    assert 0 in sizes and max(sizes) > WINDOW  # the cases the rule must get right were exercised


def test_recent_returns_not_full_is_nan_and_vmaps():
    """NaN until WINDOW episodes have finished; a batch of runs vmaps (as in the runtime's run axis)."""
    done = jnp.zeros((3, 5, 4), bool).at[:, 0, :].set(True)  # 4 episodes per rollout per run
    returns = jnp.broadcast_to(jnp.arange(3.0)[:, None, None], (3, 5, 4))
    recent = jax.vmap(lambda _: RecentReturns.zeros())(jnp.arange(3))
    push = jax.jit(jax.vmap(RecentReturns.push))
    for i in range(5):
        recent = push(recent, returns, done)
        means = np.asarray(jax.vmap(RecentReturns.mean)(recent))
        if 4 * (i + 1) < WINDOW:
            assert np.isnan(means).all()
    np.testing.assert_array_equal(means, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(recent.count), [20, 20, 20])
    assert str(WINDOW) in THRESHOLD_RULE
