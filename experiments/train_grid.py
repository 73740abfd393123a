"""Train PPO on MiniGrid-faithful grid worlds: DoorKey-5x5 and a FourRooms-sized task.

For each task: a learning curve (mean and range over seeds), a GIF of the trained agent, the wall clock, and a
greedy evaluation. The egocentric 7x7x3 view (object, colour, state) and the direction are flattened into an
MLP, as in PPO baselines for MiniGrid.

Usage: python experiments/train_grid.py [--tasks doorkey fourrooms] [--seeds 2] [--results PATH] [--json]
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

import imageio.v2 as imageio
import jax
import numpy as np

import jaxrl_suite
from jaxrl_suite import evaluation
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train
from jaxrl_suite.results import portable_path, publish
from jaxrl_suite.runtime import train_runs

RESULTS = Path(__file__).parent / "results" / "train_grid.json"
TASKS = {
    "doorkey": dict(
        env="MiniGrid-DoorKey-5x5-v0", total=500_000, num_envs=32, num_steps=128, lr=1e-3, ent=0.01
    ),
    "fourrooms": dict(
        env="MiniGrid-FourRooms-v0", total=3_000_000, num_envs=64, num_steps=128, lr=5e-4, ent=0.01
    ),
    "empty16": dict(
        env="MiniGrid-Empty-16x16-v0", total=1_000_000, num_envs=32, num_steps=128, lr=1e-3, ent=0.01
    ),
}


def train_task(name: str, seeds: int, out_root: Path, total: int | None, progress: bool) -> dict:
    t = TASKS[name]
    env, params = jaxrl_suite.make(t["env"])
    cfg = PPOConfig(
        num_envs=t["num_envs"],
        num_steps=t["num_steps"],
        total_timesteps=total or t["total"],
        update_epochs=4,
        num_minibatches=8,
        hidden=(128, 128),
    )
    hp = PPOHparams(lr=t["lr"], ent_coef=t["ent"])
    trainer = make_train(cfg, env, params)
    out = out_root / name
    t0 = time.perf_counter()
    res = train_runs(
        trainer,
        jax.random.split(jax.random.key(0), seeds),
        hp,
        out_dir=out,
        overwrite=True,  # a rerun of this script replaces its own runs
        progress=progress,
        spec={"algo": "ppo", "env": t["env"], "config": {k: v for k, v in cfg.__dict__.items()}},
        title=f"PPO on {t['env']}",
    )
    wall = time.perf_counter() - t0
    best = jax.tree.map(lambda x: x[0], res.state)
    ev = jax.jit(lambda s, k: evaluation.evaluate(env, params, functools.partial(trainer.act, s), k, 64))(
        best, jax.random.key(1)
    )
    ro = jax.jit(lambda s, k: evaluation.rollout(env, params, functools.partial(trainer.act, s), k))(
        best, jax.random.key(2)
    )
    frames = evaluation.episode_frames(env, params, ro)
    imageio.mimsave(out / "agent.gif", list(frames), duration=150, loop=0)
    s = res.summary
    return {
        "env": t["env"],
        "seeds": seeds,
        "total_steps": s["total_steps"],
        "wall_s": wall,
        "compile_s": s["compile_s"],
        "train_s": s["train_s"],
        "steps_per_s": s["steps_per_s"],
        "final_return_mean": s.get("final_return_mean"),
        "final_return_std": s.get("final_return_std"),
        "final_return_per_seed": s.get("final_return_per_run"),
        "greedy_eval_return": float(np.asarray(ev.returns).mean()),
        "gif": portable_path(out / "agent.gif"),
        "learning_curve": portable_path(out / "learning_curve.png"),
    }


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", nargs="+", default=["doorkey", "fourrooms"], choices=sorted(TASKS))
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--total-steps", type=int, help="override every task's step budget")
    ap.add_argument("--out", default="runs/grid")
    ap.add_argument("--results", default=str(RESULTS), help="where the JSON summary goes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = {
        name: train_task(name, args.seeds, Path(args.out), args.total_steps, not args.json)
        for name in args.tasks
    }
    summary = {"experiment": "train_grid", "device": jax.devices()[0].device_kind, "results": results}

    def lines():
        for r in results.values():
            yield (
                f"{r['env']}: final return {r['final_return_mean']:.3f} ± {r['final_return_std']:.3f} "
                f"(greedy {r['greedy_eval_return']:.3f}) after {r['total_steps']} steps, {r['wall_s']:.0f}s wall"
            )

    return publish(summary, args.results, lines, args.json)


if __name__ == "__main__":
    main()
