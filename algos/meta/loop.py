"""The meta-training loop: generations with a progress bar, per-generation checkpoints and exact resume.

``meta_train`` checkpoints the ES state every generation (orbax, via the runtime's ``Checkpointer``) and
writes ``drift.json``, ``meta_metrics.jsonl``, ``fitness.png`` and ``summary.json`` into ``out_dir``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm  # plain text bar (tqdm.auto warns in notebooks without ipywidgets)

from jaxrl_suite.algos.meta.problem import DriftMeta, MetaState
from jaxrl_suite.algos.meta.report import evaluate_methods, fitness_plot, save_drift, write_jsonl
from jaxrl_suite.runtime.checkpoint import Checkpointer, CheckpointError
from jaxrl_suite.runtime.rundir import fingerprint as spec_fingerprint
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
    progress: bool = True,
    eval_every: int = 0,
    spec: dict | None = None,
    stop_after: int | None = None,
    final_eval: bool = True,
) -> MetaResult:
    """Run ``generations`` ES generations; checkpoint after each into ``out_dir/checkpoints``; resume exactly.

    ``eval_every`` > 0 also evaluates the ES mean on the held-out seeds every that many generations.
    ``stop_after`` simulates an interruption after that many generations of this call (for tests).
    """
    if generations < 1:
        raise ValueError(f"generations must be >= 1, got {generations}")
    spec = {
        **(spec or {}),
        "meta_config": meta.config.to_json(),
        "key": np.asarray(jax.random.key_data(key)).tolist(),
    }
    fingerprint = spec_fingerprint(spec)
    out_dir = Path(out_dir) if out_dir is not None else None
    ckpt = Checkpointer(out_dir / "checkpoints", max_to_keep=2) if out_dir is not None else None
    history: list[dict] = []
    if resume:  # refuse a checkpoint of another run before compiling anything
        if ckpt is None:
            raise ValueError("resume needs an output directory holding checkpoints")
        meta_info = ckpt.read_meta()
        if meta_info.get("fingerprint") != fingerprint:
            ckpt.close()
            raise CheckpointError(
                f"checkpoint in {ckpt.directory} belongs to a different meta-training run "
                f"(its spec: {json.dumps(meta_info.get('spec'), sort_keys=True)[:400]}); refusing "
                "to resume"
            )
    compile_s = 0.0
    if meta._compiled is None:
        t = time.perf_counter()
        meta.compiled_runs()
        compile_s = time.perf_counter() - t
    t0 = time.perf_counter()
    if resume:
        template = jax.eval_shape(lambda: _template_state(meta))
        template = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), template)
        state, meta_info = ckpt.restore(template)
        history = [r for r in meta_info.get("history", []) if r["generation"] < int(state.generation)]
    else:
        state = meta.init(key)
    init_s = time.perf_counter() - t0
    start = int(state.generation)
    bar = tqdm(
        total=generations,
        initial=min(start, generations),
        unit="gen",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
        desc=f"meta-train {meta.config.drift}",
    )
    if progress and start < generations:
        ppo = ", ".join(
            f"{e} {v:.4g}" for e, v in zip(meta.config.envs, np.asarray(state.ppo_return), strict=True)
        )
        dpo = ", ".join(
            f"{e} {v:.4g}" for e, v in zip(meta.config.envs, np.asarray(state.dpo_return), strict=True)
        )
        bar.write(f"held-out seeds: PPO {ppo}; DPO {dpo}", file=sys.stderr)
    interrupted = False
    gen_times = []
    done_here = 0
    ppo_ref = np.asarray(state.ppo_return, np.float64)

    def eval_fitness(params) -> tuple[float, dict]:
        res = meta.evaluate({"learned": meta.method_hparams("learned", params)}, meta.eval_keys(key))
        per_env = nanmean(res["learned"]["final"])
        score = (per_env - ppo_ref) / np.maximum(np.abs(ppo_ref), 1.0) if meta.config.normalized else per_env
        return float(np.mean(score)), {e: finite_or_none(per_env[i]) for i, e in enumerate(meta.config.envs)}

    try:
        while int(state.generation) < generations:
            t = time.perf_counter()
            state, row = meta.step(state, key)
            row["gen_s"] = time.perf_counter() - t
            gen_times.append(row["gen_s"])
            g = int(state.generation)
            if eval_every and (g % eval_every == 0 or g == generations):
                row["eval_fitness"], row["eval_return"] = eval_fitness(meta.mean_params(state))
            history.append(row)
            if ckpt is not None:
                ckpt.save(
                    g, state, {"generation": g, "fingerprint": fingerprint, "spec": spec, "history": history}
                )
                write_jsonl(out_dir / "meta_metrics.jsonl", history)
            bar.update(1)
            bar.set_postfix(
                fit=f"{row['fitness_mean']:.4g}" if row["fitness_mean"] is not None else "nan",
                best=f"{row['fitness_max']:.4g}" if row["fitness_max"] is not None else "nan",
            )
            done_here += 1
            if stop_after is not None and done_here >= stop_after and g < generations:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        if ckpt is not None:
            print(
                f"\ninterrupted at generation {int(state.generation)}/{generations}; checkpoint in "
                f"{ckpt.directory}; rerun with resume to continue",
                file=sys.stderr,
            )
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()

    params = meta.mean_params(state)
    summary = {
        "drift": meta.config.drift,
        "hidden": meta.config.hidden,
        "envs": list(meta.config.envs),
        "generations_done": int(state.generation),
        "generations": generations,
        "population": meta.population,
        "seeds": meta.config.seeds,
        "crn": meta.config.crn,
        "inner_steps_per_run": meta.num_updates * meta.config.inner_config.batch_size,
        "init_s": init_s,
        "compile_s": compile_s,
        "gen_s_mean": float(np.mean(gen_times)) if gen_times else None,
        "generations_per_hour": 3600.0 / float(np.mean(gen_times)) if gen_times else None,
        "ppo_return": {
            e: finite_or_none(v) for e, v in zip(meta.config.envs, np.asarray(state.ppo_return), strict=True)
        },
        "dpo_return": {
            e: finite_or_none(v) for e, v in zip(meta.config.envs, np.asarray(state.dpo_return), strict=True)
        },
        "interrupted": interrupted,
    }
    if final_eval and not interrupted:
        summary["final_eval"], _ = evaluate_methods(meta, params, key)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_drift(out_dir / "drift.json", meta.config, params, summary)
        if history:
            title = f"{meta.config.drift} on {', '.join(meta.config.envs)}"
            ref = 0.0 if meta.config.normalized else float(np.mean(ppo_ref))  # normalised scores: PPO = 0
            fitness_plot(history, out_dir / "fitness.png", title, reference=ref)
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return MetaResult(state, params, history, summary, out_dir, interrupted)


def _template_state(meta: DriftMeta) -> MetaState:
    """Shapes of a ``MetaState`` without running the baselines (restore template)."""
    es_state = meta.evolution.init(jax.random.key(0), meta.template)
    n = len(meta.config.envs)
    return MetaState(
        es=es_state,
        generation=jnp.zeros((), jnp.int32),
        ppo_return=jnp.zeros((n,), jnp.float32),
        dpo_return=jnp.zeros((n,), jnp.float32),
    )
