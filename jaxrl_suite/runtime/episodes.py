"""One rule for "time to threshold": the mean return of a run's last ``WINDOW`` finished episodes.

A per-update mean over the few episodes that happen to end in one rollout is noisy (one long lucky episode
can cross a threshold), and every tool counts differently; stable-baselines3 reports the mean of its last
episodes. ``RecentReturns`` keeps a run's last ``WINDOW`` finished-episode returns inside the compiled loop
(a small ring buffer in the learner state), so the rule is evaluated on device, per update, for every run.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

WINDOW = 20
METRIC = f"return_last{WINDOW}"  # the learners' metric holding RecentReturns.mean() after each update
THRESHOLD_RULE = (
    f"mean return of the last {WINDOW} finished episodes of a run >= threshold "
    "(the first update where it holds)"
)


@struct.dataclass
class RecentReturns:
    """The returns of a run's last ``WINDOW`` finished episodes (a ring buffer) and how many have finished.

    Slot ``(k % WINDOW)`` holds the k-th finished episode (k counted from 0); ``count`` is the total number
    of finished episodes so far, so once ``count >= WINDOW`` the buffer holds exactly the last ``WINDOW``.
    """

    returns: jax.Array  # float32 [WINDOW]
    count: jax.Array  # int32 []: episodes finished in total

    @classmethod
    def zeros(cls, window: int = WINDOW) -> RecentReturns:
        """An empty window (no episode finished yet)."""
        return cls(jnp.zeros((window,), jnp.float32), jnp.zeros((), jnp.int32))

    def push(self, returns: jax.Array, done: jax.Array) -> RecentReturns:
        """Add the episodes finished in one rollout: ``returns``/``done`` are ``[T, N]``, time-major.

        Episodes enter in order (time step, then env index), as a sequential logger would see them. Only
        the last ``WINDOW`` of this rollout can survive, so earlier ones are masked out before one scatter
        whose indices are all distinct (dropped entries get distinct out-of-range slots): no duplicate-index
        scatter, whose winner would be unspecified.
        """
        window = self.returns.shape[-1]
        done = jnp.asarray(done, bool).reshape(-1)
        returns = jnp.asarray(returns, jnp.float32).reshape(-1)
        rank = jnp.cumsum(done, dtype=jnp.int32) - 1  # order of each finished episode within the rollout
        finished = rank[-1] + 1 if done.size else jnp.zeros((), jnp.int32)
        keep = done & (rank >= finished - window)
        slot = (self.count + rank) % window
        idx = jnp.where(keep, slot, window + jnp.arange(done.size, dtype=jnp.int32))
        new = self.returns.at[idx].set(returns, mode="drop", unique_indices=True)
        return RecentReturns(new, self.count + finished)

    def mean(self) -> jax.Array:
        """Mean of the window; NaN until ``WINDOW`` episodes have finished in total."""
        window = self.returns.shape[-1]
        return jnp.where(self.count >= window, self.returns.mean(), jnp.nan)
