"""UED benchmark, two parts in one invocation.

1. **Maze env vs JaxUED's** (``jaxued`` 0.0.1 from PyPI, bench extras): the same levels (drawn by JaxUED's
   own generator: 13x13, up to 60 walls), the same batch, 5x5 views, 250-step limit, each env replaying its
   level when an episode ends (ours: levels pinned in per-env params; theirs: ``AutoReplayWrapper``), uniform
   random actions, ``lax.scan`` over 256 steps with every observation summed into the output (XLA may not
   drop it). Steps/s, best of ``--repeats`` runs after compiling; target ours >= 3x.
2. **The UED loop's cost**: env steps/s of whole training updates (rollout, GAE, PPO epochs, and for the
   curricula level sampling, scoring, buffer updates and edits) for plain PPO on ``Maze-v0`` and for DR, PLR
   (robust and not) and ACCEL with the same student and batch; overhead = 1 - curriculum / reference. Robust
   PLR and ACCEL skip the gradient step on exploring batches, so their wall time is not comparable work;
   non-robust PLR against DR isolates the curriculum's own cost (target <= 20%).

JaxUED 0.0.1 calls ``jax.tree_map``, which JAX 0.6 removed; the benchmark aliases it to ``jax.tree.map``
before importing jaxued (nothing else of theirs is touched).

Usage: python experiments/bench_ued.py [--envs 1024] [--updates 20] [--repeats 3] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxrl_suite
from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid.level import make_level
from jaxrl_suite.results import portable_path
from jaxrl_suite.vector import VecEnv
from jaxrl_suite.wrappers import EpisodeStatistics

RESULTS = Path(__file__).parent / "results"
STEPS = 256


def jaxued_modules():
    if not hasattr(jax, "tree_map"):  # jaxued 0.0.1 predates its removal (JAX 0.6)
        jax.tree_map = jax.tree.map
    from jaxued.environments.maze import Maze, make_level_generator
    from jaxued.wrappers import AutoReplayWrapper

    return Maze, make_level_generator, AutoReplayWrapper


def ours_from_jaxued(levels) -> object:
    """JaxUED levels (13x13 wall maps, goal, pose) as our ``Level`` batch (outer walls added)."""
    walls = np.asarray(levels.wall_map)
    n, h, w = walls.shape
    grid = np.zeros((n, h + 2, w + 2, 3), np.uint8)
    grid[...] = C.CELL_WALL
    inner = np.where(walls[..., None], np.array(C.CELL_WALL, np.uint8), np.array(C.CELL_EMPTY, np.uint8))
    grid[:, 1:-1, 1:-1] = inner
    gx, gy = np.asarray(levels.goal_pos, np.int64).T
    grid[np.arange(n), gy + 1, gx + 1] = C.CELL_GOAL
    pos = np.asarray(levels.agent_pos, np.int64) + 1
    return make_level(grid, pos, np.asarray(levels.agent_dir, np.int32))


def time_best(fn, args, repeats: int) -> tuple[float, float]:
    """(compile seconds, best run seconds) of a jitted function."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - t0)
    return compile_s, best


def bench_envs(n: int, repeats: int) -> dict:
    Maze, make_level_generator, AutoReplayWrapper = jaxued_modules()
    theirs = AutoReplayWrapper(Maze(max_height=13, max_width=13, agent_view_size=5))
    t_params = theirs.default_params
    t_levels = jax.vmap(make_level_generator(13, 13, 60))(jax.random.split(jax.random.key(0), n))
    env, params = jaxrl_suite.make("Maze-v0")
    venv = VecEnv(EpisodeStatistics(env), n, params_axis=0)
    o_params = env.with_levels(params, ours_from_jaxued(t_levels))

    def run_ours(key):
        obs, state = venv.reset(key, o_params)

        def step(carry, k):
            state, acc = carry
            ka, ks = jax.random.split(k)
            action = jax.random.randint(ka, (n,), 0, C.NUM_ACTIONS)
            obs, state, reward, term, trunc, _ = venv.step(ks, state, action, o_params)
            return (state, acc + obs["image"].sum(dtype=jnp.int32) + reward.sum().astype(jnp.int32)), None

        return jax.lax.scan(step, (state, jnp.int32(0)), jax.random.split(key, STEPS))[0][1]

    def run_theirs(key):
        keys = jax.random.split(key, n)
        obs, state = jax.vmap(theirs.reset_to_level, in_axes=(0, 0, None))(keys, t_levels, t_params)

        def step(carry, k):
            state, acc = carry
            ka, ks = jax.random.split(k)
            action = jax.random.randint(ka, (n,), 0, C.NUM_ACTIONS)
            obs, state, reward, done, _ = jax.vmap(theirs.step, in_axes=(0, 0, 0, None))(
                jax.random.split(ks, n), state, action, t_params
            )
            return (state, acc + obs.image.sum(dtype=jnp.int32) + reward.sum().astype(jnp.int32)), None

        return jax.lax.scan(step, (state, jnp.int32(0)), jax.random.split(key, STEPS))[0][1]

    key = jax.random.key(1)
    ours_c, ours_t = time_best(run_ours, (key,), repeats)
    theirs_c, theirs_t = time_best(run_theirs, (key,), repeats)
    return {
        "envs": n,
        "steps": STEPS,
        "ours_steps_per_s": n * STEPS / ours_t,
        "jaxued_steps_per_s": n * STEPS / theirs_t,
        "ours_compile_s": ours_c,
        "jaxued_compile_s": theirs_c,
        "speedup": theirs_t / ours_t,
    }


def bench_loop(updates: int, repeats: int) -> dict:
    from jaxrl_suite.algos import ppo
    from jaxrl_suite.algos.ued.curriculum import UEDConfig, UEDHparams, make_train

    env, params = jaxrl_suite.make("Maze-v0")
    student = dict(num_envs=32, num_steps=128, num_minibatches=4, update_epochs=4, hidden=(64,))
    total = 32 * 128 * updates
    rows = {}
    variants = {
        "ppo": (
            ppo.make_train(ppo.PPOConfig(total_timesteps=total, **student), env, params),
            ppo.PPOHparams(),
        ),
        "dr": (
            make_train(UEDConfig(method="dr", total_timesteps=total, **student), env, params),
            UEDHparams(),
        ),
        "plr": (
            make_train(UEDConfig(method="plr", total_timesteps=total, **student), env, params),
            UEDHparams(),
        ),
        "plr_nonrobust": (
            make_train(UEDConfig(method="plr", robust=False, total_timesteps=total, **student), env, params),
            UEDHparams(),
        ),
        "accel": (
            make_train(UEDConfig(method="accel", total_timesteps=total, **student), env, params),
            UEDHparams(),
        ),
    }
    for name, (trainer, hp) in variants.items():
        # warm the buffer first (PLR replays once half full), then time `updates` updates from that state
        state = trainer.init(jax.random.key(0), hp)
        state = jax.jit(lambda s, tr=trainer, hp=hp: tr.run(s, hp, 4))(state)[0]
        # the whole output (final state and metrics) is returned, so XLA cannot drop any of the work
        compile_s, best = time_best(lambda s, tr=trainer, hp=hp: tr.run(s, hp, updates), (state,), repeats)
        rows[name] = {"steps_per_s": total / best, "compile_s": compile_s}
    for name in ("dr", "plr", "plr_nonrobust", "accel"):
        rows[name]["overhead_vs_ppo"] = 1.0 - rows[name]["steps_per_s"] / rows["ppo"]["steps_per_s"]
        rows[name]["overhead_vs_dr"] = 1.0 - rows[name]["steps_per_s"] / rows["dr"]["steps_per_s"]
    return {"student": {**student, "policy": "mlp"}, "updates": updates, "variants": rows}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--envs", type=int, default=1024)
    ap.add_argument("--updates", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smoke run: 64 envs, 4 updates, 1 repeat")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.envs, args.updates, args.repeats = 64, 4, 1
    envs = bench_envs(args.envs, args.repeats)
    loop = bench_loop(args.updates, args.repeats)
    out_dir = RESULTS / "quick" if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "benchmark": "bench_ued",
        "smoke": bool(args.quick),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {len(jax.devices())} device(s), "
        f"{jax.default_backend()}",
        "jax": jax.__version__,
        "env_vs_jaxued": envs,
        "ued_loop": loop,
        "targets": "ours >= 3x JaxUED's maze; curriculum overhead <= 20% (non-robust PLR vs DR: same work)",
    }
    path = out_dir / "bench_ued.json"
    path.write_text(json.dumps(summary, indent=1))
    if not args.json:
        print(f"maze env, {envs['envs']} envs: ours {envs['ours_steps_per_s']:.3g} steps/s, JaxUED "
              f"{envs['jaxued_steps_per_s']:.3g} ({envs['speedup']:.2f}x)")  # fmt: skip
        for name, row in loop["variants"].items():
            extra = "" if name == "ppo" else f"  overhead vs PPO {row['overhead_vs_ppo']:+.0%}, vs DR " \
                f"{row['overhead_vs_dr']:+.0%}"  # fmt: skip
            print(f"{name:<14} {row['steps_per_s']:>9.0f} steps/s{extra}")
    print(json.dumps({**summary, "results_file": portable_path(path)}))
    return summary


if __name__ == "__main__":
    main()
