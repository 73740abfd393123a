"""Summary statistics over seeds that tolerate NaN (runs without a finished episode) and stay JSON-ready.

One copy for meta-training (``algos/meta``) and the drift evaluation (``experiments/eval_drift.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def nanmean(x, axis: int = -1) -> np.ndarray:
    """Mean over finite entries (NaN where there are none), without numpy's empty-slice warning."""
    x = np.asarray(x, np.float64)
    n = np.isfinite(x).sum(axis)
    total = np.where(np.isfinite(x), x, 0.0).sum(axis)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def ci95(x, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the half-width of a 95% Student-t confidence interval along ``axis`` (NaNs dropped).

    Half-width ``t(0.975, n - 1) * s / sqrt(n)`` with ``s`` the sample standard deviation (ddof 1); it is 0
    for fewer than two finite entries.
    """
    from scipy import stats

    x = np.asarray(x, np.float64)
    n = np.sum(np.isfinite(x), axis=axis)
    mean = nanmean(x, axis=axis)
    dev = np.where(np.isfinite(x), x - np.expand_dims(mean, axis), 0.0)
    se = np.sqrt((dev**2).sum(axis) / np.maximum(n - 1, 1)) / np.sqrt(np.maximum(n, 1))
    return mean, stats.t.ppf(0.975, np.maximum(n - 1, 1)) * se


def ci95_summary(x, per_seed: bool = True) -> dict:
    """``{"mean", "ci95", "per_seed"}`` of one sample (1-D) as JSON-ready floats (None for NaN)."""
    mean, half = ci95(x)
    out = {"mean": finite_or_none(mean), "ci95": finite_or_none(half)}
    if per_seed:
        out["per_seed"] = [finite_or_none(v) for v in np.asarray(x)]
    return out


def welch_diff(a, b) -> dict:
    """``mean(a) - mean(b)`` with the half-width of its 95% Welch interval (unequal variances, Welch-Satterthwaite
    degrees of freedom), JSON-ready: how two methods' per-seed figures compare, not each one's own interval."""
    from scipy import stats

    a, b = (np.asarray(v, np.float64) for v in (a, b))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        diff = a.mean() - b.mean() if len(a) and len(b) else np.nan
        return {"difference": finite_or_none(diff), "ci95": None, "dof": None}
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else len(a) + len(b) - 2
    return {
        "difference": finite_or_none(a.mean() - b.mean()),
        "ci95": finite_or_none(stats.t.ppf(0.975, dof) * se),
        "dof": finite_or_none(dof),
    }


def finite_or_none(x) -> float | None:
    """``float(x)``, or None where it is NaN or infinite (JSON has no NaN)."""
    x = float(x)
    return x if np.isfinite(x) else None


def finite_stat(fn: Callable, x) -> float | None:
    """``fn(x)`` (e.g. ``np.nanmax``) as a finite float, or None where ``x`` has no finite entry."""
    return finite_or_none(fn(x)) if np.isfinite(x).any() else None


def censored_spread(values: list) -> dict:
    """Min/median/max over seeds of a per-seed figure where None means censored (never reached): it counts as
    +inf, so a statistic it decides is None. Keeps ``per_seed``."""
    arr = np.array([np.inf if v is None else v for v in values], dtype=np.float64)
    stat = lambda f: None if not np.isfinite(f(arr)) else float(f(arr))  # noqa: E731
    return {"min": stat(np.min), "median": stat(np.median), "max": stat(np.max), "per_seed": list(values)}
