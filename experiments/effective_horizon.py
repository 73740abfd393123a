"""The effective-horizon study (Laidlaw et al. 2024, "The Effective Horizon Explains Deep RL Performance in
Stochastic Environments") on small grid MDPs under BRIDGE semantics, deterministic and with sticky actions.

For each MDP (MiniGrid levels and small mazes, each a fixed level at a seed) the exact tools
(``algos/tabular.py``) give min_k, the EPW, V* and (deterministic) the effective horizon; PPO, DQN and SQIRL
then train on it with several seeds in one program each, and every ``--eval-every`` updates the greedy policy
of each seed is evaluated exactly (tabular policy evaluation from the start state): a run's sample
complexity is the env steps at its first optimal evaluation (V^pi >= V* - 1e-4), censored at the budget. The
report gives per algorithm the median over seeds, Spearman correlations between algorithms and against the
effective horizon (over MDPs that at least one side solved; unsolved counted at the budget as the paper's
ranks do), and how often SQIRL solves where PPO or DQN does. Small budgets on a 2-core CPU: see the results
file's settings, not the paper's (5 M steps, ~150 MDPs).

Each MDP runs in its own Python process (one process compiling ~40 programs ran out of LLVM code memory),
and the results file is rewritten after each, so ``--resume`` continues an interrupted study: rows already
measured with the same settings are kept, not rerun.

Usage: python experiments/effective_horizon.py [--mdps 20] [--seeds 3] [--budget 200000] [--sticky 0.25]
       [--resume] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxrl_suite
from jaxrl_suite.algos import tabular as tb
from jaxrl_suite.envs.grid import bridge
from jaxrl_suite.results import portable_path, results_dir, run_record
from jaxrl_suite.runtime import train_runs
from jaxrl_suite.wrappers import StickyActions

RESULTS = Path(__file__).parent / "results"
# (env id, options, seed, horizon): MiniGrid levels at seed 0 (BRIDGE's), then small random mazes
MINIGRID = [
    ("MiniGrid-Empty-5x5-v0", {}, 0, 30),
    ("MiniGrid-Empty-6x6-v0", {}, 0, 40),
    ("MiniGrid-Empty-Random-5x5-v0", {}, 0, 30),
    ("MiniGrid-DoorKey-5x5-v0", {}, 0, 50),
    ("MiniGrid-LavaGapS5-v0", {}, 0, 40),
    ("MiniGrid-KeyCorridorS3R1-v0", {}, 0, 100),
    ("MiniGrid-Unlock-v0", {}, 0, 60),
    ("MiniGrid-FourRooms-v0", {}, 0, 100),
]
MAZES = [("Maze-v0", {"size": 5}, seed, 30) for seed in range(40)]


CANDIDATES = MINIGRID + MAZES


def mdp_name(index: int) -> str:
    env_id, opts, seed, _ = CANDIDATES[index]
    return f"{env_id}{'' if not opts else str(opts)}@{seed}"


def tabulate(index: int) -> dict | None:
    """Candidate ``index`` tabulated under BRIDGE semantics, or None when unsolvable within its horizon."""
    env_id, opts, seed, horizon = CANDIDATES[index]
    env, params = jaxrl_suite.make(env_id, **opts)
    _, start = env.reset(jax.random.key(seed), params)
    actions = bridge.default_actions(env_id)
    mdp, states = bridge.enumerate_mdp(env, start, actions, params, max_states=20_000)
    det = tb.analyze(mdp, horizon)
    if det["v_star"] <= 0:
        return None
    game = bridge.Bridge(env, start, actions, horizon)
    obs = jax.vmap(game.observe)(jax.tree.map(jnp.asarray, states))
    obs = jnp.concatenate([obs, jnp.zeros_like(obs[:1])])
    return dict(name=mdp_name(index), game=game, mdp=mdp, obs=obs, horizon=horizon, actions=actions, det=det)


def sqirl_buffer(horizon: int, m: int) -> int:
    """Room for every transition SQIRL stores (iteration i keeps t >= i), as the reference's 1 M buffer is."""
    return max(20_000, m * horizon * (horizon + 1) // 2)


def sqirl_episodes(horizon: int, budget: int, sticky: float) -> int:
    """SQIRL's m: its T iterations of m episodes (m T^2 steps) fit the budget; at most 64 deterministic, and
    up to 256 with sticky actions, where the tabular oracle needs m >= 100 to average out the noise."""
    return max(1, min(256 if sticky > 0 else 64, budget // (horizon * horizon)))


def learner(algo: str, env, horizon: int, budget: int, actions: int, sticky: float = 0.0):
    """``(trainer, hparams, greedy policy table fn(state_of_one_run, obs) -> [T, X, A])`` per algorithm."""
    if algo == "ppo":
        from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train

        t = make_train(PPOConfig(num_envs=16, num_steps=64, total_timesteps=budget, num_minibatches=4,
                                 hidden=(64, 64)), env)  # fmt: skip
        hp = PPOHparams(lr=3e-4, gamma=0.99, ent_coef=0.01)

        def table(state, obs):
            a = t.act(state, obs, jax.random.key(0), greedy=True)
            return jnp.broadcast_to(jax.nn.one_hot(a, actions), (horizon,) + (obs.shape[0], actions))

        return t, hp, table
    if algo == "dqn":
        from jaxrl_suite.algos.dqn import DQNConfig, DQNHparams, make_train

        t = make_train(DQNConfig(num_envs=8, total_timesteps=budget, buffer_size=50_000, learning_starts=1_000,
                                 train_frequency=32, gradient_steps=32, hidden=(64, 64)), env)  # fmt: skip
        hp = DQNHparams(lr=1e-3, gamma=0.99, exploration_fraction=0.3)

        def table(state, obs):
            a = t.act(state, obs, jax.random.key(0), greedy=True)
            return jnp.broadcast_to(jax.nn.one_hot(a, actions), (horizon,) + (obs.shape[0], actions))

        return t, hp, table
    from jaxrl_suite.algos.sqirl import SQIRLConfig, SQIRLHparams, make_train

    m = sqirl_episodes(horizon, budget, sticky)
    t = make_train(
        SQIRLConfig(horizon=horizon, max_episodes=m, max_k=1, buffer_size=sqirl_buffer(horizon, m)), env
    )
    return t, SQIRLHparams(m=m, k=1, lr=1e-3, gamma=1.0), lambda state, obs: t.policy_table(state, obs)


def sample_complexity(algo: str, spec: dict, sticky: float, seeds: int, budget: int, evals: int) -> dict:
    """Train ``seeds`` runs in one program; evaluate each exactly every chunk; the first optimal step count."""
    env = StickyActions(spec["game"], sticky) if sticky > 0 else spec["game"]
    trainer, hp, table = learner(algo, env, spec["horizon"], budget, spec["actions"], sticky)
    with jax.enable_x64(True):
        model = tb.model(spec["mdp"], sticky)
        v_star = float(tb.value_iteration(model, spec["horizon"]).v_star[0, 0])
    first = [None] * seeds
    values: list[list[float]] = []
    A = spec["actions"]

    def on_chunk(state, metrics):
        steps = np.asarray(metrics["steps"])[:, -1]
        row = []
        for s in range(seeds):
            pol = table(jax.tree.map(lambda x, s=s: x[s], state), spec["obs"])
            if sticky > 0:  # the policy sees the grid, not the previous action: one row per (s, prev)
                pol = jnp.repeat(pol, A, axis=1)
            with jax.enable_x64(True):
                v = float(tb.policy_value(model, pol.astype(jnp.float64))[0, 0])
            row.append(v)
            if first[s] is None and v >= v_star - tb.PRECISION:
                first[s] = int(steps[s])
        values.append(row)
        return None, all(f is not None for f in first)

    chunk = max(1, trainer.config.num_updates // evals)
    keys = jax.random.split(jax.random.key(0), seeds)
    t0 = time.perf_counter()
    train_runs(trainer, keys, hp, progress=False, chunk_updates=chunk, on_chunk=on_chunk)
    solved = [f for f in first if f is not None]
    extra = {"m": int(hp.m), "buffer": trainer.config.buffer_size} if algo == "sqirl" else {}
    return {
        **extra,
        "v_star": v_star,
        "first_optimal_steps": first,
        "solved": len(solved),
        "median_steps_censored": float(np.median([budget if f is None else f for f in first])),
        "final_values": values[-1] if values else None,
        "wall_s": time.perf_counter() - t0,
    }


def spearman(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:  # undefined for fewer than 3 points or a constant side
        return None
    r = spearmanr(a, b).statistic
    return None if not np.isfinite(r) else float(r)


def study_one(index: int, args, algos: list[str]) -> dict:
    """Candidate ``index``: its deterministic and sticky rows (the child process's whole job)."""
    spec = tabulate(index)
    if spec is None:
        return {"mdp": mdp_name(index), "unsolvable": True}
    rows = []
    for sticky in (0.0, args.sticky):
        analysis = (
            spec["det"] if sticky == 0 else tb.analyze(spec["mdp"], spec["horizon"], sticky, bound=False)
        )
        row = {"mdp": spec["name"], "sticky": sticky, "horizon": spec["horizon"],
               **{k: analysis[k] for k in ("states", "v_star", "v_rand", "min_k", "epw", "effective_horizon")}}  # fmt: skip
        for algo in algos:
            if algo in args.keep.get((spec["name"], sticky), {}):
                row[algo] = args.keep[(spec["name"], sticky)][algo]
                continue
            row[algo] = sample_complexity(algo, spec, sticky, args.seeds, args.budget, args.evals)
            print(f"{spec['name']:<40} sticky {sticky:<4} {algo:<5} solved {row[algo]['solved']}/"
                  f"{args.seeds}  median steps {row[algo]['median_steps_censored']:.0f}", file=sys.stderr, flush=True)  # fmt: skip
        rows.append(row)
    return {"mdp": spec["name"], "rows": rows}


def reusable(path: Path, args, algos: list[str]) -> dict:
    """``{(mdp, sticky): {algo: result}}`` from a results file measured with the same settings: what
    ``--resume`` keeps. SQIRL results are kept only when their m and buffer are the ones used now."""
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    st = old.get("settings", {})
    if any(st.get(k) != v for k, v in (("seeds", args.seeds), ("budget_steps", args.budget),
                                        ("evals", args.evals), ("sticky", args.sticky))):  # fmt: skip
        return {}
    keep: dict = {}
    for r in old.get("rows", []):
        for algo in algos:
            res = r.get(algo)
            if res is None:
                continue
            if algo == "sqirl":
                m = sqirl_episodes(r["horizon"], args.budget, r["sticky"])
                if (res.get("m"), res.get("buffer")) != (m, sqirl_buffer(r["horizon"], m)):
                    continue
            keep.setdefault((r["mdp"], r["sticky"]), {})[algo] = res
    return keep


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mdps", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=200_000, help="env steps per run")
    ap.add_argument("--evals", type=int, default=20, help="exact evaluations per run")
    ap.add_argument("--sticky", type=float, default=0.25)
    ap.add_argument("--algos", default="ppo,dqn,sqirl")
    ap.add_argument("--resume", action="store_true", help="keep rows the results file has for these settings")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 MDPs, 1 seed, 20 k steps")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # child: one candidate
    args = ap.parse_args(argv)
    if args.quick:
        args.mdps, args.seeds, args.budget, args.evals = 2, 1, 20_000, 4
    algos = [a for a in args.algos.split(",") if a]
    if set(algos) - {"ppo", "dqn", "sqirl"} or args.mdps < 1 or args.seeds < 1:
        raise SystemExit("error: --algos from ppo,dqn,sqirl; --mdps and --seeds >= 1")
    if args.one is not None:  # child process: one MDP, its rows as the last stdout line
        args.keep = {(m, float(st)): v for m, st, v in json.loads(sys.stdin.read() or "[]")}
        print(json.dumps(study_one(args.one, args, algos), default=str))
        return {}
    t0 = time.perf_counter()
    path = results_dir(args.quick) / "effective_horizon.json"
    keep = reusable(path, args, algos) if args.resume else {}
    rows: list[dict] = []
    summary: dict = {}
    done = 0
    reused = 0
    for index in range(len(CANDIDATES)):
        if done >= args.mdps:
            break
        name = mdp_name(index)
        mine = [[m, st, v] for (m, st), v in keep.items() if m == name]
        reused += sum(len(v) for _, _, v in mine)
        cmd = [sys.executable, __file__, "--one", str(index),
               "--seeds", str(args.seeds), "--budget", str(args.budget), "--evals", str(args.evals),
               "--sticky", str(args.sticky), "--algos", ",".join(algos)]  # fmt: skip
        # the child reads the results it may keep on stdin and writes its rows as its last stdout line
        child = subprocess.run(cmd, input=json.dumps(mine, default=str), stdout=subprocess.PIPE, text=True)
        if child.returncode != 0:
            raise SystemExit(
                f"error: the study of {name} failed (exit {child.returncode}); rows so far in {path}"
            )
        out = json.loads(child.stdout.strip().splitlines()[-1])
        if out.get("unsolvable"):
            continue
        rows.extend(out["rows"])
        done += 1
        if not args.json:
            print(f"[{done}/{args.mdps}] {name} done, {time.perf_counter() - t0:.0f} s", flush=True)
        # written after every MDP, so an interrupted study keeps what it measured (marked partial)
        summary = summarize(rows, algos, args, args.mdps, done < args.mdps, time.perf_counter() - t0, reused)
        path.write_text(json.dumps(summary, indent=1, default=str))
    brief = {k: v for k, v in summary.items() if k != "rows"}
    print(json.dumps({**brief, "results_file": portable_path(path)}))
    return summary


def summarize(
    rows: list[dict], algos: list[str], args, mdps: int, partial: bool, wall_s: float, reused: int = 0
) -> dict:
    """The study's results over ``rows`` (the MDPs done so far): correlations, agreement, the rows."""
    med = {a: [r[a]["median_steps_censored"] for r in rows] for a in algos}
    correlations = {}
    if "sqirl" in algos:
        for other in ("ppo", "dqn"):
            if other in algos:
                correlations[f"sqirl_vs_{other}"] = spearman(med["sqirl"], med[other])
    det_rows = [r for r in rows if r["sticky"] == 0 and r["effective_horizon"] is not None]
    for a in algos:
        correlations[f"effective_horizon_vs_{a}"] = spearman(
            [r["effective_horizon"] for r in det_rows], [r[a]["median_steps_censored"] for r in det_rows]
        )
    agree = None
    if "sqirl" in algos and ({"ppo", "dqn"} & set(algos)):
        either = [r for r in rows if any(r[a]["solved"] > 0 for a in ("ppo", "dqn") if a in algos)]
        agree = {"mdps_ppo_or_dqn_solved": len(either),
                 "sqirl_also_solved": sum(r["sqirl"]["solved"] > 0 for r in either)}  # fmt: skip
    return {
        **run_record("experiment", "effective_horizon", args.quick),
        "partial": partial,
        "settings": {
            "mdps": mdps,
            "mdps_done": len({r["mdp"] for r in rows}),
            "seeds": args.seeds,
            "budget_steps": args.budget,
            "evals": args.evals,
            "sticky": args.sticky,
            "algos": algos,
            "sqirl_m": "min(64, budget // T^2) deterministic, min(256, budget // T^2) sticky; k = 1",
        },  # fmt: skip
        "results_reused_from_an_earlier_invocation": reused,
        "rule": "sample complexity = env steps at a run's first exactly-optimal greedy policy (V^pi >= V* - 1e-4), "
        "evaluated every budget/evals steps; unsolved runs counted at the budget (censored); medians over seeds",
        "correlations_spearman": correlations,
        "sqirl_solves_where_ppo_or_dqn_does": agree,
        "rows": rows,
        "wall_s": wall_s,
        "wall_s_note": "this invocation only" if reused else "the whole study",
    }


if __name__ == "__main__":
    main()
