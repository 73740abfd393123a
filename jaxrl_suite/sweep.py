"""Hyperparameter sweeps: seeds x settings trained in one compiled program, results on named axes.

Only shape-free hyperparameters can be swept this way (they are leaves of the hparams pytree); shape-setting
ones (num_envs, network sizes...) are static and need separate programs. Every setting uses the same seed keys
(common random numbers), so differences between settings are not seed noise.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.runtime import distributed as dist
from jaxrl_suite.runtime.loop import train_runs
from jaxrl_suite.runtime.plots import forward_fill, sweep_summary
from jaxrl_suite.stats import finite_stat


def grid(**values: list) -> list[dict]:
    """Every combination: ``grid(lr=[1e-4, 3e-4], ent_coef=[0, .01])`` -> 4 settings."""
    names = list(values)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(values[n] for n in names))]


def random_search(key: jax.Array, num: int, **ranges: Any) -> list[dict]:
    """``num`` settings; each range is ``(low, high)``, ``(low, high, "log")`` or a list of choices."""
    settings = [{} for _ in range(num)]
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    for name, spec in ranges.items():
        if isinstance(spec, list):
            picks = rng.choice(len(spec), size=num)
            vals = [spec[i] for i in picks]
        else:
            low, high, *scale = spec
            if not low < high:
                raise ValueError(f"range for {name} needs low < high, got {spec}")
            if scale and scale[0] == "log":
                if low <= 0:
                    raise ValueError(f"log range for {name} needs low > 0")
                vals = np.exp(rng.uniform(math.log(low), math.log(high), size=num)).tolist()
            else:
                vals = rng.uniform(low, high, size=num).tolist()
        for s, v in zip(settings, vals, strict=True):
            s[name] = float(v)
    return settings


@dataclasses.dataclass
class SweepResult:
    """Metrics on named axes: ``metrics[name]`` is ``[seed, setting, update]``."""

    settings: list[dict]
    seeds: int
    metrics: dict[str, np.ndarray]
    final_return: np.ndarray  # [seed, setting]
    summary: dict
    out_dir: Path | None = None
    axes: tuple[str, ...] = ("seed", "setting", "update")
    interrupted: bool = False
    diverged: np.ndarray | None = None  # [seed, setting] True where that run diverged (masked out)

    def table(self) -> list[dict]:
        """One row per setting: its values and final return mean/sd/min/max over its surviving seeds."""
        rows = []
        div = np.zeros(self.final_return.shape, bool) if self.diverged is None else self.diverged
        for k, setting in enumerate(self.settings):
            f = self.final_return[:, k][~div[:, k]]  # surviving seeds
            rows.append(
                {
                    **setting,
                    "final_return_mean": finite_stat(np.nanmean, f),
                    "final_return_std": finite_stat(np.nanstd, f),
                    "final_return_min": finite_stat(np.nanmin, f),
                    "final_return_max": finite_stat(np.nanmax, f),
                    "seeds_diverged": int(div[:, k].sum()),
                    "status": "interrupted" if self.interrupted else "finished",
                }
            )
        return rows

    def best(self) -> dict | None:
        """The setting with the highest mean final return over its surviving seeds (None if none survived)."""
        means = [r["final_return_mean"] for r in self.table()]
        if all(m is None for m in means):
            return None
        return self.settings[int(np.nanargmax([np.nan if m is None else m for m in means]))]


def sweep(
    trainer: Any,
    settings: list[dict],
    seeds: int,
    base_hparams: Any,
    key: jax.Array,
    out_dir: str | Path | None = None,
    spec: dict | None = None,
    **runtime_kwargs: Any,
) -> SweepResult:
    """Train ``seeds x len(settings)`` runs in one program; save a table and a plot under ``out_dir``.

    ``runtime_kwargs`` go to ``train_runs`` (``resume``, ``overwrite``, ``on_divergence="mask"`` to keep a
    sweep going past diverged runs, ...). An interrupted sweep marks its table and JSON as interrupted."""
    if seeds < 1 or not settings:
        raise ValueError("a sweep needs at least one seed and one setting")
    fields = {f.name for f in dataclasses.fields(base_hparams)}
    for s in settings:
        unknown = set(s) - fields
        if unknown:
            raise ValueError(
                f"cannot sweep {sorted(unknown)}: not shape-free hyperparameters; choose from {sorted(fields)}"
            )
    per_setting = [base_hparams.replace(**{k: float(v) for k, v in s.items()}).validate() for s in settings]
    stacked = jax.tree.map(lambda *xs: jnp.asarray(xs, jnp.float32), *per_setting)  # [K]
    num_settings = len(settings)
    hparams = jax.tree.map(lambda x: jnp.tile(x, seeds), stacked)  # run r = seed * K + setting
    seed_keys = jax.random.split(key, seeds)
    keys = jnp.repeat(seed_keys, num_settings, axis=0)
    spec = {**(spec or {}), "sweep_settings": settings, "seeds": seeds}
    result = train_runs(trainer, keys, hparams, spec=spec, out_dir=out_dir, **runtime_kwargs)
    if not result.metrics:
        raise ValueError("the sweep was interrupted before its first chunk finished: nothing to report")
    metrics = {k: v.reshape(seeds, num_settings, -1) for k, v in result.metrics.items()}
    ret = forward_fill(metrics["return"])
    tail = max(1, int(round(ret.shape[-1] * 0.05)))
    final = np.nanmean(ret[..., -tail:], axis=-1)
    diverged = np.zeros(seeds * num_settings, bool)
    diverged[list(result.diverged)] = True
    diverged = diverged.reshape(seeds, num_settings)
    final = np.where(diverged, np.nan, final)
    out = SweepResult(
        settings,
        seeds,
        metrics,
        final,
        result.summary,
        result.out_dir,
        interrupted=result.interrupted,
        diverged=diverged,
    )
    if out_dir is not None and dist.is_writer():  # several processes: process 0 writes
        out_dir = Path(out_dir)
        rows = out.table()
        with (out_dir / "sweep.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        labels = [", ".join(f"{k}={v:.3g}" for k, v in s.items()) for s in settings]
        done = result.summary["updates_done"]
        title = spec.get("title", "sweep")
        if result.interrupted:
            title += f" (INTERRUPTED at update {done}/{result.summary['total_updates']})"
        sweep_summary(labels, final, out_dir / "sweep.png", title=title)
        (out_dir / "sweep.json").write_text(
            json.dumps(
                {
                    "status": result.summary["status"],
                    "interrupted": result.interrupted,
                    "updates_done": done,
                    "total_updates": result.summary["total_updates"],
                    "settings": settings,
                    "table": rows,
                    "best": out.best(),
                    "best_over": "surviving seeds of each setting; diverged runs masked out",
                    "summary": result.summary,
                },
                indent=2,
                default=str,
            )
        )
    return out
