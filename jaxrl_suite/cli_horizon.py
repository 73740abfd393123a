"""``jaxrl-suite horizon``: exact analysis of a grid MDP under BRIDGE semantics (``envs/grid/bridge.py``,
``algos/tabular.py``): its reachable states, V*, V^rand, min_k, EPW and the effective horizon."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--level",
        metavar="FILE.json",
        help="a level in MiniGrid's encoding: {grid: grid.encode() ([x][y] -> (object, colour, state)), "
        "agent_pos, agent_dir}; reward for reaching a goal cell",
    )
    src.add_argument("--env", metavar="ID", help="a grid env of the suite: its level at --seed")
    p.add_argument("--seed", type=int, default=0, help="with --env: the level's seed")
    p.add_argument("--env-opt", action="append", metavar="KEY=VALUE", help="with --env: an env option")
    p.add_argument("--horizon", type=int, default=100)
    p.add_argument("--actions", type=int, choices=(3, 6), default=None,
                   help="6 (MiniGrid's without done) or 3 (navigation); default 3 for Empty, else 6")  # fmt: skip
    p.add_argument("--sticky", type=float, default=0.0, help="sticky-action probability (0: deterministic)")
    p.add_argument("--max-states", type=int, default=200_000)


def _level_env(path: str):
    """A general-step maze holding the file's level (padded square with walls), and its start state."""
    import jax
    import numpy as np

    from jaxrl_suite.envs.grid import constants
    from jaxrl_suite.envs.grid.envs.maze import Maze
    from jaxrl_suite.envs.grid.level import from_minigrid, make_level

    data = json.loads(Path(path).read_text())
    missing = {"grid", "agent_pos", "agent_dir"} - set(data)
    if missing:
        raise ValueError(
            f"{path}: a level file needs grid, agent_pos and agent_dir; missing {sorted(missing)}"
        )
    level = from_minigrid(np.asarray(data["grid"], np.uint8), data["agent_pos"], data["agent_dir"])
    g = np.asarray(level.grid)
    if not (g[..., 0] == constants.GOAL).any():
        raise ValueError(f"{path}: the level has no goal cell, so no reward")
    n = max(g.shape[:2])
    square = np.zeros((n, n, 3), np.uint8)
    square[...] = constants.CELL_WALL
    square[: g.shape[0], : g.shape[1]] = g
    env = Maze(size=n - 2, lean=False)
    _, state = env.reset_to_level(jax.random.key(0), make_level(square, level.agent_pos, level.agent_dir))
    return env, env.default_params, state


def run(args: argparse.Namespace) -> dict:
    from jaxrl_suite.algos.tabular import analyze
    from jaxrl_suite.envs.grid.bridge import default_actions, enumerate_mdp

    if args.horizon < 1:
        raise ValueError(f"--horizon must be >= 1, got {args.horizon}")
    if not 0.0 <= args.sticky < 1.0:
        raise ValueError(f"--sticky must lie in [0, 1), got {args.sticky}")
    if args.level:
        env, params, start = _level_env(args.level)
        source = {"level": args.level}
        actions = args.actions or 6
    else:
        import jax

        import jaxrl_suite
        from jaxrl_suite.registry import spec

        if spec(args.env).family not in ("minigrid", "maze"):
            raise ValueError(f"--env needs a grid env (MiniGrid-* or Maze-*), got {args.env}")
        from jaxrl_suite.cli import _env_overrides

        env, params = jaxrl_suite.make(args.env, **_env_overrides(args.env_opt))
        _, start = env.reset(jax.random.key(args.seed), params)
        source = {"env": args.env, "seed": args.seed}
        actions = args.actions or default_actions(args.env)
    mdp, _ = enumerate_mdp(env, start, actions, params, max_states=args.max_states)
    out = analyze(mdp, args.horizon, args.sticky)
    return {**source, **out}


def print_human(summary: dict) -> None:
    eh = summary["effective_horizon"]
    print(
        f"{summary['states']} states ({summary['model_states']} with sticky actions), {summary['actions']} "
        f"actions, horizon {summary['horizon']}, sticky {summary['sticky']}\n"
        f"V* {summary['v_star']:.6g}  V^rand {summary['v_rand']:.6g}  min_k {summary['min_k']}  "
        f"EPW {summary['epw']}  effective horizon {'n/a (stochastic)' if eh is None else f'{eh:.3f}'}"
    )
