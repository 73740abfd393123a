"""Memory tasks: feed-forward vs GRU vs LSTM PPO on tasks that need memory, same settings per task.

Tasks: ``Probe-memory-discrete-v0`` (a cue at the first step, acted on after 4 blank steps; memoryless best
return 0), ``CartPole-masked-v1`` (no velocities, as POPGym's stateless CartPole) and ``MiniGrid-MemoryS7-v0``
(see an object, walk down a corridor, pick the matching one; a memoryless policy can guess, ~0.5). Each
(task, policy) trains ``--seeds`` seeds in one program (``train_runs``); the feed-forward torso has the
recurrent core's width as a second layer, so the three have the same depth. Reports the final return (mean
over the last 5% of updates, then mean and sd over seeds) and the greedy evaluation return (64 episodes per
seed, the hidden state carried), writes experiments/results/train_memory.json and a learning-curve plot.

Usage: python experiments/train_memory.py [--tasks probe,masked,memory[,memory_long,memory_onehot]]
       [--policies mlp,gru,lstm]
       [--seeds 3] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import jax
import numpy as np

import jaxrl_suite
from jaxrl_suite import evaluation
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train
from jaxrl_suite.envs.grid.onehot import OneHotCells
from jaxrl_suite.results import portable_path, results_dir, run_record
from jaxrl_suite.runtime import train_runs
from jaxrl_suite.runtime.plots import forward_fill

RESULTS = Path(__file__).parent / "results"
POLICIES = ("mlp", "gru", "lstm")


@dataclasses.dataclass(frozen=True)
class Task:
    """One memory task's PPO settings (the recurrent width is the torso's; the MLP gets two such layers)."""

    env: str
    total: int
    num_envs: int
    num_steps: int
    minibatches: int
    width: int
    lr: float
    ent: float
    anneal: bool
    onehot: bool = False  # grid cells as one-hot channels (``envs.grid.onehot``) instead of integer codes


# fmt: off
TASKS = {  # env, total steps, envs x steps, minibatches, width, lr, entropy, anneal lr
    "probe": Task("Probe-memory-discrete-v0", 20_480, 16, 32, 4, 32, 3e-3, 0.0, False),
    "masked": Task("CartPole-masked-v1", 500_000, 16, 64, 4, 64, 1e-3, 0.01, True),
    "memory": Task("MiniGrid-MemoryS7-v0", 5_000_000, 32, 128, 8, 128, 5e-4, 0.01, True),
}
# fmt: on
# the same MemoryS7 settings at 12 M steps: run only when named (``--tasks memory_long``; ~1 h per policy)
TASKS["memory_long"] = dataclasses.replace(TASKS["memory"], total=12_000_000)
# the 5 M MemoryS7 settings with one-hot cells: run only when named (``--tasks memory_onehot``)
TASKS["memory_onehot"] = dataclasses.replace(TASKS["memory"], onehot=True)
DEFAULT_TASKS = "probe,masked,memory"


def run_task(name: str, policy: str, seeds: int, scale: float) -> dict:
    t = TASKS[name]
    env, params = jaxrl_suite.make(t.env)
    if t.onehot:
        env = OneHotCells(env)
    batch = t.num_envs * t.num_steps
    total = max(batch * 2, int(t.total * scale) // batch * batch)
    cfg = PPOConfig(
        policy=policy,
        num_envs=t.num_envs,
        num_steps=t.num_steps,
        total_timesteps=total,
        num_minibatches=t.minibatches,
        update_epochs=4,
        hidden=(t.width,) if policy != "mlp" else (t.width, t.width),
        rnn_hidden=t.width,
        anneal_lr=t.anneal,
    )
    hp = PPOHparams(lr=t.lr, ent_coef=t.ent)
    trainer = make_train(cfg, env, params)
    t0 = time.perf_counter()
    res = train_runs(
        trainer, jax.random.split(jax.random.key(0), seeds), hp, progress=False, chunk_updates=64
    )
    evaluate = jax.jit(lambda act, k: evaluation.evaluate(env, params, act, k, 64))
    greedy = []
    for s in range(seeds):
        state = jax.tree.map(lambda x, s=s: x[s], res.state)
        ep = evaluate(trainer.acting(state), jax.random.key(100 + s))
        greedy.append(float(np.mean(np.asarray(ep.returns))))
    curve = forward_fill(res.metrics["return"])
    return {
        "env": t.env,
        "policy": policy,
        "seeds": seeds,
        "total_steps": total,
        "settings": {k: v for k, v in dataclasses.asdict(t).items() if k != "env"},
        "wall_s": time.perf_counter() - t0,
        "compile_s": res.summary["compile_s"],
        "train_s": res.summary["train_s"],
        "final_return_mean": res.summary["final_return_mean"],
        "final_return_std": res.summary["final_return_std"],
        "final_return_per_seed": res.summary["final_return_per_run"],
        "greedy_eval_return_mean": float(np.mean(greedy)),
        "greedy_eval_return_per_seed": greedy,
        **thin_curve(np.asarray(res.metrics["steps"][0]), np.nanmean(curve, axis=0)),
    }


def thin_curve(steps: np.ndarray, values: np.ndarray, points: int = 200) -> dict:
    """At most ``points`` evenly spaced curve points (the last kept), values to 4 decimals: a results file
    stays small."""
    idx = np.unique(np.linspace(0, len(steps) - 1, min(points, len(steps))).round().astype(int))
    vals = [None if not np.isfinite(v) else round(float(v), 4) for v in values[idx]]
    return {"curve_steps": steps[idx].tolist(), "curve_return_mean": vals}


def plot(results: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(results), 3.2), dpi=100)
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (task, by_policy) in zip(axes, results.items(), strict=True):
        for policy, r in by_policy.items():
            ax.plot(r["curve_steps"], r["curve_return_mean"], label=policy)
        ax.set_title(f"{TASKS[task].env} ({TASKS[task].total / 1e6:g} M steps)", fontsize=9)
        ax.set_xlabel("env steps")
        ax.set_ylabel("return (mean over seeds)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default=DEFAULT_TASKS, help=f"comma-separated, from {', '.join(TASKS)}")
    ap.add_argument("--policies", default=",".join(POLICIES), help="comma-separated, from mlp,gru,lstm")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smoke run: 1/20 of the budgets, 2 seeds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    policies = [p for p in args.policies.split(",") if p]
    unknown = sorted(set(tasks) - set(TASKS)) + sorted(set(policies) - set(POLICIES))
    if unknown or args.seeds < 1 or not policies:
        raise SystemExit(f"error: unknown task(s)/policies {unknown} (tasks: {sorted(TASKS)}; policies: "
                         f"{POLICIES}), no policy, or --seeds < 1")  # fmt: skip
    seeds, scale = (2, 0.05) if args.quick else (args.seeds, 1.0)
    out_dir = results_dir(args.quick)
    out_file = out_dir / "train_memory.json"
    # (task, policy) pairs not run this time keep their stored results (each result says when it ran)
    results: dict = json.loads(out_file.read_text())["results"] if out_file.exists() else {}
    results = {t: {p: r for p, r in by.items() if p in POLICIES} for t, by in results.items() if t in TASKS}
    for task in tasks:
        results.setdefault(task, {})
        for policy in policies:
            r = run_task(task, policy, seeds, scale)
            r["ran_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            results[task][policy] = r
            if not args.json:
                print(
                    f"{r['env']:<26} {policy:<5} final {r['final_return_mean']:.3f} ± {r['final_return_std']:.3f}"
                    f"  greedy {r['greedy_eval_return_mean']:.3f}  ({r['wall_s']:.0f} s)",
                    flush=True,
                )
    results = {t: {p: results[t][p] for p in POLICIES if p in results[t]} for t in TASKS if results.get(t)}
    plot_path = out_dir / "train_memory.png"
    plot(results, plot_path)
    summary = {
        **run_record("experiment", "train_memory", args.quick),
        "rule": "final return = mean episode return over the last 5% of updates, then mean and sd over seeds; "
        "greedy = mean return of 64 fresh greedy episodes per seed, averaged over seeds",
        "results": results,
        "plot": portable_path(plot_path),
    }
    out_file.write_text(json.dumps(summary, indent=1, default=str))
    brief = {
        t: {p: (r["final_return_mean"], r["greedy_eval_return_mean"]) for p, r in by.items()}
        for t, by in results.items()
    }
    print(json.dumps({**{k: v for k, v in summary.items() if k != "results"}, "final_and_greedy": brief}))
    return summary


if __name__ == "__main__":
    main()
