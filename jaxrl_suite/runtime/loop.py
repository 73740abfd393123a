"""Run a compiled training loop in chunks: progress bar, metrics, checkpoints, Ctrl-C and exact resume.

Works for any learner that follows ``jaxrl_suite.learner.Learner`` (PPO and the drift-based learners do). A run is a batch of
``R`` independent trainings (seeds x settings) vmapped into one program; the run axis is sharded over the
visible devices. Every chunk uses the same compiled function, so a run stopped and resumed from a checkpoint
is bit-for-bit the run that never stopped (on the same machine and devices).

Trust rules: a non-empty run directory is refused unless resumed or overwritten; a resume must present the
same run (``run.json`` holds its full record); state, metrics and checkpoint advance together, whenever
Ctrl-C comes; a run whose losses or parameters go non-finite stops (or, for sweeps, is masked and reported).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec
from tqdm.std import tqdm  # text bars everywhere (tqdm.auto warns in notebooks without ipywidgets)

from jaxrl_suite.learner import check_learner
from jaxrl_suite.runtime import distributed as dist
from jaxrl_suite.runtime import rundir
from jaxrl_suite.runtime.checkpoint import Checkpointer, CheckpointError
from jaxrl_suite.runtime.episodes import THRESHOLD_RULE
from jaxrl_suite.runtime.health import EPISODE_METRICS, NOT_DIVERGED, first_divergence, params_finite
from jaxrl_suite.runtime.interrupt import StopRequest
from jaxrl_suite.runtime.metrics import MetricsWriter, read_metrics
from jaxrl_suite.runtime.plots import forward_fill, learning_curve
from jaxrl_suite.runtime.sharding import run_sharding

DIVERGENCE_MODES = ("stop", "mask")


class DivergedError(RuntimeError):
    """A run's losses or parameters went non-finite (``on_divergence="stop"``); ``result`` holds what ran."""

    def __init__(self, message: str, result: RunResult):
        super().__init__(message)
        self.result = result


@dataclasses.dataclass
class RunResult:
    state: Any  # final training states, leading axis = runs
    metrics: dict[str, np.ndarray]  # name -> [runs, updates]
    summary: dict
    out_dir: Path | None = None
    interrupted: bool = False
    diverged: dict[int, int] = dataclasses.field(default_factory=dict)  # run -> first non-finite update
    env_params: Any = None  # with ``on_chunk``: the env params the run ended on


class _Progress(NamedTuple):
    """What the loop has committed: replaced by one assignment, so an interrupt sees all of it or none."""

    state: Any
    update: int
    chunks: tuple
    diverged_at: np.ndarray  # [runs] first diverged update, NOT_DIVERGED if healthy
    env_params: Any  # the env params the next chunk runs on (changed by ``on_chunk``)


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


def pick_chunk(num_updates: int, target: int) -> int:
    """A chunk length near ``target`` dividing ``num_updates`` (one compile), else ``target`` itself."""
    target = max(1, min(target, num_updates))
    divisors = [d for d in range(1, target + 1) if num_updates % d == 0]
    best = divisors[-1]
    return best if best * 4 >= target else target


def threshold_steps(metrics: dict[str, np.ndarray], threshold: float, upto: np.ndarray | None = None) -> list:
    """Per run: env steps at the first update where the mean of its last 20 finished episodes reaches
    ``threshold`` (``None`` if never; updates from ``upto[run]`` on are not counted)."""
    window = np.asarray(metrics["return_last20"], np.float64)
    steps = np.asarray(metrics["steps"])[0]
    out = []
    for r, row in enumerate(window):
        end = row.shape[0] if upto is None else int(min(upto[r], row.shape[0]))
        hit = np.flatnonzero(row[:end] >= threshold)
        out.append(int(steps[hit[0]]) if hit.size else None)
    return out


def summarize(
    metrics: dict[str, np.ndarray],
    threshold: float | None,
    tail: float = 0.05,
    diverged: dict[int, int] | None = None,
    first_update: int = 0,
) -> dict:
    """Final return (mean over the last ``tail`` of updates, then mean/sd over surviving runs) and steps to
    threshold under one rule (``THRESHOLD_RULE``). Diverged runs get ``None`` and are counted apart."""
    diverged = diverged or {}
    ret = forward_fill(metrics["return"])  # fills updates where no episode finished, never a divergence
    runs = ret.shape[0]
    n_tail = max(1, int(round(ret.shape[1] * tail)))
    with np.errstate(all="ignore"), warnings.catch_warnings():  # no finished episode yet: NaN, said below
        warnings.simplefilter("ignore", RuntimeWarning)
        finals = np.nanmean(ret[:, -n_tail:], axis=1)
    finals = np.where([r in diverged for r in range(runs)], np.nan, finals)
    survivors = finals[np.isfinite(finals)]
    out = {
        "final_return_mean": float(survivors.mean()) if survivors.size else None,
        "final_return_std": float(survivors.std()) if survivors.size else None,
        "final_return_per_run": [None if not np.isfinite(f) else float(f) for f in finals],
        "final_return_over": (
            f"all {runs} runs"
            if not diverged
            else f"survivors only: {runs - len(diverged)} of {runs} runs ({len(diverged)} diverged)"
        ),
        "runs_diverged": len(diverged),
        "diverged": [{"run": r, "update": u} for r, u in sorted(diverged.items())],
    }
    if threshold is not None:
        if "return_last20" in metrics:
            upto = np.array([diverged.get(r, NOT_DIVERGED) - first_update for r in range(runs)])
            per_run = threshold_steps(metrics, threshold, upto)
            out["threshold_rule"] = THRESHOLD_RULE
        else:  # a learner that does not report the window: say which rule was used instead
            steps = np.asarray(metrics["steps"])[0]
            per_run = [
                int(steps[h[0]]) if (h := np.flatnonzero(r >= threshold)).size and i not in diverged else None
                for i, r in enumerate(ret)
            ]
            out["threshold_rule"] = "mean return of the episodes finished in an update >= threshold"
        reached = [s for s in per_run if s is not None]
        out["threshold"] = threshold
        out["steps_to_threshold_per_run"] = per_run
        out["runs_reaching_threshold"] = len(reached)
        out["steps_to_threshold"] = float(np.median(reached)) if len(reached) == len(per_run) else None
        out["steps_to_threshold_range"] = [min(reached), max(reached)] if reached else None
    return out


def _fingerprinted(trainer: Any, spec: dict, keys: jax.Array, hparams: Any) -> dict:
    """The run's full record: the caller's spec, the effective learner config, every run's hyperparameters
    and a hash of its keys. Its fingerprint decides whether a checkpoint belongs to this run."""
    host = jax.device_get(hparams)
    cfg = trainer.config
    record = {
        "spec": spec,
        "learner_config": dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else repr(cfg),
        "num_runs": int(keys.shape[0]),
        "hparams": {f.name: np.asarray(getattr(host, f.name)).tolist() for f in dataclasses.fields(host)}
        if dataclasses.is_dataclass(host)
        else hashlib.sha256(b"".join(np.asarray(x).tobytes() for x in jax.tree.leaves(host))).hexdigest(),
        "keys_sha": hashlib.sha256(np.asarray(jax.random.key_data(keys)).tobytes()).hexdigest()[:16],
    }
    return json.loads(json.dumps(record, default=str))  # the form it takes once stored


def _program_key(trainer: Any) -> tuple:
    """What the compiled init/chunk programs bake in besides their arguments: the learner's class and static
    config, its environment and that environment's (concrete) parameters, and its policy loss."""
    params = getattr(trainer, "env_params", None)
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(params):
        arr = np.asarray(leaf)
        digest.update(str((arr.dtype, arr.shape)).encode() + arr.tobytes())
    loss = getattr(trainer, "policy_loss", None)
    return (
        type(trainer).__qualname__,
        repr(trainer.config),
        id(getattr(trainer, "env", None)),
        str(jax.tree.structure(params)),
        digest.hexdigest(),
        id(getattr(loss, "__func__", loss)),
    )


def _check_same_run(out_dir: Path, ckpt: Checkpointer, record: dict, fingerprint: str) -> None:
    stored = rundir.read_record(out_dir)
    if stored is None:  # checkpoints written before run.json existed keep their spec in the metadata
        meta = ckpt.read_meta()
        if meta.get("fingerprint") == fingerprint:
            return
        stored = {"record": meta.get("record", {"spec": meta.get("spec")})}
    if stored.get("fingerprint") == fingerprint:
        return
    diff = rundir.differences(stored.get("record", {}), record)
    raise CheckpointError(
        f"{out_dir} holds a different run; refusing to resume. Differences:\n  "
        + "\n  ".join(diff or ["(records differ in form; the run was written by another version)"])
    )


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
    overwrite: bool = False,
    fallback_checkpoint: bool = False,
    on_divergence: str = "stop",
    progress: bool = True,
    threshold: float | None = None,
    title: str = "",
    stop_after_chunks: int | None = None,
    on_chunk: Callable[[Any, dict[str, np.ndarray]], tuple[Any, bool]] | None = None,
    _events: Callable[[str], None] | None = None,
) -> RunResult:
    """Train ``len(keys)`` runs (one per key, hparams batched alongside) in chunks of the compiled loop.

    ``out_dir`` receives run.json, metrics.jsonl, learning_curve.png, summary.json and checkpoints/ (every
    ``checkpoint_every`` chunks, at the end, and on Ctrl-C). A non-empty ``out_dir`` needs ``resume=True``
    (continue the same run from its newest checkpoint; ``fallback_checkpoint=True`` continues from the newest
    intact one when the newest is damaged) or ``overwrite=True``. ``on_divergence="stop"`` raises
    ``DivergedError`` at the first non-finite loss or parameter; ``"mask"`` keeps training the other runs and
    reports the diverged ones. ``stop_after_chunks`` requests a stop as Ctrl-C does (for tests).

    ``on_chunk(state, metrics) -> (env_params, stop)`` runs after every chunk (``metrics[name]`` is
    ``[runs, chunk]``, on the host): returned env params (``None``: unchanged) are what the next chunk runs
    on, passed to the compiled chunk as an argument, so a curriculum never recompiles; ``stop=True`` ends the
    run early (status ``"stopped"``). The current env params are checkpointed with the state.
    """
    check_learner(trainer)
    cfg = trainer.config
    if keys.ndim != 1 or int(keys.shape[0]) < 1:
        raise ValueError(f"need a 1-D batch of at least one key (one per run), got shape {tuple(keys.shape)}")
    if on_divergence not in DIVERGENCE_MODES:
        raise ValueError(f"on_divergence must be one of {DIVERGENCE_MODES}, got {on_divergence!r}")
    if int(chunk_updates) < 1 or int(checkpoint_every) < 1:
        raise ValueError(
            f"chunk_updates and checkpoint_every must be >= 1, got {chunk_updates}, {checkpoint_every}"
        )
    num_runs = int(keys.shape[0])
    hparams = batch_hparams(hparams, num_runs)
    if hasattr(hparams, "validate"):
        hparams.validate()
    spec = json.loads(json.dumps(dict(spec or {}), default=str))
    record = _fingerprinted(trainer, spec, keys, hparams)
    fingerprint = rundir.fingerprint(record)
    out_dir = Path(out_dir) if out_dir is not None else None
    writes = dist.is_writer()  # several processes: process 0 writes the files, all write checkpoints
    if out_dir is not None:
        if dist.is_multiprocess():  # every process refuses a bad folder before process 0 changes it
            rundir.prepare(out_dir, resume=resume, overwrite=overwrite, check_only=True)
            dist.barrier("jaxrl_suite.rundir_checked")
        if writes:
            rundir.prepare(out_dir, resume=resume, overwrite=overwrite)
    elif resume:
        raise ValueError("resume needs an output directory holding checkpoints")
    dist.barrier("jaxrl_suite.rundir")
    ckpt = Checkpointer(out_dir / "checkpoints") if out_dir is not None else None
    if resume:
        _check_same_run(out_dir, ckpt, record, fingerprint)
    elif out_dir is not None and writes:
        rundir.write_record(out_dir, {"fingerprint": fingerprint, "record": record})
    dynamic = on_chunk is not None  # env params become a chunk argument, checkpointed with the state
    meta_base = {
        "fingerprint": fingerprint,
        "spec": spec,
        "num_runs": num_runs,
        "env_params_in_checkpoint": dynamic,
    }

    total = cfg.num_updates
    chunk = pick_chunk(total, chunk_updates)
    # a learner that shards inside its update (the ES meta-trainer: its population) lays out the run axis
    sharding = getattr(trainer, "run_sharding", run_sharding)(num_runs)
    episode_metrics = EPISODE_METRICS | frozenset(getattr(trainer, "episode_metrics", ()))
    keys, hparams = dist.put((keys, hparams), sharding)

    # compiled functions reused across calls, keyed by everything that shapes the program: a trainer copied
    # by ``with_env_params`` shares this dict but not its programs
    cache = trainer.__dict__.setdefault("_runtime_cache", {})
    program = _program_key(trainer)
    init_key = ("init", program, str(sharding))
    if init_key not in cache:
        cache[init_key] = jax.jit(jax.vmap(trainer.init), out_shardings=sharding)
    t0 = time.perf_counter()
    state = cache[init_key](keys, hparams)
    jax.block_until_ready(state)
    init_s = time.perf_counter() - t0
    replicated = NamedSharding(sharding.mesh, PartitionSpec())
    env_params = dist.put(trainer.env_params, replicated) if dynamic else None

    def stored(st, ep):  # what a checkpoint holds: the state, and the env params of a curriculum
        return {"learner": st, "env_params": ep} if dynamic else st

    start_update = 0
    diverged_at = np.full(num_runs, NOT_DIVERGED, np.int64)
    if resume:
        if fallback_checkpoint:
            restored, meta, step, damaged = ckpt.restore_newest_intact(stored(state, env_params))
            if damaged:
                print(
                    f"checkpoint step(s) {damaged} damaged: moved to {ckpt.damaged_directory}; resuming from "
                    f"step {step}",
                    file=sys.stderr,
                )
        else:
            try:
                restored, meta = ckpt.restore(stored(state, env_params))
            except CheckpointError as exc:
                if exc.intact_step is None:
                    raise
                raise CheckpointError(
                    f"{str(exc).split('; the newest intact')[0]}; "
                    f"the newest intact one is step {exc.intact_step}: resume with --fallback-checkpoint "
                    f"(fallback_checkpoint=True) to move the damaged one aside and continue from step "
                    f"{exc.intact_step}",
                    step=exc.step,
                    intact_step=exc.intact_step,
                ) from exc
        if dynamic:
            state, env_params = restored["learner"], dist.put(restored["env_params"], replicated)
        else:
            state = restored
        state = dist.put(state, sharding)
        start_update = int(meta["update"])
        for r, u in (meta.get("diverged") or {}).items():
            diverged_at[int(r)] = int(u)

    compile_s = 0.0

    def chunk_fn(n: int):
        nonlocal compile_s
        key = ("chunk", program, dynamic, n, num_runs, str(sharding))
        if key not in cache:
            t = time.perf_counter()

            def with_health(s, h, ep):
                s, m = (trainer.with_env_params(ep) if dynamic else trainer).run(s, h, n)
                return s, m, params_finite(s)

            if num_runs == 1:  # vmap over one run makes batched dots that XLA:CPU runs ~15% slower

                def one(s, h, ep):
                    out = with_health(*jax.tree.map(lambda x: x[0], (s, h)), ep)
                    return jax.tree.map(lambda x: x[None], out)

                body = one
            else:
                body = jax.vmap(with_health, in_axes=(0, 0, None))
            fn = jax.jit(body, in_shardings=(sharding, sharding, replicated), out_shardings=sharding)
            cache[key] = fn.lower(state, hparams, env_params).compile()
            compile_s += time.perf_counter() - t
        return cache[key]

    def event(name: str) -> None:
        if _events is not None:
            _events(name)

    def meta_of(p: _Progress) -> dict:
        diverged = {str(r): int(u) for r, u in enumerate(p.diverged_at) if u != NOT_DIVERGED}
        return {**meta_base, "update": p.update, "diverged": diverged}

    writer = (
        MetricsWriter(out_dir, resume_from_update=start_update) if out_dir is not None and writes else None
    )
    committed = _Progress(state, start_update, (), diverged_at, env_params)
    stopped_early = False
    saved_update = start_update if resume else None
    train_s = 0.0
    interrupted = False
    stop_divergence = False
    bar = tqdm(
        total=total * cfg.batch_size,
        initial=start_update * cfg.batch_size,
        unit="step",
        unit_scale=True,
        disable=not (progress and writes),
        file=sys.stderr,
        dynamic_ncols=True,
        desc=title or "train",
        # one speed only: ours, from device time (tqdm's own rate would count compile time)
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} steps per run [{elapsed}{postfix}]",
    )
    recent = np.nan
    chunk_index = 0
    stop = StopRequest(quiet=not (progress and writes))
    try:
        with stop:
            while committed.update < total and not stop.requested:
                event("chunk_start")
                n = min(chunk, total - committed.update)
                fn = chunk_fn(n)
                t = time.perf_counter()
                new_state, m, ok = fn(committed.state, hparams, committed.env_params)
                m, ok = dist.to_host((m, ok))
                train_s += time.perf_counter() - t
                event("chunk_computed")
                new_div = np.minimum(
                    committed.diverged_at, first_divergence(m, ok, committed.update, episode_metrics)
                )
                if writer is not None:
                    writer.write_chunk(committed.update, m, new_div)
                event("metrics_written")
                next_params, stop_hook = committed.env_params, False
                if dynamic:
                    proposed, stop_hook = on_chunk(new_state, m)
                    if proposed is not None:
                        next_params = dist.put(proposed, replicated)
                committed = _Progress(
                    new_state, committed.update + n, (*committed.chunks, m), new_div, next_params
                )
                event("committed")
                chunk_index += 1
                diverged_now = new_div != NOT_DIVERGED
                if diverged_now.any() and on_divergence == "stop":
                    stop_divergence = True
                    break
                ret = forward_fill(np.concatenate([c["return"] for c in committed.chunks[-4:]], axis=1))[
                    :, -1
                ]
                ret = ret[~diverged_now]
                recent = float(np.nanmean(ret)) if np.isfinite(ret).any() else np.nan
                bar.update(n * cfg.batch_size)
                sps = (committed.update - start_update) * cfg.batch_size * num_runs / max(train_s, 1e-9)
                bar.set_postfix_str(
                    f"return {recent:.3g}, {sps:.3g} steps/s over {num_runs} run(s)"
                    + (f", {int(diverged_now.sum())} diverged" if diverged_now.any() else "")
                )
                last = committed.update == total or bool(stop_hook)
                if ckpt is not None and (chunk_index % checkpoint_every == 0 or last):
                    ckpt.save(
                        committed.update, stored(committed.state, committed.env_params), meta_of(committed)
                    )
                    saved_update = committed.update
                event("checkpoint_saved")
                if stop_hook:
                    stopped_early = True
                    break
                if stop_after_chunks is not None and chunk_index >= stop_after_chunks:
                    stop.request()
        interrupted = stop.requested and committed.update < total and not stop_divergence
    except KeyboardInterrupt:  # a second Ctrl-C (or one outside our handler): the committed state is whole
        interrupted = True
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        try:
            if ckpt is not None and interrupted and saved_update != committed.update:
                ckpt.save(committed.update, stored(committed.state, committed.env_params), meta_of(committed))
                saved_update = committed.update
        finally:
            if ckpt is not None:
                ckpt.close()
    if interrupted and ckpt is not None and writes:
        print(
            f"\ninterrupted at update {committed.update}/{total}; checkpoint saved in {ckpt.directory}; "
            "rerun with --resume (resume=True) to continue",
            file=sys.stderr,
        )

    state = committed.state
    chunks = committed.chunks
    metrics = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]} if chunks else {}
    if start_update > 0 and out_dir is not None:
        dist.barrier("jaxrl_suite.metrics")  # process 0 has closed metrics.jsonl
        metrics = read_metrics(out_dir / "metrics.jsonl")  # the whole run, not just the resumed part
    diverged = {r: int(u) for r, u in enumerate(committed.diverged_at) if u != NOT_DIVERGED}
    steps_done = (committed.update - start_update) * cfg.batch_size
    status = (
        "diverged"
        if stop_divergence
        else "interrupted"
        if interrupted
        else "stopped"
        if stopped_early
        else "finished"
    )
    summary = {
        "status": status,
        "runs": num_runs,
        "total_steps": total * cfg.batch_size,
        "updates_done": committed.update,
        "total_updates": total,
        "resumed_from_update": start_update,
        "init_s": init_s,
        "compile_s": compile_s,
        "train_s": train_s,
        "steps_per_s": steps_done * num_runs / train_s if train_s > 0 else None,
        "devices": len(sharding.device_set),
        "processes": jax.process_count(),
        "recent_return": None if not np.isfinite(recent) else recent,
        "on_divergence": on_divergence,
    }
    if metrics:
        summary.update(summarize(metrics, threshold, diverged=diverged))
    if out_dir is not None and writes:
        if metrics:
            curve = metrics["return"].copy()
            for r in diverged:
                curve[r] = np.nan  # a diverged run is not drawn as if it had flat-lined
            window = metrics.get("return_last20")
            if window is not None:
                window = window.copy()
                window[list(diverged)] = np.nan
            learning_curve(
                metrics["steps"][0], curve, out_dir / "learning_curve.png", title, threshold, window
            )
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    result = RunResult(state, metrics, summary, out_dir, interrupted, diverged, committed.env_params)
    if stop_divergence:
        runs = ", ".join(f"run {r} at update {u}" for r, u in sorted(diverged.items()))
        where = f"; outputs up to then in {out_dir}" if out_dir is not None else ""
        last = f"; newest finite checkpoint: update {saved_update}" if saved_update is not None else ""
        raise DivergedError(
            f"training diverged (non-finite loss or parameters): {runs}{where}{last}. "
            "Lower the learning rate or clip gradients; a sweep can mask diverged runs (on_divergence='mask', "
            "--on-divergence mask)",
            result,
        )
    return result
