"""Offline demonstrations on a sparse procedurally generated task: PPO vs behaviour-cloning-pretrained PPO vs
concurrent imitation, with 2, 10 and 100 expert trajectories (Andres et al. 2023, "Using Offline Data to
Speed-up Reinforcement Learning in Procedurally Generated Environments").

Task: ``Maze-Perfect-v0`` made small (9x9 perfect mazes, 5x5 view, 150 steps): the only reward is reaching the
goal (MiniGrid's ``1 - 0.9 * t / T``), and each episode is a new maze. Demonstrations come from the optimal
planner on mazes drawn from the same generator (not the training episodes' mazes). Every variant trains
``--seeds`` seeds in one program with the same PPO settings and budget; reported: the final training return
and the return on 64 fresh mazes per seed (sampled and greedy actions), each as mean and 95% interval over
seeds, and learning curves. The paper used MiniGrid's MultiRoom/KeyCorridor/ObstructedMaze with far larger budgets.

Usage: python experiments/offline_il.py [--seeds 3] [--steps 2000000] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

import jaxrl_suite
from jaxrl_suite import evaluation
from jaxrl_suite.algos import imitation
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train
from jaxrl_suite.results import portable_path, results_dir, run_record
from jaxrl_suite.runtime import train_runs
from jaxrl_suite.runtime.plots import forward_fill
from jaxrl_suite.stats import ci95_summary

RESULTS = Path(__file__).parent / "results"
ENV = dict(size=9, max_steps=150)
DEMOS = (2, 10, 100)


def config(steps: int) -> PPOConfig:
    return PPOConfig(num_envs=32, num_steps=128, num_minibatches=4, update_epochs=4, hidden=(128, 128),
                     total_timesteps=steps)  # fmt: skip


def run(variant: str, n_demos: int, args, env, params) -> dict:
    cfg = config(args.steps)
    hp = PPOHparams(lr=3e-4, ent_coef=0.01, gamma=0.99)
    demos = None
    if n_demos:
        demos = jax.jit(
            lambda k: imitation.expert_demos(env, params, k, n_demos, int(params.max_steps_in_episode))
        )(jax.random.key(1000 + n_demos))
    if variant == "concurrent":
        trainer = imitation.ImitationTrainer(cfg, env, demos, params)
        hp = imitation.ImitationHparams(
            **{f: getattr(hp, f) for f in hp.__dataclass_fields__}, bc_coef=args.bc_coef
        )
    else:
        trainer = make_train(cfg, env, params)
    if variant == "pretrained":
        trainer = imitation.BCPretrained(trainer, demos, args.bc_steps, 1e-3)
    keys = jax.random.split(jax.random.key(0), args.seeds)
    t0 = time.perf_counter()
    res = train_runs(trainer, keys, hp, progress=False, chunk_updates=64)
    wall = time.perf_counter() - t0

    def fresh(greedy: bool):
        fn = lambda s, k: evaluation.evaluate(env, params, trainer.acting(s, greedy), k, 64).returns  # noqa: E731
        return np.asarray(jax.jit(jax.vmap(fn))(res.state, jax.random.split(jax.random.key(7), args.seeds)))

    greedy, sampled = fresh(True).mean(axis=1), fresh(False).mean(axis=1)
    curve = forward_fill(np.asarray(res.metrics["return"]))
    return {
        "variant": variant,
        "demos": n_demos,
        "demo_steps": None if demos is None else int(demos.num_steps),
        "seeds": args.seeds,
        "total_steps": cfg.num_updates * cfg.batch_size,
        "wall_s": wall,
        "final_return": ci95_summary(np.asarray(res.summary["final_return_per_run"], dtype=float)),
        "greedy_return": ci95_summary(greedy),
        "sampled_return": ci95_summary(sampled),
        "curve_steps": np.asarray(res.metrics["steps"][0]).tolist()[::4],
        "curve_return_mean": np.nanmean(curve, axis=0).tolist()[::4],
    }


def plot(rows: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.6), dpi=100)
    ax = fig.subplots()
    for r in rows:
        label = r["variant"] if not r["demos"] else f"{r['variant']} ({r['demos']} demos)"
        ax.plot(r["curve_steps"], r["curve_return_mean"], label=label)
    ax.set_xlabel("env steps")
    ax.set_ylabel("training return (mean over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2_000_000)
    ap.add_argument("--bc-steps", type=int, default=500, help="full-batch cloning steps before PPO")
    ap.add_argument("--bc-coef", type=float, default=0.1, help="weight of the concurrent cloning term")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, 1/40 of the steps")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.steps < 1:
        raise SystemExit("error: --seeds and --steps must be >= 1")
    if args.quick:
        args.seeds, args.steps, args.bc_steps = 2, max(32 * 128 * 2, args.steps // 40), 50
    env, params = jaxrl_suite.make("Maze-Perfect-v0", **ENV)
    rows = [run("ppo", 0, args, env, params)]
    for n in DEMOS:
        for variant in ("pretrained", "concurrent"):
            rows.append(run(variant, n, args, env, params))
    if not args.json:
        for r in rows:
            g, f = r["sampled_return"], r["greedy_return"]
            print(f"{r['variant']:<11} demos {r['demos']:>3}: fresh mazes {g['mean']:.3f} ± {g['ci95']:.3f} "
                  f"(greedy {f['mean']:.3f} ± {f['ci95']:.3f})")  # fmt: skip
    out_dir = results_dir(args.quick)
    plot_path = out_dir / "offline_il.png"
    plot(rows, plot_path)
    summary = {
        **run_record("experiment", "offline_il", args.quick),
        "env": {"id": "Maze-Perfect-v0", **ENV},
        "settings": {
            **{
                k: getattr(config(args.steps), k)
                for k in ("num_envs", "num_steps", "num_minibatches", "update_epochs", "hidden")
            },
            "lr": 3e-4,
            "ent_coef": 0.01,
            "bc_steps": args.bc_steps,
            "bc_coef": args.bc_coef,
            "steps": args.steps,
        },  # fmt: skip
        "rule": "final = mean training return over the last 5% of updates; sampled / greedy = mean return on 64 "
        "fresh mazes per seed, actions sampled from the policy / its most likely action (an undertrained "
        "policy's greedy action is often one constant action); mean and 95% Student-t interval over seeds",
        "results": rows,
        "plot": portable_path(plot_path),
    }
    (out_dir / "offline_il.json").write_text(json.dumps(summary, indent=1, default=str))
    brief = {f"{r['variant']}_{r['demos']}": r["sampled_return"]["mean"] for r in rows}
    print(
        json.dumps({k: v for k, v in summary.items() if k != "results"} | {"fresh_maze_return_mean": brief})
    )
    return summary


if __name__ == "__main__":
    main()
