"""Learning to fly: PPO (continuous actions, asymmetric critic) learns to hover the Crazyflie, and to track.

Hover: ``Quadrotor-Hover-v0`` from the "Learning to Fly in Seconds" start distribution (up to 90° tilt,
±0.2 m, ±1 m/s, ±1 rad/s, a constant random force and torque per episode, observation noise). The actor sees
the 146-dim noisy observation, the critic the 28-dim privileged one. A policy *succeeds* on an episode when,
flown greedily (the Gaussian's mean) for 10 s from a fresh start, it never leaves the ±0.6 m box and stays
within 0.1 m of the target for the whole last 5 s: recover, then hold position for 5 s.

Reward: L2F's squared reward and its curriculum (action ×1.4, position ×1.2, velocity ×1.4 per stage up to
1, 40, 1), with two changes for PPO: the curriculum starts after ``--curriculum-start`` steps, once the policy
flies (from the first step, the position weight makes most early states cost more than a crash, and PPO
learns to crash), and a crash costs 100. The wall-clock counts compile and training, not the periodic
evaluations (``--eval-episodes`` each). Training stops at the first evaluation with a success rate >=
``--target`` (unless ``--full-budget``); that policy is then checked on ``--final-episodes`` fresh episodes
under another key. Measured figures: experiments/results/quadrotor_hover.json and the README.

Every evaluation flight stops at its first termination (the drone is held where it crashed), so a crashed
drone never flies on: the hover evaluation reports the success rate, the crash rate and the position errors
over the surviving flights only (``survivors`` of them).

Tracking: ``Quadrotor-FigureEight-v0`` (0.3 m figure-eight, 5 s lap, random start phase, same start
noise); reports the crash rate and, over the surviving flights, the RMS and mean position error after a 1 s
settling time with the survivor fraction beside them (``null`` errors when no flight survived).

Writes learning curves, a 3-D trajectory plot and a GIF of a flight per task under ``--out`` and the summary
to experiments/results/quadrotor_hover.json.

Usage: python experiments/quadrotor_hover.py [--tasks hover tracking] [--seed 0] [--full-budget] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxrl_suite
from jaxrl_suite import evaluation
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train, rollout_states
from jaxrl_suite.envs.quadrotor import curriculum
from jaxrl_suite.envs.quadrotor import render as qrender
from jaxrl_suite.results import portable_path
from jaxrl_suite.runtime import train_runs

RESULTS = Path(__file__).parent / "results" / "quadrotor_hover.json"
DT = 0.01

# Per task: env id, PPO shapes (static), step budget; both share the hyperparameters (dynamic) and reward.
_SHARED = dict(
    hparams=dict(lr=1e-3, gamma=0.99, gae_lambda=0.95, ent_coef=0.0, max_grad_norm=0.5),
    reward=dict(termination_penalty=-100.0),
    total_steps=12_000_000,
)
_PPO = dict(update_epochs=4, num_minibatches=4, log_std_init=-1.0)
TASKS = {
    "hover": dict(env="Quadrotor-Hover-v0", config=dict(num_envs=512, num_steps=32, **_PPO), **_SHARED),
    "tracking": dict(
        env="Quadrotor-FigureEight-v0", config=dict(num_envs=256, num_steps=64, **_PPO), **_SHARED
    ),
}
EVAL_SECONDS = 10.0  # hover evaluation flight
HOLD_SECONDS = 5.0  # ... of which the last 5 s must stay within HOLD_RADIUS
HOLD_RADIUS = 0.1  # m
SETTLE_SECONDS = 1.0  # tracking error is measured after this


def build(task: str, total_steps: int | None, chunk_updates: int, shape_overrides: dict | None = None):
    """(trainer, hparams, env params) for ``task``; the step budget is rounded to whole chunks."""
    t = TASKS[task]
    env, params = jaxrl_suite.make(t["env"])
    params = params.replace(reward=params.reward.replace(**t.get("reward", {})))
    shapes = {**t["config"], **{k: v for k, v in (shape_overrides or {}).items() if v is not None}}
    batch = shapes["num_envs"] * shapes["num_steps"]
    updates = max(1, round((total_steps or t["total_steps"]) / batch / chunk_updates)) * chunk_updates
    cfg = PPOConfig(
        total_timesteps=updates * batch,
        hidden=(64, 64),
        continuous=True,
        asymmetric_critic=True,
        normalize_obs=True,
        normalize_reward=True,
        anneal_lr=True,
        **shapes,
    )
    hp = PPOHparams(**t["hparams"]).validate()
    return make_train(cfg, env, params), hp, params


def fly(trainer, state, key: jax.Array, episodes: int, seconds: float):
    """Greedy flights from fresh starts without auto-reset, each stopped at its first termination (its state
    held from then on): position errors ``[T, N]``, a crashed drone's frozen at its crash value, and crashes
    ``[N]``."""
    params = trainer.env_params.replace(max_steps_in_episode=10**9)  # the horizon is ours
    ro = evaluation.rollout(
        trainer.env,
        params,
        lambda obs, k: trainer.act(state, obs, k, greedy=True),
        key,
        int(round(seconds / DT)),
        num_episodes=episodes,
        hold=True,
        record=lambda _, info: info["position_error"],
    )
    return hold_last(ro.info, ro.ended[1:]), ro.finished


def hold_last(values: jax.Array, after: jax.Array) -> jax.Array:
    """``values [T, N]`` with each entry where ``after`` is set (a suffix per column: the steps after the
    episode ended) replaced by the column's last entry before it."""
    t = jnp.arange(values.shape[0])[:, None]
    last = jax.lax.cummax(jnp.where(after, 0, t), axis=0)
    return jnp.take_along_axis(values, last, axis=0)


def hover_metrics(errors: jax.Array, crashed: jax.Array) -> dict:
    """One seed's hover evaluation from ``fly``'s errors ``[T, N]`` and crashes ``[N]`` (vmap for several
    seeds): success and crash rates over all flights, errors over the survivors (NaN when none survived)."""
    hold = int(round(HOLD_SECONDS / DT))
    worst = errors[-hold:].max(axis=0)
    alive = ~crashed
    survivors = alive.sum()
    final = jnp.where(alive, errors[-1], 0.0).sum() / jnp.maximum(survivors, 1)
    return {
        "success_rate": (alive & (worst < HOLD_RADIUS)).mean(),
        "crash_rate": crashed.mean(),
        "survivors": survivors,
        "final_error_survivors_mean_m": jnp.where(survivors > 0, final, jnp.nan),
        "hold_error_max_survivors_median_m": jnp.nanmedian(jnp.where(alive, worst, jnp.nan)),
    }


def tracking_metrics(errors: jax.Array, crashed: jax.Array) -> dict:
    """One seed's tracking evaluation from ``fly``'s errors and crashes (vmap for several seeds): the crash
    rate, and the RMS and mean error after settling over the surviving flights, with the survivor fraction
    beside them (NaN errors when none survived)."""
    settled = errors[int(round(SETTLE_SECONDS / DT)) :]
    alive = ~crashed
    survivors = alive.sum()
    n = jnp.maximum(survivors * settled.shape[0], 1)
    masked = jnp.where(alive[None, :], settled, 0.0)
    some = survivors > 0
    return {
        "rms_error_survivors_m": jnp.where(some, jnp.sqrt((masked**2).sum() / n), jnp.nan),
        "mean_error_survivors_m": jnp.where(some, masked.sum() / n, jnp.nan),
        "survivor_fraction": alive.mean(),
        "survivors": survivors,
        "crash_rate": crashed.mean(),
    }


def hover_success(trainer, state, key, episodes: int) -> dict:
    return hover_metrics(*fly(trainer, state, key, episodes, EVAL_SECONDS))


def tracking_error(trainer, state, key, episodes: int) -> dict:
    seconds = float(trainer.env_params.max_steps_in_episode) * DT
    return tracking_metrics(*fly(trainer, state, key, episodes, seconds))


def to_json(metrics: dict) -> dict:
    """Evaluation results on the host as JSON values: counts as ints, NaN (no survivor) as ``None``."""
    out = {}
    for k, v in jax.device_get(metrics).items():
        v = np.asarray(v)
        if np.issubdtype(v.dtype, np.integer):
            out[k] = int(v)
        else:
            out[k] = float(v) if np.isfinite(v) else None
    return out


def _fmt(value, unit: str = "") -> str:
    return "n/a (no survivor)" if value is None else f"{value:.3f}{unit}"


def train_task(task: str, args) -> dict:
    shapes = {"num_envs": args.num_envs, "num_steps": args.num_steps}
    trainer, hp, params = build(task, args.total_steps, args.chunk_updates, shapes)
    cfg = trainer.config
    evaluate = hover_success if task == "hover" else tracking_error
    n_eval = args.eval_episodes

    stage = curriculum.schedule(params, args.curriculum_interval, args.curriculum_start)  # from our weights

    eval_fn = jax.jit(lambda s, k: evaluate(trainer, s, k, n_eval))
    final_fn = eval_fn if args.final_episodes == n_eval else None  # same program: compile it once
    chunk_steps = args.chunk_updates * cfg.batch_size
    chunks = cfg.num_updates // args.chunk_updates
    curve: list[dict] = []
    clock = {"eval_s": 0.0, "reached_at": None, "key": jax.random.key(args.seed + 10_000)}
    t = time.perf_counter()  # the evaluation compiles before the clock starts, as it always did
    state_shape = jax.eval_shape(trainer.init, jax.random.key(0), hp)
    eval_fn = eval_fn.lower(state_shape, jax.random.key(0)).compile()
    eval_compile_s = time.perf_counter() - t
    t0 = time.perf_counter()

    def on_chunk(state, m) -> tuple:
        """The runtime's per-chunk hook: learning curve, periodic greedy evaluation, the reward curriculum
        (the next chunk's env params: passed in, never recompiled) and the stop at the target."""
        steps = int(m["steps"][0, -1])
        ret, length = np.asarray(m["return"]), np.asarray(m["length"])
        row = {
            "steps": steps,
            "wall_s": time.perf_counter() - t0 - clock["eval_s"],  # compile + training, not evaluations
            "return": float(np.nanmean(ret)) if np.isfinite(ret).any() else None,
            "length": float(np.nanmean(length)) if np.isfinite(length).any() else None,
        }
        i = steps // chunk_steps - 1
        if (i + 1) % args.eval_every == 0 or i == chunks - 1:
            t = time.perf_counter()
            clock["key"], k = jax.random.split(clock["key"])
            ev = to_json(eval_fn(jax.tree.map(lambda x: x[0], state), k))
            clock["eval_s"] += time.perf_counter() - t
            row.update(ev)
            if not args.json:
                extra = (
                    f"success {ev['success_rate']:.3f}"
                    if task == "hover"
                    else f"rms error over survivors {_fmt(ev['rms_error_survivors_m'], ' m')}, "
                    f"crashes {ev['crash_rate']:.3f}"
                )
                print(
                    f"[{task}] {steps:>10,d} steps  {row['wall_s']:6.1f} s  return {row['return']}  {extra}",
                    flush=True,
                )
        curve.append(row)
        stop = False
        if task == "hover" and clock["reached_at"] is None and row.get("success_rate", -1.0) >= args.target:
            clock["reached_at"] = dict(row)
            stop = not args.full_budget
        return stage(steps), stop

    res = train_runs(
        trainer.with_env_params(stage(0)),
        jax.random.key(args.seed)[None],
        hp,
        chunk_updates=args.chunk_updates,
        on_chunk=on_chunk,
        progress=False,
        title=f"PPO on {TASKS[task]['env']}",
    )
    state = jax.tree.map(lambda x: x[0], res.state)
    compile_s = res.summary["init_s"] + res.summary["compile_s"]
    train_s = res.summary["train_s"]
    eval_s = clock["eval_s"]
    reached_at = clock["reached_at"]

    if final_fn is None:
        final_fn = jax.jit(lambda s, k: evaluate(trainer, s, k, args.final_episodes))
    final = to_json(final_fn(state, jax.random.key(999_999)))
    out = Path(args.out) / task
    out.mkdir(parents=True, exist_ok=True)
    artefacts = save_artefacts(task, trainer, state, params, curve, out)
    return {
        "env": TASKS[task]["env"],
        "seed": args.seed,
        "config": {k: v for k, v in cfg.__dict__.items()},
        "hparams": {k: float(v) for k, v in hp.__dict__.items()},
        "compile_s": compile_s,
        "eval_compile_s": eval_compile_s,
        "train_s": train_s,
        "eval_s": eval_s,
        "steps_trained": curve[-1]["steps"],
        "steps_per_s": curve[-1]["steps"] / train_s,
        "target_success": args.target if task == "hover" else None,
        "reached_target_at": reached_at,
        "wall_to_policy_s": None if reached_at is None else reached_at["wall_s"],
        "final_eval_episodes": args.final_episodes,
        "final_eval": final,
        "curve": curve,
        **artefacts,
    }


def save_artefacts(task: str, trainer, state, params, curve: list[dict], out: Path) -> dict:
    """Learning curve PNG, 3-D trajectories of 16 greedy flights, and a GIF of one flight."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), dpi=100)
    ax1, ax2 = fig.subplots(1, 2)
    steps = [r["steps"] for r in curve]
    ax1.plot(steps, [np.nan if r["return"] is None else r["return"] for r in curve])
    ax1.set(xlabel="env steps", ylabel="mean episode return (training)", title=trainer.env.name)
    ev = [r for r in curve if "crash_rate" in r]
    key = "success_rate" if task == "hover" else "rms_error_survivors_m"
    ax2.plot([r["wall_s"] for r in ev], [np.nan if r[key] is None else r[key] for r in ev], "o-")
    ax2.set(
        xlabel="wall-clock incl. compile [s]",
        ylabel="hover success rate" if task == "hover" else "RMS tracking error, survivors [m]",
    )
    if task == "hover":
        ax2.axhline(0.9, color="grey", ls=":")
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png")

    # 16 flights for the trajectory plot; one (the hardest start of four) for the GIF
    seconds = EVAL_SECONDS if task == "hover" else float(params.max_steps_in_episode) * DT
    flight = trainer.with_env_params(params.replace(max_steps_in_episode=int(round(seconds / DT))))
    roll = jax.jit(jax.vmap(lambda k: rollout_states(flight, state, k)))
    states, ended = roll(jax.random.split(jax.random.key(7), 16))
    pos = np.stack([np.asarray(c) for c in states.quad.position], axis=-1)  # [16, T + 1, 3]
    pos[np.asarray(ended)] = np.nan  # after the flight ended (the crash state is the last kept)
    ref = None
    if task == "tracking":
        t = np.arange(pos.shape[1]) * DT
        ref = np.stack(trainer.env.reference(jnp.asarray(t), params)[0], axis=-1)
    qrender.plot_trajectory(
        pos.transpose(1, 0, 2),
        ref,
        path=str(out / "trajectories.png"),
        title=f"{trainer.env.name}: 16 flights",
    )
    tilt = 1 - np.asarray(states.quad.quaternion[0])[:, 0] ** 2
    pick = int(np.argmax(tilt[:4]))
    one = jax.tree.map(lambda x: x[pick, ::4][: 75 if task == "hover" else 250], states)  # 25 fps
    qrender.save_gif(qrender.frames(trainer.env, one, params), str(out / "flight.gif"), fps=25)
    return {
        "learning_curve": portable_path(out / "learning_curve.png"),
        "trajectories": portable_path(out / "trajectories.png"),
        "gif": portable_path(out / "flight.gif"),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", nargs="+", default=["hover", "tracking"], choices=sorted(TASKS))
    ap.add_argument(
        "--seed", type=int, default=0, help="training seed, recorded with the results (a run per seed)"
    )
    ap.add_argument("--total-steps", type=int, help="override the step budget (rounded to whole chunks)")
    ap.add_argument("--num-envs", type=int, help="override the task's number of parallel envs")
    ap.add_argument("--num-steps", type=int, help="override the task's rollout length per update")
    ap.add_argument("--chunk-updates", type=int, default=10, help="PPO updates per compiled chunk")
    ap.add_argument("--eval-every", type=int, default=2, help="evaluate every this many chunks")
    ap.add_argument("--eval-episodes", type=int, default=1024, help="episodes per evaluation during training")
    ap.add_argument("--final-episodes", type=int, default=1024)
    ap.add_argument("--target", type=float, default=0.9, help="hover success rate to report reaching")
    ap.add_argument(
        "--full-budget", action="store_true", help="train the whole budget instead of stopping at --target"
    )
    ap.add_argument(
        "--curriculum-interval",
        type=int,
        default=100_000,
        help="env steps per stage of L2F's reward curriculum (0: keep the initial weights)",
    )
    ap.add_argument(
        "--curriculum-start",
        type=int,
        default=2_500_000,
        help="env steps before the curriculum starts (PPO first learns to fly on the initial weights)",
    )
    ap.add_argument("--out", default="runs/quadrotor")
    ap.add_argument("--results", default=str(RESULTS), help="where the JSON summary goes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not 0 < args.target <= 1:
        ap.error("--target must be in (0, 1]")
    if min(args.chunk_updates, args.eval_every, args.eval_episodes, args.final_episodes) < 1:
        ap.error("--chunk-updates, --eval-every, --eval-episodes and --final-episodes must be >= 1")
    results = {task: train_task(task, args) for task in args.tasks}
    summary = {
        "experiment": "quadrotor_hover",
        "device": jax.devices()[0].device_kind,
        "backend": jax.default_backend(),
        "jax": jax.__version__,
        "seed": args.seed,
        "results": results,
    }
    if "hover" in results:
        h = results["hover"]
        summary["hover_success_rate"] = h["final_eval"]["success_rate"]
        summary["hover_crash_rate"] = h["final_eval"]["crash_rate"]
        summary["hover_wall_to_policy_s"] = h["wall_to_policy_s"]
    if "tracking" in results:
        fe = results["tracking"]["final_eval"]
        summary["tracking_rms_error_survivors_m"] = fe["rms_error_survivors_m"]
        summary["tracking_survivor_fraction"] = fe["survivor_fraction"]
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(summary, indent=2))
    if not args.json:
        for task, r in results.items():
            fe = r["final_eval"]
            what = (
                f"success {fe['success_rate']:.3f} over {r['final_eval_episodes']} episodes, "
                f"policy reached in {r['wall_to_policy_s']} s wall (compile {r['compile_s']:.1f} s)"
                if task == "hover"
                else f"RMS tracking error over survivors {_fmt(fe['rms_error_survivors_m'], ' m')} "
                f"(survivor fraction {fe['survivor_fraction']:.3f}), crashes {fe['crash_rate']:.3f}"
            )
            print(f"{r['env']}: {what}; {r['steps_trained']:,d} steps at {r['steps_per_s']:,.0f} steps/s")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
