"""Benchmark: drift meta-training throughput (generations per hour) and memory per population member.

Work: the settings of notebooks/discover_drift.ipynb (full mode, = the CPU preset of meta_train_lpo.py): LPO
drift of width 16 meta-trained on CartPole-v1; each member trains 4 seeds x 20,480 steps (8 envs x 128 steps,
20 updates of 4 epochs x 4 minibatches, 64x64 tanh actor-critic); the notebook's population is 32. For each
population size, the whole population x seeds of inner runs is one compiled program: we report its compile
time (ahead-of-time lower + compile), the steady-state seconds per generation (ask + all inner runs + tell,
after a warm-up generation that compiles evosax's ask/tell), the resulting generations per hour and inner
env-steps per second, and XLA's memory analysis of the program
(arguments + outputs + temporaries) divided by the population size. Linear fits give the marginal seconds and
bytes per member. The earlier reference run: pop 16 x 2 seeds x 3e4 steps ~11-13 s per
generation on a 2-core CPU (measured under load).

Usage: python experiments/bench_meta.py [--json] [--populations 4,8,16,32] [--generations 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import time
from pathlib import Path

import jax
import numpy as np

from jaxrl_suite.algos.drift_ppo import DriftConfig, DriftHparams
from jaxrl_suite.algos.meta import DriftMeta, ESConfig, MetaConfig
from jaxrl_suite.results import publish

NOTEBOOK_INNER = MetaConfig().inner  # the notebook's full mode uses the meta-training CPU preset
NOTEBOOK_SEEDS, NOTEBOOK_HIDDEN, NOTEBOOK_POPULATION = 4, 16, 32


def meta_config(population: int, inner: DriftConfig, seeds: int, eval_seeds: int) -> MetaConfig:
    """The notebook's (and the CPU preset's) LPO meta-training at this population and inner run."""
    return MetaConfig(
        envs=("CartPole-v1",),
        drift="lpo",
        hidden=NOTEBOOK_HIDDEN,
        seeds=seeds,
        eval_seeds=eval_seeds,
        crn="fixed",
        es=ESConfig(population=population, sigma=0.1, lr=0.02),
        fitness_tail=1.0,
        inner=inner,
        inner_hparams=DriftHparams(lr=5e-3),
    )


def measure(population: int, generations: int, inner: DriftConfig, seeds: int) -> dict:
    meta = DriftMeta(meta_config(population, inner, seeds, eval_seeds=2))
    t = time.perf_counter()
    compiled = meta.compiled_runs()
    compile_s = time.perf_counter() - t
    mem = compiled.memory_analysis()
    program_bytes = int(mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes)
    state = meta.init(jax.random.key(0))
    times = []
    for g in range(generations + 1):  # generation 0 also compiles evosax's ask/tell for this population size
        t = time.perf_counter()
        state, row = meta.step(state, jax.random.key(1))
        jax.block_until_ready(state.es.mean)
        if g > 0:
            times.append(time.perf_counter() - t)
    gen_s = float(np.median(times))
    steps = population * seeds * inner.num_updates * inner.batch_size
    return {
        "population": population,
        "seeds": seeds,
        "compile_s": compile_s,
        "gen_s": gen_s,
        "gen_s_all": times,
        "generations_per_hour": 3600.0 / gen_s,
        "inner_env_steps_per_s": steps / gen_s,
        "program_bytes": program_bytes,
        "temp_bytes": int(mem.temp_size_in_bytes),
        "bytes_per_member": program_bytes / population,
        "max_rss_mb_so_far": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "fitness_mean_last": row["fitness_mean"],
    }


def measure_loop(population: int, generations: int, inner: DriftConfig, seeds: int, eval_every: int) -> dict:
    """The same work through ``meta_train`` as ``meta_train_lpo.py`` runs it: the runtime loop, a checkpoint
    every generation and a held-out evaluation of the ES mean every ``eval_every`` generations. Reports the
    loop's compute per generation (its ``gen_s_mean``) and the wall time per generation with the evaluations
    and checkpoints, so the recorded runs' rate can be told apart from the bare generation's."""
    import tempfile

    from jaxrl_suite.algos.meta import meta_train

    config = meta_config(population, inner, seeds, eval_seeds=16)
    meta = DriftMeta(config)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        res = meta_train(
            meta, jax.random.key(0), generations, out_dir=tmp, eval_every=eval_every, progress=False,
            final_eval=False,
        )  # fmt: skip
        wall = time.perf_counter() - t
    s = res.summary
    per_gen_wall = (wall - s["compile_s"] - s["init_s"]) / generations
    return {
        "population": population,
        "generations": generations,
        "eval_every": eval_every,
        "eval_seeds": config.eval_seeds,
        "compile_s": s["compile_s"],
        "init_s_incl_baselines": s["init_s"],
        "loop_gen_s": s["gen_s_mean"],
        "loop_generations_per_hour": s["generations_per_hour"],
        "wall_gen_s_incl_evals_and_checkpoints": per_gen_wall,
        "wall_generations_per_hour": 3600.0 / per_gen_wall,
    }


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--populations", default="4,8,16,32", help="comma-separated (even) population sizes")
    ap.add_argument(
        "--generations", type=int, default=3, help="timed generations per size (after one warm-up)"
    )
    ap.add_argument(
        "--loop-generations",
        type=int,
        default=5,
        help="generations through meta_train's runtime loop at the notebook population (0: skip)",
    )
    ap.add_argument(
        "--total-steps", type=int, default=NOTEBOOK_INNER.total_timesteps, help="inner steps per run"
    )
    args = ap.parse_args()
    pops = [int(p) for p in args.populations.split(",") if p]
    if not pops or any(p < 2 or p % 2 for p in pops):
        raise ValueError(f"population sizes must be even and >= 2, got {pops}")
    if args.generations < 1:
        raise ValueError("--generations must be >= 1")
    inner = dataclasses.replace(NOTEBOOK_INNER, total_timesteps=args.total_steps).validate()

    rows = [measure(p, args.generations, inner, NOTEBOOK_SEEDS) for p in pops]
    p = np.array([r["population"] for r in rows], float)
    fit = lambda y: np.polyfit(p, np.asarray(y, float), 1) if len(p) > 1 else (np.nan, np.nan)  # noqa: E731
    s_slope, s_icpt = fit([r["gen_s"] for r in rows])
    b_slope, b_icpt = fit([r["program_bytes"] for r in rows])
    at_notebook = next((r for r in rows if r["population"] == NOTEBOOK_POPULATION), rows[-1])
    loop = None
    if args.loop_generations > 0:  # meta_train_lpo.py's loop (eval every 5 generations) on the same work
        loop = measure_loop(at_notebook["population"], args.loop_generations, inner, NOTEBOOK_SEEDS, 5)
    result = {
        "benchmark": "bench_meta",
        "work": (
            f"LPO (hidden {NOTEBOOK_HIDDEN}) meta-training on CartPole-v1, notebook settings: "
            f"{NOTEBOOK_SEEDS} seeds x {inner.num_updates * inner.batch_size} steps per member "
            f"({inner.num_envs} envs x {inner.num_steps} steps, {inner.update_epochs} epochs x "
            f"{inner.num_minibatches} minibatches)"
        ),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {jax.devices()[0].device_kind}",
        "jax": jax.__version__,
        "load_average_at_start": os.getloadavg()[0],
        "by_population": rows,
        "notebook_population": at_notebook["population"],
        "generations_per_hour_at_notebook_settings": at_notebook["generations_per_hour"],
        "bytes_per_member_at_notebook_settings": at_notebook["bytes_per_member"],
        "meta_train_loop": loop,
        "scaling": {
            "gen_s_per_member": float(s_slope),
            "gen_s_fixed": float(s_icpt),
            "program_bytes_per_member": float(b_slope),
            "program_bytes_fixed": float(b_icpt),
        },
    }

    def lines():
        for r in rows:
            yield (
                f"population {r['population']:3d}: compile {r['compile_s']:5.1f}s, {r['gen_s']:6.2f}s/generation "
                f"({r['generations_per_hour']:7.0f}/hour, {r['inner_env_steps_per_s']:.3g} env-steps/s), "
                f"{r['bytes_per_member'] / 1e6:.2f} MB/member (program {r['program_bytes'] / 1e6:.1f} MB)"
            )
        yield f"marginal cost per member: {s_slope:.3f} s/generation, {b_slope / 1e6:.2f} MB"
        if loop:
            yield (
                f"meta_train loop, population {loop['population']}: {loop['loop_gen_s']:.2f} s/generation "
                f"computing, {loop['wall_gen_s_incl_evals_and_checkpoints']:.2f} s with evaluations "
                f"(every {loop['eval_every']}) and checkpoints"
            )

    return publish(result, Path(__file__).parent / "results" / "bench_meta.json", lines, args.json)


if __name__ == "__main__":
    main()
