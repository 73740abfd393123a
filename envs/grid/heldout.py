"""The full out-of-distribution maze set of minimax (Jiang et al. 2023, "minimax: Efficient Baselines for
Autocurricula in JAX"; its ``envs/maze/maze_ood.py``): JaxUED's fixed mazes (``prefabs.py``) plus the
procedural ones, SmallCorridor (13x13) and LargeCorridor (19x19) with the goal in a random alcove, FourRooms
(17x17, random doorways, goal and start) and PerfectMazeMedium (a 19x19 perfect maze, random goal and start).

Every level is embedded in one ``size x size`` interior (default 19, the largest) with walls filling the
rest: the student sees a 5x5 egocentric view, so the padding only adds wall it cannot cross. A procedural
level contributes ``instances`` draws from a fixed seed, so the set is the same on every run. Step limits
follow minimax's evaluation: ``2 (h + 2) (w + 2)`` for its fixed-layout and perfect mazes, 250 for
FourRooms, JaxUED's 250 for JaxUED's own prefabs (``max_steps="minimax"``; or one number for all).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants, prefabs
from jaxrl_suite.envs.grid.generators import perfect_maze
from jaxrl_suite.envs.grid.level import Level, make_level

PROCEDURAL = ("SmallCorridor", "LargeCorridor", "FourRooms", "PerfectMazeMedium")
MAX_STEPS_JAXUED = 250


def _walled(inner: np.ndarray) -> np.ndarray:
    """uint8[h + 2, w + 2, 3] from a bool wall map of the interior, outer walls added."""
    grid = np.zeros((inner.shape[0] + 2, inner.shape[1] + 2, 3), np.uint8)
    grid[...] = constants.CELL_WALL
    grid[1:-1, 1:-1] = np.where(
        inner[..., None], np.uint8(constants.CELL_WALL), np.uint8(constants.CELL_EMPTY)
    )
    return grid


def corridor(n: int, key: jax.Array) -> Level:
    """An ``n x n`` corridor maze (n = 13: SmallCorridor, 19: LargeCorridor): open top and bottom rows,
    walls in every odd column between them, a wall across the middle row; the goal sits at the inner end of
    a random alcove next to the middle wall, the agent at the left end of the middle row facing a random
    way. The agent must search the alcoves."""
    mid = n // 2
    inner = np.zeros((n, n), bool)
    inner[1:-1, 1 : n - 1 : 2] = True
    inner[mid, 1:-1] = True
    alcoves = np.array([(x, y) for y in (mid - 1, mid + 1) for x in range(2, n - 2, 2)], np.int32)
    k_goal, k_dir = jax.random.split(key)
    gx, gy = alcoves[int(jax.random.randint(k_goal, (), 0, len(alcoves)))]
    grid = _walled(inner)
    grid[gy + 1, gx + 1] = constants.CELL_GOAL
    return make_level(grid, (1, mid + 1), int(jax.random.randint(k_dir, (), 0, 4)))


def four_rooms(key: jax.Array, n: int = 17) -> Level:
    """minimax's FourRooms: a wall across the middle row and the middle column of an ``n x n`` interior,
    one random doorway in each of the four wall segments, goal and agent on random distinct free cells."""
    mid = n // 2
    inner = np.zeros((n, n), bool)
    inner[mid, :] = True
    inner[:, mid] = True
    k = jax.random.split(key, 5)
    xs = np.asarray(jax.random.randint(k[0], (2,), 0, mid)) + np.array([0, mid + 1])
    ys = np.asarray(jax.random.randint(k[1], (2,), 0, mid)) + np.array([0, mid + 1])
    inner[mid, xs] = False
    inner[ys, mid] = False
    free = np.flatnonzero(~inner)
    goal = int(jax.random.choice(k[2], free))
    agent = int(jax.random.choice(k[3], free[free != goal]))
    grid = _walled(inner)
    grid[goal // n + 1, goal % n + 1] = constants.CELL_GOAL
    return make_level(grid, (agent % n + 1, agent // n + 1), int(jax.random.randint(k[4], (), 0, 4)))


def _embed(level: Level, size: int) -> Level:
    """``level`` in a ``size x size`` interior: walls fill the right and bottom."""
    g = np.asarray(level.grid)
    h, w = g.shape[:2]
    if h > size + 2 or w > size + 2:
        raise ValueError(f"a {h - 2}x{w - 2} level does not fit size={size}")
    grid = np.zeros((size + 2, size + 2, 3), np.uint8)
    grid[...] = constants.CELL_WALL
    grid[:h, :w] = g
    return make_level(grid, level.agent_pos, level.agent_dir)


def heldout_set(
    instances: int = 4, seed: int = 0, size: int = 19, max_steps: int | str = "minimax"
) -> tuple[list[str], Level, np.ndarray]:
    """``(names, levels [n, size + 2, size + 2, 3], max_steps int32[n])``: JaxUED's prefabs, then
    ``instances`` draws of each procedural level (named ``"SmallCorridor/0"`` ...)."""
    if instances < 1:
        raise ValueError(f"instances must be >= 1, got {instances}")
    names, levels, steps = [], [], []
    for name in prefabs.PREFABS:
        names.append(name)
        levels.append(prefabs.prefab(name, size))
        steps.append(MAX_STEPS_JAXUED)
    makers = {
        "SmallCorridor": (lambda k: corridor(13, k), 2 * 15 * 15),
        "LargeCorridor": (lambda k: corridor(19, k), 2 * 21 * 21),
        "FourRooms": (four_rooms, 250),
        "PerfectMazeMedium": (perfect_maze(19, 19), 2 * 21 * 21),
    }
    keys = jax.random.split(jax.random.key(seed), len(PROCEDURAL) * instances).reshape(len(PROCEDURAL), -1)
    for (name, (make, limit)), ks in zip(makers.items(), keys, strict=True):
        for i, k in enumerate(ks):
            names.append(f"{name}/{i}")
            levels.append(_embed(make(k), size))
            steps.append(limit)
    if max_steps != "minimax":
        steps = [int(max_steps)] * len(names)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *levels)
    return names, stacked, np.asarray(steps, np.int32)


def group_of(name: str) -> str:
    """The level a held-out name belongs to (``"SmallCorridor/2"`` -> ``"SmallCorridor"``)."""
    return name.split("/")[0]
