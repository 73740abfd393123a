"""Held-out maze levels: the out-of-distribution set that JaxUED evaluates on (its ``maze/level.py``
prefabs, Apache-2.0; Coward et al. 2024, "JaxUED"), drawn from the PAIRED and robust-PLR papers' test mazes
(Dennis et al. 2020; Jiang et al. 2021). ASCII as ``level.from_ascii`` reads it: 13x13 interiors (the
trivial ones smaller, padded with walls on the right and bottom as JaxUED pads them), ``#`` wall, ``G`` goal,
``>v<^`` the agent. minimax's procedural held-out levels (corridors, FourRooms, a 19x19 perfect maze) join
these in ``envs/grid/heldout.py``.
"""

from __future__ import annotations

import numpy as np

from jaxrl_suite.envs.grid import constants
from jaxrl_suite.envs.grid.level import Level, from_ascii, make_level


def mirrored(text: str) -> str:
    """An ASCII level flipped left to right (the agent's facing flipped with it)."""
    return "\n".join(line[::-1].translate(str.maketrans("<>", "><")) for line in text.split("\n"))


_LABYRINTH = """
.............
.###########.
.#.........#.
.#.#######.#.
.#.#.....#.#.
.#.#.###.#.#.
.#.#.#G#.#.#.
.#.#.#.#.#.#.
.#...#...#.#.
.#########.#.
.....#.....#.
####.#.#####.
>....#.......
"""

PREFABS: dict[str, str] = {
    "TrivialMaze": """
...
.#.
>#G
""",
    "TrivialMaze2": """
.....
.....
..#..
..#..
>.#.G
""",
    "TrivialMaze3": """
.......
.......
.......
...#...
...#...
...#...
>..#..G
""",
    "SixteenRooms": """
...#..#..#...
.>.......#...
...#..#......
#.###.##.###.
...#.........
......#..#...
##.#.##.###.#
...#.....#...
...#..#......
.####.##.#.##
...#..#..#...
......#....G.
...#.....#...
""",
    "SixteenRooms2": """
...#.....#...
.>....#..#...
...#..#..#...
####.##.###.#
...#..#......
......#..#...
#.#####.#####
...#..#..#...
...#.........
##.##.##.####
...#..#..#...
......#....G.
...#..#..#...
""",
    "Labyrinth": _LABYRINTH,
    "LabyrinthFlipped": mirrored(_LABYRINTH),
    "Labyrinth2": """
>#...........
.#.#########.
.#.#.......#.
.#.#.#####.#.
.#.#.#...#.#.
...#.#.#.#.#.
####.#G#.#.#.
...#.###.#.#.
.#.#.....#.#.
.#.#######.#.
.#.........#.
.###########.
.............
""",
    "StandardMaze": """
.....#>...#..
.###.####.##.
.#...........
.########.###
........#....
######.#####.
....#..#.....
.##...##.####
..#.#..#...#.
#.#.##.###.#.
#.#..#...#...
#.##.###.###.
...#..G#.#...
""",
    "StandardMaze2": """
...#.#....#..
.#.#.####...#
.#........#..
.########.###
...#..#.#.#.G
##.#.##.#.#..
>#.#....#.##.
.#.##.###..#.
.#..#..###.#.
.##.##.#.#.#.
.#...#.#.#.#.
.#.#.#.#.#.#.
...#...#.....
""",
    "StandardMaze3": """
...>#.#......
.####.#.####.
.#....#.#....
...####.#.#.#
##.#....#.#..
...#.##.#.##.
.#.#.#..#..#G
.#.#.#.###.##
.#...#.#.#...
.###.#.#.###.
.#...#.#...#.
.#.###.#.#.#.
.#...#...#...
""",
}


def prefab(name: str, size: int = 13) -> Level:
    """The named held-out level with a ``size x size`` interior (plus outer walls): smaller layouts are
    padded with walls on the right and bottom."""
    if name not in PREFABS:
        from jaxrl_suite.registry import close_matches

        hint = close_matches(name, list(PREFABS))
        raise ValueError(
            f"unknown prefab {name!r}; available: {sorted(PREFABS)}"
            + (f" (did you mean {', '.join(hint)}?)" if hint else "")
        )
    level = from_ascii(PREFABS[name], border=True)
    h, w = np.asarray(level.grid).shape[:2]
    if h > size + 2 or w > size + 2:
        raise ValueError(f"prefab {name!r} is {h - 2}x{w - 2}, larger than size={size}")
    grid = np.zeros((size + 2, size + 2, 3), np.uint8)
    grid[...] = constants.CELL_WALL
    grid[:h, :w] = np.asarray(level.grid)
    return make_level(grid, level.agent_pos, level.agent_dir)


def prefabs(names: list[str] | None = None, size: int = 13) -> Level:
    """Several prefabs stacked along a leading axis (all of them by default), for batched evaluation."""
    import jax
    import jax.numpy as jnp

    levels = [prefab(n, size) for n in (names or list(PREFABS))]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *levels)
