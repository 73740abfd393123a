"""SQIRL against the reference implementation on the same MDP: faithfulness (sample complexity to an optimal
policy) and speed (wall time of one seed; 16 seeds in one program against one).

The MDP is a MiniGrid level under BRIDGE semantics, tabulated (``envs/grid/bridge.py``); both sides see the
same flat observation of each state (the grid encoding as floats) and step the same table, with the same
m, k, horizon, network (MLP, ReLU), learning rate, minibatch, epochs, buffer and loss scaling. The reference
(PyPI ``effective-horizon`` 0.1.3 with stable-baselines3 2.2.1 and CPU torch, one thread) runs in its own
virtual environment (``make reference``) through ``experiments/sqirl_reference.py``; ours trains all seeds
in one vmapped program. After every iteration each seed's greedy non-stationary policy is evaluated exactly
(``algos/tabular.policy_value``); a run's sample complexity is the env steps at its first optimal policy
(V^pi >= V* - 1e-4), censored (None) if it never gets there in T iterations. Judged by the same rule on both
sides: the medians over seeds, beside each side's spread (min-max). Wall times: training only, to the end of
iteration T (the reference's evaluations subtracted; ours without them, compile reported apart).

Usage: python experiments/bench_sqirl.py [--env MiniGrid-Empty-5x5-v0] [--horizon 20] [--m 32] [--k 1]
       [--seeds 5] [--sticky 0] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jaxrl_suite import cpu

if __name__ == "__main__":
    cpu.configure(runs=1)  # one device, one thread: the reference runs torch on one thread too

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxrl_suite  # noqa: E402
from jaxrl_suite.algos import tabular as tb  # noqa: E402
from jaxrl_suite.algos.sqirl import SQIRLConfig, SQIRLHparams, make_train  # noqa: E402
from jaxrl_suite.envs.grid import bridge  # noqa: E402
from jaxrl_suite.results import portable_path, publish, results_dir, run_record  # noqa: E402
from jaxrl_suite.stats import censored_spread as spread  # noqa: E402
from jaxrl_suite.wrappers import StickyActions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PYTHON = ROOT / ".venv-ref" / "bin" / "python"


def build(env_id: str, horizon: int, sticky: float):
    """``(env for ours, TabularMDP, model, V*, flat observation table [X, D] with the absorbing row last)``."""
    env, params = jaxrl_suite.make(env_id)
    _, start = env.reset(jax.random.key(0), params)
    actions = bridge.default_actions(env_id)
    mdp, states = bridge.enumerate_mdp(env, start, actions, params)
    game = bridge.Bridge(env, start, actions, horizon)
    obs = jax.vmap(game.observe)(jax.tree.map(jnp.asarray, states))
    obs = jnp.concatenate([obs, jnp.zeros_like(obs[:1])])
    flat = np.asarray(obs.reshape(obs.shape[0], -1), np.float32)
    with jax.enable_x64(True):
        model = tb.model(mdp, sticky)
        v_star = float(tb.value_iteration(model, horizon).v_star[0, 0])
    return (StickyActions(game, sticky) if sticky > 0 else game), mdp, model, v_star, flat


def value_of(model, policy: np.ndarray, actions: int, sticky: float) -> float:
    """Exact V^pi from the start of a non-stationary policy table ``int[T, S]`` (the absorbing state's action
    added if missing; sticky: the same action for every previous action, as the policy does not see it)."""
    X = int(model.next_a.shape[0]) // (actions if sticky > 0 else 1)
    policy = np.pad(policy, ((0, 0), (0, X - policy.shape[1])))
    onehot = jax.nn.one_hot(jnp.asarray(policy), actions, dtype=jnp.float64)
    if sticky > 0:
        onehot = jnp.repeat(onehot, actions, axis=1)
    return float(tb.policy_value(model, onehot)[0, 0])


def first_optimal(steps: list[int], values: list[float], v_star: float) -> int | None:
    hit = [s for s, v in zip(steps, values, strict=True) if v >= v_star - tb.PRECISION]
    return hit[0] if hit else None


def run_ours(env, model, v_star, flat, args, hp) -> dict:
    cfg = SQIRLConfig(horizon=args.horizon, max_episodes=args.m, max_k=args.k, buffer_size=args.buffer_size,
                      minibatch_size=128, epochs=10, hidden=(64, 64))  # fmt: skip
    trainer = make_train(cfg, env)
    A = trainer.num_actions
    obs = jnp.asarray(flat)
    keys = jax.random.split(jax.random.key(0), args.seeds)
    # sample complexity: every seed in one program, one iteration at a time, evaluated exactly in between
    init = jax.jit(jax.vmap(trainer.init, in_axes=(0, None)))
    one = jax.jit(jax.vmap(lambda s: trainer.run(s, hp, 1)))
    tables = jax.jit(jax.vmap(trainer.policy_table, in_axes=(0, None)))
    state = init(keys, hp)
    steps, values = [], []
    for _ in range(args.horizon):
        state, metrics = one(state)
        steps.append(np.asarray(state.env_steps))
        pol = np.asarray(tables(state, obs)).argmax(-1)  # [seeds, T, X]
        with jax.enable_x64(True):
            values.append([value_of(model, p, A, args.sticky) for p in pol])
    steps, values = np.stack(steps, 1), np.stack(values, 1)  # [seeds, T]
    first = [first_optimal(list(map(int, s)), list(v), v_star) for s, v in zip(steps, values, strict=True)]
    # wall time: the whole run (T iterations) as one compiled program, 1 seed and --seeds-many seeds
    timing = {}
    for n in (1, args.many):
        fn = jax.jit(jax.vmap(trainer, in_axes=(0, None)))
        k = jax.random.split(jax.random.key(1), n)
        t0 = time.perf_counter()
        compiled = fn.lower(k, hp).compile()
        compile_s = time.perf_counter() - t0
        runs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(k, hp))
            runs.append(time.perf_counter() - t0)
        timing[n] = {"compile_s": compile_s, "train_s": float(np.median(runs)), "train_s_all": runs}
    return {
        "first_optimal_steps": spread(first),
        "solved": sum(f is not None for f in first),
        "final_values": values[:, -1].round(6).tolist(),
        "steps_per_iteration_mean": float(np.diff(steps, axis=1, prepend=0).mean()),
        "timing_1_seed": timing[1],
        f"timing_{args.many}_seeds": timing[args.many],
    }


def run_reference(mdp, model, v_star, flat, args, hp) -> dict:
    if not REFERENCE_PYTHON.exists():
        raise SystemExit(f"error: the reference's environment is missing ({portable_path(REFERENCE_PYTHON)}): "
                         "run `make reference` first")  # fmt: skip
    transitions = np.asarray(mdp.transitions, np.int32)
    rewards = np.asarray(mdp.rewards, np.float32)
    A = transitions.shape[1]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, obs=flat, transitions=transitions, rewards=rewards, horizon=args.horizon,
                 sticky=args.sticky, m=args.m, k=args.k, lr=hp.lr, gamma=hp.gamma,
                 buffer_size=args.buffer_size, minibatch_size=128, epochs=10, hidden=np.array([64, 64]),
                 budget=args.m * args.horizon * args.horizon, seeds=np.arange(args.seeds))  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        t0 = time.perf_counter()
        # -P: the script folder is not put on sys.path (experiments/effective_horizon.py would shadow the
        # reference package of the same name)
        subprocess.run([str(REFERENCE_PYTHON), "-P", str(ROOT / "experiments" / "sqirl_reference.py"), str(src),
                        str(dst)], check=True, env=env)  # fmt: skip
        process_s = time.perf_counter() - t0
        out = dict(np.load(dst))
    first, walls, solved_values = [], [], []
    for seed in range(args.seeds):
        steps, pols, wall = out[f"steps_{seed}"], out[f"policies_{seed}"], out[f"wall_s_{seed}"]
        # record j is after iteration j + 1; the policy is final after T iterations
        upto = min(args.horizon, len(steps))
        with jax.enable_x64(True):
            values = [value_of(model, p, A, args.sticky) for p in pols[:upto]]
        first.append(first_optimal(list(map(int, steps[:upto])), values, v_star))
        walls.append(float(wall[upto - 1]))
        solved_values.append(round(values[-1], 6))
    return {
        "first_optimal_steps": spread(first),
        "solved": sum(f is not None for f in first),
        "final_values": solved_values,
        "train_s_per_seed": walls,
        "train_s_median": float(np.median(walls)),
        "process_s": process_s,
    }


def results_name(args, parser) -> str:
    """``bench_sqirl.json`` at the default MDP and settings; otherwise the settings that differ are in the name,
    so runs at several settings keep their own files."""
    differ = [f"{k}{getattr(args, k)}" for k in ("horizon", "m", "k", "sticky", "lr")
              if getattr(args, k) != parser.get_default(k)]  # fmt: skip
    if args.env != parser.get_default("env"):
        differ.insert(0, args.env.removeprefix("MiniGrid-").removesuffix("-v0"))
    return "_".join(["bench_sqirl", *differ]) + ".json"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="MiniGrid-Empty-5x5-v0")
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, default=5, help="seeds per side for the sample complexity")
    ap.add_argument("--many", type=int, default=16, help="seeds in one program for the scaling figure")
    ap.add_argument("--sticky", type=float, default=0.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smoke run: horizon 6, m 4, 2 seeds, 1 repeat")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.horizon, args.m, args.seeds, args.many, args.repeats = 6, 4, 2, 4, 1
    if min(args.horizon, args.m, args.k, args.seeds, args.many, args.repeats) < 1 or not 0 <= args.sticky < 1:
        raise SystemExit(
            "error: --horizon, --m, --k, --seeds, --many, --repeats must be >= 1 and --sticky in [0, 1)"
        )
    args.buffer_size = max(20_000, args.m * args.horizon * args.horizon)
    env, mdp, model, v_star, flat = build(args.env, args.horizon, args.sticky)
    hp = SQIRLHparams(m=args.m, k=args.k, lr=args.lr, gamma=1.0)
    ours = run_ours(env, model, v_star, flat, args, hp)
    ref = run_reference(mdp, model, v_star, flat, args, hp)
    ours_1 = ours["timing_1_seed"]["train_s"]
    summary = {
        **run_record("benchmark", "bench_sqirl", args.quick),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {jax.devices()[0].device_kind}",
        "work": {
            "env": args.env,
            "semantics": "BRIDGE (fixed level at seed 0, positive reward -> 1)",
            "horizon": args.horizon,
            "sticky": args.sticky,
            "m": args.m,
            "k": args.k,
            "lr": args.lr,
            "gamma": 1.0,
            "network": "MLP 64-64 ReLU, k heads",
            "minibatch": 128,
            "epochs": 10,
            "buffer_size": args.buffer_size,
            "loss_scaling": "EMA 0.99",
            "seeds": args.seeds,
            "states": int(mdp.transitions.shape[0]),
            "v_star": v_star,
        },  # fmt: skip
        "rule": "sample complexity = env steps at the first iteration whose greedy policy has exact "
        "V^pi >= V* - 1e-4 (None: not within T iterations); medians over seeds, min-max beside them",
        "ours": ours,
        "reference": ref,
        "wall_speedup_1_seed": ref["train_s_median"] / ours_1,
        f"seeds_{args.many}_vs_1_time_ratio": ours[f"timing_{args.many}_seeds"]["train_s"] / ours_1,
        "targets": "sample complexity within the seed-to-seed spread; ours >= 10x faster for one seed; "
        "16 seeds in one program <= 4x one seed",
    }

    def lines(s: dict = summary) -> list[str]:
        o, r = s["ours"], s["reference"]
        fmt = lambda sp: f"median {sp['median']} (range {sp['min']}-{sp['max']})"  # noqa: E731
        return [
            f"{args.env} T={args.horizon} m={args.m} k={args.k} sticky={args.sticky}, {args.seeds} seeds each",
            f"steps to an optimal policy: ours {fmt(o['first_optimal_steps'])}, solved {o['solved']}",
            f"                            reference {fmt(r['first_optimal_steps'])}, solved {r['solved']}",
            f"train time, 1 seed: ours {ours_1:.2f} s (compile {o['timing_1_seed']['compile_s']:.1f} s), "
            f"reference {r['train_s_median']:.2f} s: {s['wall_speedup_1_seed']:.1f}x",
            f"{args.many} seeds in one program: {s[f'seeds_{args.many}_vs_1_time_ratio']:.2f}x one seed",
        ]

    publish(summary, results_dir(args.quick) / results_name(args, ap), lines, args.json)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
