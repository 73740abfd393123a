"""Run a compiled training loop in chunks: progress bar, metrics, checkpoints, Ctrl-C and exact resume.

Works for any learner exposing ``init(key, hparams) -> state``, ``run(state, hparams, n) -> (state, metrics)``
and ``config.num_updates`` / ``config.batch_size`` (PPO and the drift-based learners do). A run is a batch of
``R`` independent trainings (seeds x settings) vmapped into one program; the run axis is sharded over the
visible devices. Every chunk uses the same compiled function, so a run stopped and resumed from a checkpoint
is bit-for-bit the run that never stopped (on the same machine and devices).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxrl_suite.runtime.checkpoint import Checkpointer, CheckpointError
from jaxrl_suite.runtime.metrics import MetricsWriter, read_metrics
from jaxrl_suite.runtime.plots import forward_fill, learning_curve
from jaxrl_suite.runtime.sharding import run_sharding


@dataclasses.dataclass
class RunResult:
    state: Any  # final training states, leading axis = runs
    metrics: dict[str, np.ndarray]  # name -> [runs, updates]
    summary: dict
    out_dir: Path | None = None
    interrupted: bool = False


def batch_hparams(hparams: Any, num_runs: int) -> Any:
    """Give every hparam leaf a leading run axis (scalars are broadcast; batched leaves must match)."""

    def leaf(x):
        x = jnp.asarray(x, jnp.float32)
        if x.ndim == 0:
            return jnp.broadcast_to(x, (num_runs,))
        if x.shape[0] != num_runs:
            raise ValueError(f"hyperparameter batch of {x.shape[0]} does not match {num_runs} runs")
        return x

    return jax.tree.map(leaf, hparams)


def spec_fingerprint(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def pick_chunk(num_updates: int, target: int) -> int:
    """A chunk length near ``target`` dividing ``num_updates`` (one compile), else ``target`` itself."""
    target = max(1, min(target, num_updates))
    divisors = [d for d in range(1, target + 1) if num_updates % d == 0]
    best = divisors[-1]
    return best if best * 4 >= target else target


def summarize(metrics: dict[str, np.ndarray], threshold: float | None, tail: float = 0.05) -> dict:
    """Final return (mean over the last ``tail`` of updates, then mean/sd over runs) and steps to threshold."""
    ret = forward_fill(metrics["return"])
    steps = np.asarray(metrics["steps"])[0]
    n_tail = max(1, int(round(ret.shape[1] * tail)))
    finals = np.nanmean(ret[:, -n_tail:], axis=1)
    out = {
        "final_return_mean": float(np.nanmean(finals)) if np.isfinite(finals).any() else None,
        "final_return_std": float(np.nanstd(finals)) if np.isfinite(finals).any() else None,
        "final_return_per_run": [None if not np.isfinite(f) else float(f) for f in finals],
    }
    if threshold is not None:
        per_run = []
        for r in ret:
            hit = np.flatnonzero(r >= threshold)
            per_run.append(int(steps[hit[0]]) if hit.size else None)
        reached = [s for s in per_run if s is not None]
        out["threshold"] = threshold
        out["steps_to_threshold_per_run"] = per_run
        out["steps_to_threshold"] = float(np.mean(reached)) if len(reached) == len(per_run) else None
        out["runs_reaching_threshold"] = len(reached)
    return out


def train_runs(
    trainer: Any,
    keys: jax.Array,
    hparams: Any,
    *,
    spec: dict | None = None,
    out_dir: str | Path | None = None,
    chunk_updates: int = 64,
    checkpoint_every: int = 10,
    resume: bool = False,
    progress: bool = True,
    threshold: float | None = None,
    title: str = "",
    stop_after_chunks: int | None = None,
) -> RunResult:
    """Train ``len(keys)`` runs (one per key, hparams batched alongside) in chunks of the compiled loop.

    ``out_dir`` receives metrics.jsonl, learning_curve.png, summary.json and checkpoints/ (every
    ``checkpoint_every`` chunks, at the end, and on Ctrl-C). ``resume=True`` continues from the newest
    checkpoint there. ``stop_after_chunks`` simulates an interruption (for tests).
    """
    cfg = trainer.config
    num_runs = int(keys.shape[0])
    hparams = batch_hparams(hparams, num_runs)
    if hasattr(hparams, "validate"):
        hparams.validate()
    spec = dict(spec or {})
    spec["num_runs"] = num_runs
    spec["hparams_sha"] = hashlib.sha256(
        b"".join(np.asarray(x).tobytes() for x in jax.tree.leaves(jax.device_get(hparams)))
    ).hexdigest()[:16]
    fingerprint = spec_fingerprint(spec)
    total = cfg.num_updates
    chunk = pick_chunk(total, chunk_updates)
    sharding = run_sharding(num_runs)
    keys, hparams = jax.device_put((keys, hparams), sharding)

    cache = trainer.__dict__.setdefault("_runtime_cache", {})  # compiled functions reused across calls
    init = cache.setdefault("init", jax.jit(jax.vmap(trainer.init)))
    out_dir = Path(out_dir) if out_dir is not None else None
    ckpt = Checkpointer(out_dir / "checkpoints") if out_dir is not None else None

    t0 = time.perf_counter()
    state = init(keys, hparams)
    jax.block_until_ready(state)
    init_s = time.perf_counter() - t0
    start_update = 0
    if resume:
        if ckpt is None:
            raise ValueError("resume needs an output directory holding checkpoints")
        meta = ckpt.read_meta()
        if meta.get("fingerprint") != fingerprint:
            raise CheckpointError(
                f"checkpoint in {ckpt.directory} belongs to a different run (its spec: "
                f"{json.dumps(meta.get('spec'), sort_keys=True)[:400]}); refusing to resume"
            )
        state, meta = ckpt.restore(state)
        state = jax.device_put(state, sharding)
        start_update = int(meta["update"])

    compile_s = 0.0

    def chunk_fn(n: int):
        nonlocal compile_s
        key = ("chunk", n, num_runs, str(sharding))
        if key not in cache:
            t = time.perf_counter()
            if num_runs == 1:  # vmap over one run makes batched dots that XLA:CPU runs ~15% slower

                def one(s, h):
                    out = trainer.run(*jax.tree.map(lambda x: x[0], (s, h)), n)
                    return jax.tree.map(lambda x: x[None], out)

                fn = jax.jit(one)
            else:
                fn = jax.jit(jax.vmap(lambda s, h: trainer.run(s, h, n)))
            cache[key] = fn.lower(state, hparams).compile()
            compile_s += time.perf_counter() - t
        return cache[key]

    writer = MetricsWriter(out_dir, resume_from_update=start_update) if out_dir is not None else None
    chunks: list[dict[str, np.ndarray]] = []
    train_s = 0.0
    done_updates = start_update
    interrupted = False
    bar = tqdm(
        total=total * cfg.batch_size,
        initial=start_update * cfg.batch_size,
        unit="step",
        unit_scale=True,
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
        desc=title or "train",
    )
    recent = np.nan
    chunk_index = 0
    try:
        while done_updates < total:
            n = min(chunk, total - done_updates)
            fn = chunk_fn(n)
            t = time.perf_counter()
            new_state, m = fn(state, hparams)
            m = jax.device_get(m)
            train_s += time.perf_counter() - t
            state = new_state
            if writer is not None:
                writer.write_chunk(done_updates, m)
            chunks.append(m)
            done_updates += n
            chunk_index += 1
            ret = forward_fill(np.concatenate([c["return"] for c in chunks[-4:]], axis=1))[:, -1]
            recent = float(np.nanmean(ret)) if np.isfinite(ret).any() else np.nan
            bar.update(n * cfg.batch_size)
            bar.set_postfix(
                ret=f"{recent:.3g}",
                sps=f"{done_updates * cfg.batch_size * num_runs / max(train_s, 1e-9):.3g}",
            )
            if ckpt is not None and (chunk_index % checkpoint_every == 0 or done_updates == total):
                ckpt.save(
                    done_updates, state, {"update": done_updates, "fingerprint": fingerprint, "spec": spec}
                )
            if stop_after_chunks is not None and chunk_index >= stop_after_chunks and done_updates < total:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        if ckpt is not None:
            ckpt.save(done_updates, state, {"update": done_updates, "fingerprint": fingerprint, "spec": spec})
            print(
                f"\ninterrupted at update {done_updates}/{total}; checkpoint saved in {ckpt.directory}; "
                "rerun with --resume to continue",
                file=sys.stderr,
            )
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        if ckpt is not None:
            ckpt.close()

    metrics = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]} if chunks else {}
    steps_done = (done_updates - start_update) * cfg.batch_size
    summary = {
        "runs": num_runs,
        "total_steps": total * cfg.batch_size,
        "updates_done": done_updates,
        "init_s": init_s,
        "compile_s": compile_s,
        "train_s": train_s,
        "steps_per_s": steps_done * num_runs / train_s if train_s > 0 else None,
        "devices": len(sharding.device_set),
        "recent_return": None if not np.isfinite(recent) else recent,
    }
    if start_update > 0 and out_dir is not None:
        metrics = read_metrics(out_dir / "metrics.jsonl")  # the whole run, not just the resumed part
    if metrics:
        summary.update(summarize(metrics, threshold))
    if out_dir is not None:
        if metrics:
            learning_curve(
                metrics["steps"][0], metrics["return"], out_dir / "learning_curve.png", title, threshold
            )
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return RunResult(state, metrics, summary, out_dir, interrupted)
