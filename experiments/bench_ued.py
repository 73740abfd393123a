"""UED benchmark, two parts in one invocation.

1. **Maze env vs JaxUED's** (``jaxued`` 0.0.1 from PyPI, bench extras): the same levels (drawn by JaxUED's
   own generator: 13x13, up to 60 walls), the same batch, 5x5 views, 250-step limit, each env replaying its
   level when an episode ends (ours: levels pinned in per-env params; theirs: ``AutoReplayWrapper``), uniform
   random actions, ``lax.scan`` over 256 steps with every observation summed into the output (XLA may not
   drop it). Ours and theirs are timed in turn for ``--repeats`` rounds after compiling; the speedup is the
   median of the per-round ratios, with their range; target ours >= 3x.
2. **The UED loop's cost**: env steps/s of whole training updates (rollout, GAE, PPO epochs, and for the
   curricula level sampling, scoring, buffer updates and edits) for plain PPO on ``Maze-v0`` and for DR, PLR
   (robust and not) and ACCEL with the same student and batch; overhead = 1 - curriculum / reference. The
   curricula replay from the first update on (``min_fill=0``; the default waits for 2000 levels), so the
   timed updates include replays (80%) as a long run's do. Robust PLR and ACCEL skip the gradient step on
   exploring batches, so their wall time is not comparable work; non-robust PLR against DR isolates the
   curriculum's own cost (target <= 20%).

JaxUED 0.0.1 calls ``jax.tree_map``, which JAX 0.6 removed; the benchmark aliases it to ``jax.tree.map``
before importing jaxued (nothing else of theirs is touched).

Usage: python experiments/bench_ued.py [--envs 1024] [--updates 20] [--repeats 3] [--quick] [--json]
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
from jaxrl_suite.envs.grid import constants
from jaxrl_suite.envs.grid.level import make_level
from jaxrl_suite.results import portable_path, results_dir, run_record
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
    grid[...] = constants.CELL_WALL
    inner = np.where(
        walls[..., None], np.array(constants.CELL_WALL, np.uint8), np.array(constants.CELL_EMPTY, np.uint8)
    )
    grid[:, 1:-1, 1:-1] = inner
    gx, gy = np.asarray(levels.goal_pos, np.int64).T
    grid[np.arange(n), gy + 1, gx + 1] = constants.CELL_GOAL
    pos = np.asarray(levels.agent_pos, np.int64) + 1
    return make_level(grid, pos, np.asarray(levels.agent_dir, np.int32))


def time_interleaved(fns: dict, args: dict, repeats: int) -> tuple[dict, dict]:
    """Compile each jitted function, then time them in turn, ``repeats`` rounds: ``(compile seconds,
    per-round seconds)`` by name. Interleaving puts every side under the same drift of a shared machine."""
    compiled, compile_s, times = {}, {}, {name: [] for name in fns}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        compiled[name] = jax.jit(fn).lower(*args[name]).compile()
        compile_s[name] = time.perf_counter() - t0
        jax.block_until_ready(compiled[name](*args[name]))
    for _ in range(repeats):
        for name in fns:
            t0 = time.perf_counter()
            jax.block_until_ready(compiled[name](*args[name]))
            times[name].append(time.perf_counter() - t0)
    return compile_s, times


def ratio_stats(num: list, den: list) -> dict:
    """Per-round ratios ``num / den``: median and range."""
    r = np.asarray(num) / np.asarray(den)
    return {"median": float(np.median(r)), "min": float(r.min()), "max": float(r.max()), "rounds": r.tolist()}


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
            action = jax.random.randint(ka, (n,), 0, constants.NUM_ACTIONS)
            obs, state, reward, term, trunc, _ = venv.step(ks, state, action, o_params)
            return (state, acc + obs["image"].sum(dtype=jnp.int32) + reward.sum().astype(jnp.int32)), None

        return jax.lax.scan(step, (state, jnp.int32(0)), jax.random.split(key, STEPS))[0][1]

    def run_theirs(key):
        keys = jax.random.split(key, n)
        obs, state = jax.vmap(theirs.reset_to_level, in_axes=(0, 0, None))(keys, t_levels, t_params)

        def step(carry, k):
            state, acc = carry
            ka, ks = jax.random.split(k)
            action = jax.random.randint(ka, (n,), 0, constants.NUM_ACTIONS)
            obs, state, reward, done, _ = jax.vmap(theirs.step, in_axes=(0, 0, 0, None))(
                jax.random.split(ks, n), state, action, t_params
            )
            return (state, acc + obs.image.sum(dtype=jnp.int32) + reward.sum().astype(jnp.int32)), None

        return jax.lax.scan(step, (state, jnp.int32(0)), jax.random.split(key, STEPS))[0][1]

    key = jax.random.key(1)
    compile_s, times = time_interleaved(
        {"ours": run_ours, "jaxued": run_theirs}, {"ours": (key,), "jaxued": (key,)}, repeats
    )
    return {
        "envs": n,
        "steps": STEPS,
        "repeats": repeats,
        "ours_steps_per_s": n * STEPS / float(np.median(times["ours"])),
        "jaxued_steps_per_s": n * STEPS / float(np.median(times["jaxued"])),
        "ours_compile_s": compile_s["ours"],
        "jaxued_compile_s": compile_s["jaxued"],
        "speedup": ratio_stats(times["jaxued"], times["ours"]),
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
            UEDHparams(min_fill=0.0),
        ),
        "plr_nonrobust": (
            make_train(UEDConfig(method="plr", robust=False, total_timesteps=total, **student), env, params),
            UEDHparams(min_fill=0.0),
        ),
        "accel": (
            make_train(UEDConfig(method="accel", total_timesteps=total, **student), env, params),
            UEDHparams(min_fill=0.0),
        ),
    }
    fns, args = {}, {}
    for name, (trainer, hp) in variants.items():
        # warm up with a few updates (the buffer gets levels to replay), then time `updates` from that state
        state = trainer.init(jax.random.key(0), hp)
        args[name] = (jax.jit(lambda s, tr=trainer, hp=hp: tr.run(s, hp, 4))(state)[0],)
        # the whole output (final state and metrics) is returned, so XLA cannot drop any of the work
        fns[name] = lambda s, tr=trainer, hp=hp: tr.run(s, hp, updates)
    compile_s, times = time_interleaved(fns, args, repeats)
    for name, (_, hp) in variants.items():
        rows[name] = {
            "steps_per_s": total / float(np.median(times[name])),
            "compile_s": compile_s[name],
            "min_fill": getattr(hp, "min_fill", None),
        }
    for name in ("dr", "plr", "plr_nonrobust", "accel"):
        # overhead per round: 1 - reference time / curriculum time (= 1 - curriculum / reference steps/s)
        for ref in ("ppo", "dr"):
            st = ratio_stats(times[ref], times[name])
            rows[name][f"overhead_vs_{ref}"] = {k: (1 - v if k != "rounds" else [1 - x for x in v])
                                               for k, v in st.items()}  # fmt: skip
            lo, hi = rows[name][f"overhead_vs_{ref}"]["max"], rows[name][f"overhead_vs_{ref}"]["min"]
            rows[name][f"overhead_vs_{ref}"].update(min=lo, max=hi)
    return {"student": {**student, "policy": "mlp"}, "updates": updates, "repeats": repeats, "variants": rows}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--envs", type=int, default=1024)
    ap.add_argument("--updates", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5, help="interleaved timing rounds (median reported)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 64 envs, 4 updates, 1 repeat")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.envs, args.updates, args.repeats = 64, 4, 1
    envs = bench_envs(args.envs, args.repeats)
    loop = bench_loop(args.updates, args.repeats)
    out_dir = results_dir(args.quick)
    summary = {
        **run_record("benchmark", "bench_ued", args.quick),
        "env_vs_jaxued": envs,
        "ued_loop": loop,
        "targets": "ours >= 3x JaxUED's maze; curriculum overhead <= 20% (non-robust PLR vs DR: same work)",
    }
    path = out_dir / "bench_ued.json"
    path.write_text(json.dumps(summary, indent=1))
    if not args.json:
        sp = envs["speedup"]
        print(f"maze env, {envs['envs']} envs: ours {envs['ours_steps_per_s']:.3g} steps/s, JaxUED "
              f"{envs['jaxued_steps_per_s']:.3g} ({sp['median']:.2f}x, range {sp['min']:.2f}-{sp['max']:.2f})")  # fmt: skip
        for name, row in loop["variants"].items():
            extra = "" if name == "ppo" else f"  overhead vs PPO {row['overhead_vs_ppo']['median']:+.0%}, " \
                f"vs DR {row['overhead_vs_dr']['median']:+.0%}"  # fmt: skip
            print(f"{name:<14} {row['steps_per_s']:>9.0f} steps/s{extra}")
    print(json.dumps({**summary, "results_file": portable_path(path)}))
    return summary


if __name__ == "__main__":
    main()
