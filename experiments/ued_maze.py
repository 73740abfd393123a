"""UED on mazes: domain randomisation vs robust PLR vs ACCEL vs PAIRED, same student, same budget, judged
out of distribution on the held-out mazes (JaxUED's prefabs and minimax's procedural ones,
``envs/grid/heldout.py``). The budget counts the student's (PAIRED: the
protagonist's) env steps; PAIRED's antagonist takes as many again and its adversary builds every level.

Each method trains ``--seeds`` seeds in one program (``train_runs``) on ``Maze-v0`` (JaxUED's Maze: 13x13,
up to 60 walls, 5x5 view, 250 steps). Every ``--eval-every`` updates and at the end the student is evaluated
on each held-out maze (``heldout``: 16 episodes per level, actions sampled from the policy as JaxUED's
evaluation does, or ``--eval-policy greedy``: a greedy recurrent policy on a fixed level plays the same
episode 16 times and loops forever wherever it once does); the report gives, per method, the final
solve rate per level and averaged over levels, each with a 95% Student-t interval over seeds, and the
learning curves. The papers (Jiang et al. 2021; Parker-Holder et al. 2022; JaxUED) train an LSTM student for
~250 M steps on GPUs; the budget here is what a 2-core CPU affords, stated in the results.

Usage: python experiments/ued_maze.py [--methods dr,plr,accel,paired] [--seeds 3] [--steps 10000000] [--out STEM]
       [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

import jaxrl_suite
from jaxrl_suite.algos.ued.curriculum import UEDConfig, UEDHparams, heldout, make_train
from jaxrl_suite.envs.grid.heldout import group_of, heldout_set
from jaxrl_suite.results import portable_path, results_dir, run_record
from jaxrl_suite.runtime import train_runs
from jaxrl_suite.stats import ci95_summary, welch_diff

RESULTS = Path(__file__).parent / "results"
METHODS = ("dr", "plr", "accel", "paired")


def settings(args) -> dict:
    """The student and PPO settings (JaxUED's maze PPO, smaller student and batch for the CPU)."""
    return dict(
        num_envs=32,
        num_steps=128,
        num_minibatches=4,
        update_epochs=4,
        policy=args.policy,
        hidden=(64,),
        rnn_hidden=64,
        capacity=4000,
        score="maxmc",
        num_edits=5,
        total_timesteps=args.steps,
    )


def run_method(method: str, args, levels, names: list[str], limits) -> dict:
    env, params = jaxrl_suite.make("Maze-v0")
    cfg = UEDConfig(method=method, **settings(args))
    hp = UEDHparams(lr=args.lr, gamma=0.995, gae_lambda=0.98, ent_coef=1e-3)
    trainer = make_train(cfg, env, params)
    greedy = args.eval_policy == "greedy"
    evaluate = jax.jit(
        jax.vmap(
            lambda s, k: heldout(trainer, s, k, levels, episodes=16, greedy=greedy, max_steps=limits),
            in_axes=(0, None),
        ),
    )
    curve = []

    def on_chunk(state, metrics):
        update = int(np.asarray(state.ppo.update_step)[0])
        out = evaluate(state, jax.random.key(update))
        curve.append({"update": update, "steps": update * cfg.batch_size,
                      "solve_rate_mean": np.asarray(out["solve_rate"]).mean(axis=1).tolist()})  # fmt: skip
        return None, False

    keys = jax.random.split(jax.random.key(0), args.seeds)
    chunk = max(1, cfg.num_updates // args.evals)
    t0 = time.perf_counter()
    res = train_runs(trainer, keys, hp, progress=False, chunk_updates=chunk, on_chunk=on_chunk)
    wall = time.perf_counter() - t0
    final = evaluate(res.state, jax.random.key(10_000))
    solved = np.asarray(final["solve_rate"])  # [seeds, levels]
    returns = np.asarray(final["return"])
    replay = np.asarray(res.metrics["branch"]) if "branch" in res.metrics else None  # PAIRED builds all
    return {
        "method": method,
        "seeds": args.seeds,
        "total_steps": cfg.num_updates * cfg.batch_size,
        "wall_s": wall,
        "compile_s": res.summary["compile_s"],
        "steps_per_s": res.summary["steps_per_s"],
        "train_return": ci95_summary(np.asarray(res.summary["final_return_per_run"], dtype=float)),
        "heldout_solve_rate_mean": ci95_summary(solved.mean(axis=1)),
        "heldout_solve_rate": {n: ci95_summary(solved[:, i]) for i, n in enumerate(names)},
        "heldout_solve_rate_by_level": {
            g: ci95_summary(solved[:, [i for i, n in enumerate(names) if group_of(n) == g]].mean(axis=1))
            for g in dict.fromkeys(group_of(n) for n in names)
        },
        "heldout_return": {n: ci95_summary(returns[:, i]) for i, n in enumerate(names)},
        "branch_fractions": None
        if replay is None
        else {b: float((replay == i).mean()) for i, b in enumerate(("new", "replay", "mutate"))},
        "curve": curve,
    }


def versus_dr(results: dict) -> dict | None:
    """Each method's mean held-out solve rate minus DR's, with a 95% Welch interval over seeds (None without DR):
    the comparison the papers make, judged by an interval on the difference itself."""
    if "dr" not in results:
        return None
    dr = results["dr"]["heldout_solve_rate_mean"]["per_seed"]
    return {
        m: welch_diff(r["heldout_solve_rate_mean"]["per_seed"], dr) for m, r in results.items() if m != "dr"
    }


def plot(results: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.4), dpi=100)
    ax_curve, ax_bar = fig.subplots(1, 2)
    for method, r in results["methods"].items():
        steps = [c["steps"] for c in r["curve"]]
        rates = np.array([c["solve_rate_mean"] for c in r["curve"]])
        ax_curve.plot(steps, rates.mean(axis=1), label=method)
    ax_curve.set_xlabel("env steps")
    ax_curve.set_ylabel("held-out solve rate (mean of levels, seeds)")
    ax_curve.legend(fontsize=8)
    names = list(next(iter(results["methods"].values()))["heldout_solve_rate_by_level"])
    width = 0.8 / max(1, len(results["methods"]))
    for j, (method, r) in enumerate(results["methods"].items()):
        means = [r["heldout_solve_rate_by_level"][n]["mean"] or 0.0 for n in names]
        errs = [r["heldout_solve_rate_by_level"][n]["ci95"] or 0.0 for n in names]
        ax_bar.bar(np.arange(len(names)) + j * width, means, width, yerr=errs, label=method)
    ax_bar.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=60, fontsize=7, ha="right")
    ax_bar.set_ylabel("final solve rate (95% CI over seeds)")
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10_000_000)
    ap.add_argument("--policy", default="gru", choices=("mlp", "gru", "lstm"))
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--evals", type=int, default=10, help="held-out evaluations during training")
    ap.add_argument("--instances", type=int, default=4, help="draws of each procedural held-out maze")
    ap.add_argument("--eval-policy", default="sample", choices=("sample", "greedy"), help="held-out actions")
    ap.add_argument("--out", default=None, help="results file stem (default ued_maze, or ued_maze_greedy)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, 1/50 of the steps")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    if set(methods) - set(METHODS) or args.seeds < 1 or args.steps < 1:
        raise SystemExit(f"error: methods from {METHODS}, --seeds >= 1 and --steps >= 1")
    if args.out is not None and not args.out.replace("_", "").replace("-", "").isalnum():
        raise SystemExit(f"error: --out {args.out!r}: a file stem (letters, digits, - and _), not a path")
    if args.quick:
        args.seeds, args.steps, args.evals = 2, max(32 * 128 * 4, args.steps // 50), 2
    names, levels, limits = heldout_set(instances=args.instances)
    out_dir = results_dir(args.quick)
    # each rule keeps its own file unless --out names one
    stem = args.out or ("ued_maze" if args.eval_policy == "sample" else "ued_maze_greedy")
    path, plot_path = out_dir / f"{stem}.json", out_dir / f"{stem}.png"
    results: dict = {}
    summary: dict = {}
    for m in methods:
        results[m] = run_method(m, args, levels, names, limits)
        if not args.json:
            s = results[m]["heldout_solve_rate_mean"]
            print(
                f"{m:<6} held-out solve rate {s['mean']:.3f} ± {s['ci95']:.3f}  ({results[m]['wall_s']:.0f} s)"
            )
        summary = {
            **run_record("experiment", "ued_maze", args.quick),
            "env": "Maze-v0",
            # written after every method, so an interrupted run keeps what it measured (marked partial)
            "partial": len(results) < len(methods),
            "methods_requested": methods,
            "settings": {
                **settings(args),
                "seeds": args.seeds,
                "eval_policy": args.eval_policy,
                "lr": args.lr,
                "gamma": 0.995,
                "gae_lambda": 0.98,
                "ent_coef": 1e-3,
                "replay_prob": 0.8,
                "staleness_coef": 0.3,
                "temperature": 0.3,
            },  # fmt: skip
            "rule": f"held-out solve rate: share of 16 episodes per level ({args.eval_policy} actions) that reach "
            "the goal; mean over levels per seed, then mean and 95% Student-t interval over seeds (by_level: the instances of a "
            "procedural level averaged first)",
            "heldout_set": "JaxUED's prefabs + minimax's SmallCorridor, LargeCorridor, FourRooms, "
            f"PerfectMazeMedium ({args.instances} fixed draws each), in a 19x19 interior, minimax's step limits",
            "levels": names,
            "max_steps": limits.tolist(),
            "methods": results,
            "versus_dr": versus_dr(results),
            "versus_dr_rule": "method's mean held-out solve rate minus DR's; 95% Welch interval over seeds",
        }
        plot(summary, plot_path)
        summary["plot"] = portable_path(plot_path)
        path.write_text(json.dumps(summary, indent=1, default=str))
    brief = {m: r["heldout_solve_rate_mean"] for m, r in results.items()}
    if not args.json:
        for m, d in (summary["versus_dr"] or {}).items():
            half = "n/a" if d["ci95"] is None else f"{d['ci95']:.3f}"
            print(f"{m:<6} minus DR {d['difference']:+.3f} ± {half}")
    print(
        json.dumps({k: v for k, v in summary.items() if k != "methods"} | {"heldout_solve_rate_mean": brief})
    )
    return summary


if __name__ == "__main__":
    main()
