"""Meta-training in the runtime loop: ``meta_train`` runs ``MetaLearner`` (a generation per chunk) with
``train_runs``, then compares the ES mean with PPO and DPO on held-out seeds.

Beside the runtime's files (run.json, metrics.jsonl, checkpoints/, learning_curve.png) it writes
``drift.json``, ``meta_metrics.jsonl``, ``fitness.png``, ``meta_eval.jsonl`` and ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

from jaxrl_suite.algos.meta.learner import MetaHparams, MetaLearner
from jaxrl_suite.algos.meta.problem import DriftMeta, MetaState
from jaxrl_suite.algos.meta.report import evaluate_methods, fitness_plot, save_drift, write_jsonl
from jaxrl_suite.runtime.loop import train_runs
from jaxrl_suite.stats import finite_or_none, nanmean


@dataclasses.dataclass
class MetaResult:
    """What ``meta_train`` returns; ``interrupted``: it stopped early, and its checkpoint resumes it."""

    state: MetaState
    drift_params: dict  # the ES mean, as numpy arrays
    history: list[dict]
    summary: dict
    out_dir: Path | None = None
    interrupted: bool = False


def meta_train(
    meta: DriftMeta,
    key: jax.Array,
    generations: int,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    eval_every: int = 0,
    spec: dict | None = None,
    stop_after: int | None = None,
    final_eval: bool = True,
) -> MetaResult:
    """Run ``generations`` ES generations in the runtime loop (a generation is a chunk, checkpointed).

    ``eval_every`` > 0 also evaluates the ES mean on the held-out seeds every that many generations.
    ``stop_after`` requests a stop, as Ctrl-C does, after that many generations of this call (for tests).
    """
    if generations < 1:
        raise ValueError(f"generations must be >= 1, got {generations}")
    if eval_every < 0:
        raise ValueError(f"eval_every must be >= 0, got {eval_every}")
    out_dir = Path(out_dir) if out_dir is not None else None
    t0 = time.perf_counter()
    meta.compiled_runs()  # the held-out evaluations' program (baselines, eval_every, final comparison)
    compile_s = time.perf_counter() - t0
    learner = _learner(meta, generations, key)  # measures PPO and DPO on the held-out seeds
    init_s = time.perf_counter() - t0 - compile_s
    ref = learner.env_params
    if progress:
        row = lambda r: ", ".join(
            f"{e} {v:.4g}" for e, v in zip(meta.config.envs, np.asarray(r), strict=True)
        )  # noqa: E731
        print(f"held-out seeds: PPO {row(ref.ppo_return)}; DPO {row(ref.dpo_return)}", file=sys.stderr)
    ppo_ref = np.asarray(ref.ppo_return, np.float64)
    evals: dict[int, dict] = {}
    eval_file = out_dir / "meta_eval.jsonl" if out_dir is not None else None
    if resume and eval_file is not None and eval_file.exists():
        for line in eval_file.read_text().splitlines():
            r = json.loads(line)
            evals[r["generation"]] = r

    def on_chunk(state, metrics):  # the held-out evaluation of the ES mean, every eval_every generations
        g = int(np.asarray(state.generation)[0])
        if g % eval_every == 0 or g == generations:
            mean = meta.mean_params(jax.tree.map(lambda x: x[0], state))  # the one meta-run's ES mean
            res = meta.evaluate({"learned": meta.method_hparams("learned", mean)}, meta.eval_keys(key))
            per_env = nanmean(res["learned"]["final"])
            score = (
                (per_env - ppo_ref) / np.maximum(np.abs(ppo_ref), 1.0) if meta.config.normalized else per_env
            )
            last = nanmean(res["learned"]["final_return"])  # last 10% of updates, whatever the fitness
            evals[g] = {
                "generation": g,
                "eval_fitness": float(np.mean(score)),
                "eval_return": {e: finite_or_none(per_env[i]) for i, e in enumerate(meta.config.envs)},
                "eval_final_return": {e: finite_or_none(last[i]) for i, e in enumerate(meta.config.envs)},
            }
            if eval_file is not None:
                with eval_file.open("a") as f:
                    f.write(json.dumps(evals[g]) + "\n")
        return None, False

    spec = {**(spec or {}), "eval_every": eval_every}
    res = train_runs(
        learner,
        key[None],
        MetaHparams(),
        spec=spec,
        out_dir=out_dir,
        chunk_updates=1,
        checkpoint_every=1,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        title=f"meta-train {meta.config.drift}",
        stop_after_chunks=stop_after,
        on_chunk=on_chunk if eval_every else None,
    )
    state = jax.tree.map(lambda x: x[0], res.state)
    done = int(state.generation)
    history = []
    for g in range(done):
        row = meta.history_row({k: v[0, g] for k, v in res.metrics.items()})
        row.update({k: v for k, v in evals.get(g + 1, {}).items() if k != "generation"})
        history.append(row)
    params = meta.mean_params(state)
    run = res.summary
    here = done - run["resumed_from_update"]  # generations run by this call
    gen_s = run["train_s"] / here if here > 0 and run["train_s"] else None
    summary = {
        "drift": meta.config.drift,
        "hidden": meta.config.hidden,
        "envs": list(meta.config.envs),
        "generations_done": done,
        "generations": generations,
        "population": meta.population,
        "seeds": meta.config.seeds,
        "crn": meta.config.crn,
        "inner_steps_per_run": meta.num_updates * meta.config.inner_config.batch_size,
        "init_s": init_s + run["init_s"],
        "compile_s": compile_s + run["compile_s"],
        "gen_s_mean": gen_s,
        "generations_per_hour": 3600.0 / gen_s if gen_s else None,
        "ppo_return": {e: finite_or_none(v) for e, v in zip(meta.config.envs, ppo_ref, strict=True)},
        "dpo_return": {
            e: finite_or_none(v) for e, v in zip(meta.config.envs, np.asarray(ref.dpo_return), strict=True)
        },
        "status": run["status"],
        "interrupted": res.interrupted,
        "devices": run["devices"],
    }
    if final_eval and not res.interrupted:
        summary["final_eval"], _ = evaluate_methods(meta, params, key)
    if out_dir is not None:
        save_drift(out_dir / "drift.json", meta.config, params, summary)
        write_jsonl(out_dir / "meta_metrics.jsonl", history)
        if history:
            title = f"{meta.config.drift} on {', '.join(meta.config.envs)}"
            ref_line = 0.0 if meta.config.normalized else float(np.mean(ppo_ref))  # normalised: PPO = 0
            fitness_plot(history, out_dir / "fitness.png", title, reference=ref_line)
        (out_dir / "summary.json").write_text(json.dumps({**run, **summary}, indent=2, default=str))
    return MetaResult(state, params, history, summary, out_dir, res.interrupted)


def _learner(meta: DriftMeta, generations: int, key: jax.Array) -> MetaLearner:
    """One ``MetaLearner`` per (problem, generations, key), so repeated calls (a resume) reuse its baselines
    and the runtime's compiled chunk."""
    cache = meta.__dict__.setdefault("_learners", {})
    ident = (int(generations), np.asarray(jax.random.key_data(key)).tobytes())
    if ident not in cache:
        cache[ident] = MetaLearner(meta, generations, key)
    return cache[ident]
