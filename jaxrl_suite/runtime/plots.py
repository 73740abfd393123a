"""Plots: learning curves (mean and spread over runs) and sweep summaries (final return per setting)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # no pyplot: works headless and leaves a notebook's backend alone


def forward_fill(x: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward along the last axis (updates with no finished episode)."""
    x = np.array(x, dtype=np.float64)
    for idx in np.ndindex(x.shape[:-1]):
        row = x[idx]
        last = np.nan
        for i in range(row.shape[0]):
            if np.isfinite(row[i]):
                last = row[i]
            else:
                row[i] = last
    return x


def learning_curve(
    steps: np.ndarray,
    returns: np.ndarray,
    path: str | Path,
    title: str = "",
    threshold: float | None = None,
    window: np.ndarray | None = None,
) -> Path:
    """``returns[runs, updates]`` against ``steps[updates]``: mean line and min-max band; ``window[runs,
    updates]`` (the mean of each run's last 20 episodes, which the threshold rule reads) as a second line."""
    r = forward_fill(returns)
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    with np.errstate(all="ignore"), warnings.catch_warnings():  # all-NaN columns (diverged runs) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, low, high = np.nanmean(r, axis=0), np.nanmin(r, axis=0), np.nanmax(r, axis=0)
    if r.shape[0] > 1:
        ax.fill_between(steps, low, high, alpha=0.25, label=f"{r.shape[0]} runs: range")
    ax.plot(steps, mean, label="mean return of the update's episodes", lw=1)
    if window is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ax.plot(
                steps,
                np.nanmean(np.asarray(window, np.float64), axis=0),
                lw=2,
                label="mean of last 20 episodes",
            )
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path


def sweep_summary(labels: list[str], finals: np.ndarray, path: str | Path, title: str = "") -> Path:
    """``finals[seeds, settings]``: mean with one-standard-deviation bars and every seed as a dot."""
    fig = Figure(figsize=(max(5, 0.6 * len(labels) + 2), 4), dpi=100)
    ax = fig.subplots()
    x = np.arange(len(labels))
    with warnings.catch_warnings():  # a setting whose seeds all diverged has no point to draw
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, sd = np.nanmean(finals, 0), np.nanstd(finals, 0)
    ax.errorbar(x, mean, yerr=sd, fmt="o", capsize=4, label="mean ± sd (surviving seeds)")
    for s in range(finals.shape[0]):
        ax.scatter(x, finals[s], s=8, color="grey", alpha=0.6)
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("final return")
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path
