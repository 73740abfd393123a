"""``jaxrl-suite levels``: generate levels, print them (MiniGrid encoding, pose, solvability, shortest path)
and optionally draw them."""

from __future__ import annotations

import argparse
from pathlib import Path

from jaxrl_suite.cli_options import key_values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--generator", default="random_walls", help="random_walls, perfect_maze, rooms or lava_field"
    )
    p.add_argument(
        "--prefab", action="append", metavar="NAME", help="a named held-out level instead (repeatable; 'all')"
    )
    p.add_argument("--num", type=int, default=4, help="how many levels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=13, help="interior side (the grid adds the outer walls)")
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="generator option, e.g. max_walls=30 (repeatable)",
    )
    p.add_argument("--max-steps", type=int, default=250, help="episode limit for the optimal return")
    p.add_argument("--render", metavar="FILE.png", help="draw the levels side by side into a PNG")
    p.add_argument("--tile-size", type=int, default=16)


def _options(pairs: list[str] | None) -> dict:
    return key_values(pairs, "--option")


def run(args: argparse.Namespace) -> dict:
    """Generate ``--num`` levels; the summary holds each level and what the in-graph search says of it."""
    if args.num < 1:
        raise ValueError(f"--num must be >= 1, got {args.num}")
    if args.render and Path(args.render).suffix.lower() != ".png":
        raise ValueError(f"--render writes a PNG, got {args.render!r}")
    import jax
    import numpy as np

    from jaxrl_suite.envs.grid import generators, solve
    from jaxrl_suite.envs.grid.level import to_minigrid

    if args.prefab:
        from jaxrl_suite.envs.grid import prefabs

        names = list(prefabs.PREFABS) if args.prefab == ["all"] else args.prefab
        levels = prefabs.prefabs(names, args.size)
        options = {"prefabs": names, "size": args.size}
        args.num = len(names)
    else:
        options = {"height": args.size, "width": args.size, **_options(args.option)}
        try:
            generate = generators.make_generator(args.generator, **options)
        except TypeError as e:  # an option the generator does not take
            raise ValueError(f"generator {args.generator!r}: {e}") from None
        levels = generators.generate_batch(generate, jax.random.key(args.seed), args.num)
    paths = np.asarray(jax.jit(jax.vmap(solve.shortest_path))(levels))
    out = []
    for i in range(args.num):
        one = jax.tree.map(lambda a, i=i: a[i], levels)
        mg = to_minigrid(one)
        n = int(paths[i])
        ok = n < int(solve.UNREACHABLE)
        out.append(
            {
                "encoding": mg["encoding"].tolist(),
                "agent_pos": list(mg["agent_pos"]),
                "agent_dir": mg["agent_dir"],
                "solvable": ok,
                "shortest_path": n if ok else None,
                "optimal_return": (1.0 - 0.9 * n / args.max_steps) if ok and n <= args.max_steps else 0.0,
            }
        )
    summary = {
        "generator": "prefab" if args.prefab else args.generator,
        "options": options,
        "seed": args.seed,
        "num": args.num,
        "encoding": "MiniGrid grid.encode(): [x][y] = (object, colour, state); agent not in the grid",
        "levels": out,
    }
    if args.render:
        summary["render"] = str(_render(levels, Path(args.render), args.tile_size))
    return summary


def _render(levels, path: Path, tile: int) -> Path:
    import imageio.v2 as imageio
    import jax
    import numpy as np

    from jaxrl_suite.envs.grid.render import render_grid

    frames = jax.jit(jax.vmap(lambda one: render_grid(one.grid, one.agent_pos, one.agent_dir, None, tile)))(
        levels
    )
    frames = np.asarray(frames)
    gap = np.full((frames.shape[1], tile // 2, 3), 255, np.uint8)
    row = np.concatenate([x for f in frames for x in (f, gap)][:-1], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.imwrite(path, row)
    return path


def print_human(summary: dict) -> None:
    from jaxrl_suite.envs.grid.level import from_minigrid, to_ascii

    for i, one in enumerate(summary["levels"]):
        level = from_minigrid(one["encoding"], one["agent_pos"], one["agent_dir"])
        path = one["shortest_path"]
        print(
            f"level {i}: " + (f"solvable, shortest path {path} actions" if one["solvable"] else "unsolvable")
        )
        try:
            print(to_ascii(level))
        except ValueError:  # doors or keys: no ASCII letter
            print("(doors/objects: see --json for the MiniGrid encoding)")
    if "render" in summary:
        print(f"drawn to {summary['render']}")
