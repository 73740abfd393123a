"""What a meta-training run reports: the held-out comparison with PPO and DPO, the fitness plot, the files."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np

from jaxrl_suite.algos.meta.config import MetaConfig
from jaxrl_suite.algos.meta.problem import DriftMeta
from jaxrl_suite.stats import ci95_summary


def evaluate_methods(meta: DriftMeta, drift_params: dict, key: jax.Array) -> tuple[dict, dict]:
    """Learned drift vs PPO vs DPO on the held-out seeds: per env mean, 95% CI and per-seed finals.

    "mean"/"ci95"/"per_seed" follow the fitness's definition; "final_return" is the return over the last 10% of
    updates whatever the fitness (the same as the fitness under the default ``fitness_tail``).

    Returns ``(table, runs)``: ``table[env][method]`` is JSON-ready, ``runs`` is ``DriftMeta.evaluate``'s output.
    """
    res = meta.evaluate(
        {
            "learned": meta.method_hparams("learned", drift_params),
            "ppo": meta.method_hparams("ppo"),
            "dpo": meta.method_hparams("dpo"),
        },
        meta.eval_keys(key),
    )
    out = {}
    for i, env_id in enumerate(meta.config.envs):
        out[env_id] = {}
        for name, r in res.items():
            out[env_id][name] = {
                **ci95_summary(r["final"][i]),
                "final_return": ci95_summary(r["final_return"][i]),
            }
    return out, res


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """One JSON object per row, the file rewritten whole (a resumed run's history replaces the old one)."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def fitness_plot(history: list[dict], path: Path, title: str = "", reference: float | None = None) -> Path:
    """Population fitness (mean and range) and the ES mean on held-out seeds; ``reference``: PPO's level there."""
    from matplotlib.figure import Figure

    g = [r["generation"] for r in history]
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    mean = np.array([np.nan if r["fitness_mean"] is None else r["fitness_mean"] for r in history])
    lo = np.array([np.nan if r["fitness_min"] is None else r["fitness_min"] for r in history])
    hi = np.array([np.nan if r["fitness_max"] is None else r["fitness_max"] for r in history])
    ax.fill_between(g, lo, hi, alpha=0.25, label="population min-max")
    ax.plot(g, mean, label="population mean")
    ev = [(r["generation"], r["eval_fitness"]) for r in history if r.get("eval_fitness") is not None]
    if ev:
        ax.plot(*zip(*ev, strict=True), "o-", label="ES mean, held-out seeds")
    if reference is not None:
        ax.axhline(reference, color="grey", ls="--", lw=1, label="PPO, held-out seeds")
    ax.set_xlabel("generation")
    ax.set_ylabel("meta-fitness")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)


def save_drift(path: str | Path, config: MetaConfig, params: dict, extra: dict | None = None) -> Path:
    """A JSON holding the drift kind, width and weights; ``DriftConfig(drift_weights=path)`` loads it."""
    blob = {
        "drift": config.drift,
        "hidden": config.hidden,
        "base": config.base,
        "drift_params": {k: np.asarray(v).tolist() for k, v in params.items()},
        **(extra or {}),
    }
    path = Path(path)
    path.write_text(json.dumps(blob, default=str))
    return path
