"""Level generators, jit-compiled with fixed shapes: ``generator(key) -> Level`` for a static size.

``random_walls`` (JaxUED's Maze distribution: a uniform number of walls up to a bound, then goal and agent on
free cells), ``perfect_maze`` (depth-first backtracker: every free cell connected by exactly one path),
``rooms`` (a grid of rooms joined by closed doors, one per wall between neighbouring rooms) and
``lava_field`` (random lava cells). With ``solvable=True`` the goal is drawn among the cells the agent can
reach, so every level is solvable by construction, with no rejection loop.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants
from jaxrl_suite.envs.grid.base import check_int
from jaxrl_suite.envs.grid.level import Level, make_level


def _walled(height: int, width: int) -> np.ndarray:
    """uint8[height + 2, width + 2, 3]: an empty interior inside the outer walls."""
    grid = np.zeros((height + 2, width + 2, 3), np.uint8)
    grid[...] = constants.CELL_EMPTY
    grid[[0, -1], :] = constants.CELL_WALL
    grid[:, [0, -1]] = constants.CELL_WALL
    return grid


def _choose(key: jax.Array, mask: jax.Array) -> jax.Array:
    """A uniform flat index among the True cells of ``mask`` (index 0 when none is)."""
    return jnp.argmax(jnp.where(mask.reshape(-1), jax.random.uniform(key, (mask.size,)), -1.0))


def _xy(idx: jax.Array, width: int) -> jax.Array:
    return jnp.stack([idx % width, idx // width]).astype(jnp.int32)


def reachable(grid: jax.Array, start: jax.Array) -> jax.Array:
    """bool[H, W]: cells the agent can walk to from ``start`` (empty, goal or open-door cells; closed doors
    count as passable, since the agent can open them; lava and locked doors do not)."""
    t, s = grid[..., 0], grid[..., 2]
    passable = (
        (t == constants.EMPTY)
        | (t == constants.GOAL)
        | (t == constants.FLOOR)
        | ((t == constants.DOOR) & (s != constants.LOCKED))
    )
    seen = jnp.zeros(t.shape, bool).at[start[1], start[0]].set(True)

    def grow(carry):
        m, _ = carry
        p = jnp.pad(m, 1)
        nxt = m | (passable & (p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]))
        return nxt, jnp.any(nxt != m)

    return jax.lax.while_loop(lambda c: c[1], grow, (seen, jnp.bool_(True)))[0]


def _place_agent_and_goal(key, grid: jax.Array, solvable: bool) -> Level:
    """Agent on a uniform free cell facing a uniform direction; goal on a uniform other free cell (one the
    agent can reach when ``solvable``)."""
    h, w = grid.shape[:2]
    k_agent, k_dir, k_goal = jax.random.split(key, 3)
    free = grid[..., 0] == constants.EMPTY
    agent = _xy(_choose(k_agent, free), w)
    allowed = free.at[agent[1], agent[0]].set(False)
    if solvable:
        allowed = allowed & reachable(grid, agent)
        # boxed in (no reachable cell): clear the cells around the agent, then one is reachable
        boxed = ~allowed.any()
        ring = jnp.zeros((h, w), bool)
        for dx, dy in constants.DIR_TO_VEC:
            ring = ring.at[agent[1] + dy, agent[0] + dx].set(True)
        inner = np.zeros((h, w), bool)
        inner[1:-1, 1:-1] = True
        clear = boxed & ring & inner
        grid = jnp.where(clear[..., None], jnp.asarray(constants.CELL_EMPTY, jnp.uint8), grid)
        allowed = jnp.where(boxed, clear, allowed)
    goal = _xy(_choose(k_goal, allowed), w)
    grid = grid.at[goal[1], goal[0]].set(jnp.asarray(constants.CELL_GOAL, jnp.uint8))
    return make_level(grid, agent, jax.random.randint(k_dir, (), 0, 4))


def _subset(key: jax.Array, size: int, n: jax.Array) -> jax.Array:
    """bool[size]: a uniform random subset of exactly ``n`` (traced, 0..size) of ``size`` cells.

    The ``n`` smallest of ``size`` distinct random keys (random high bits above the cell index, so keys
    never tie; equal high bits, probability ~size^2 / 2^25 for 169 cells, favour the lower index), found by
    a 32-step bitwise search for the threshold instead of a sort: a sort of 169 costs ~10x more on CPU,
    which matters when an auto-reset draws a level every step."""
    idx_bits = max(1, (size - 1).bit_length())
    if idx_bits > 16:
        raise ValueError(f"_subset draws from at most 2**16 cells, got {size}")
    high = jnp.uint32((0xFFFFFFFF >> idx_bits) << idx_bits)
    keys = (jax.random.bits(key, (size,), jnp.uint32) & high) | jnp.arange(size, dtype=jnp.uint32)

    def bit(b, t):  # the largest threshold with at most n keys below it: exactly n, the keys being distinct
        cand = t | jax.lax.shift_left(jnp.uint32(1), (31 - b).astype(jnp.uint32))
        return jnp.where((keys < cand).sum() <= n, cand, t)

    return keys < jax.lax.fori_loop(0, 32, bit, jnp.uint32(0))


def _scattered(cell, option: str, height: int, width: int, max_cells: int, solvable: bool):
    """Levels with a uniform number (0..max_cells) of ``cell`` at uniform distinct interior cells of the walled
    ``height x width`` grid, then agent and goal (``option`` names ``max_cells`` in errors)."""
    height, width = check_int("height", height, 2), check_int("width", width, 2)
    max_cells = check_int(option, max_cells, 0, height * width - 2)

    def generate(key: jax.Array) -> Level:
        k_cells, k_place = jax.random.split(key)
        k_n, k_pos = jax.random.split(k_cells)
        n = jax.random.randint(k_n, (), 0, max_cells + 1)
        on = jnp.pad(_subset(k_pos, height * width, n).reshape(height, width), 1)
        grid = jnp.where(on[..., None], jnp.asarray(cell, jnp.uint8), jnp.asarray(_walled(height, width)))
        return _place_agent_and_goal(k_place, grid, solvable)

    return generate


def random_walls(height: int = 13, width: int = 13, max_walls: int = 60, solvable: bool = False):
    """JaxUED's Maze levels: up to ``max_walls`` walls (a uniform count) in an ``height x width`` interior."""
    return _scattered(constants.CELL_WALL, "max_walls", height, width, max_walls, solvable)


def lava_field(height: int = 9, width: int = 9, max_lava: int = 20, solvable: bool = True):
    """Up to ``max_lava`` lava cells (a uniform count) in an ``height x width`` interior."""
    return _scattered(constants.CELL_LAVA, "max_lava", height, width, max_lava, solvable)


def perfect_maze(height: int = 13, width: int = 13):
    """A perfect maze (recursive backtracker, as minimax's PerfectMaze): the interior's odd-indexed cells are
    rooms, carved into one spanning tree by a depth-first walk of fixed length ``2 * rooms`` in ``lax.scan``
    (each room is pushed and popped once). Always solvable."""
    height, width = check_int("height", height, 3), check_int("width", width, 3)
    if height % 2 == 0 or width % 2 == 0:
        raise ValueError(f"a perfect maze needs odd interior sides, got {height}x{width}")
    rows, cols = (height + 1) // 2, (width + 1) // 2
    n = rows * cols
    moves = np.array([[0, -1], [1, 0], [0, 1], [-1, 0]], np.int32)  # (dr, dc) per direction

    def generate(key: jax.Array) -> Level:
        k_start, k_walk, k_place = jax.random.split(key, 3)
        start = jax.random.randint(k_start, (), 0, n)
        carved = jnp.zeros((height + 2, width + 2), bool)  # True: open; all wall until carved
        r0, c0 = start // cols, start % cols
        carved = carved.at[1 + 2 * r0, 1 + 2 * c0].set(True)
        visited = jnp.zeros((rows, cols), bool).at[r0, c0].set(True)
        stack = jnp.zeros((n, 2), jnp.int32).at[0].set(jnp.stack([r0, c0]))

        def step(carry, k):
            carved, visited, stack, top = carry
            r, c = stack[top, 0], stack[top, 1]
            nr, nc = r + moves[:, 0], c + moves[:, 1]
            inside = (nr >= 0) & (nr < rows) & (nc >= 0) & (nc < cols)
            fresh = inside & ~visited[jnp.clip(nr, 0, rows - 1), jnp.clip(nc, 0, cols - 1)]
            pick = jnp.argmax(jnp.where(fresh, jax.random.uniform(k, (4,)), -1.0))
            go = fresh.any() & (top >= 0)
            r1, c1 = nr[pick], nc[pick]
            wall_y, wall_x = 1 + r + r1, 1 + c + c1  # the wall between the two rooms, in grid cells
            carved = jnp.where(
                go, carved.at[wall_y, wall_x].set(True).at[1 + 2 * r1, 1 + 2 * c1].set(True), carved
            )
            visited = jnp.where(go, visited.at[r1, c1].set(True), visited)
            stack = jnp.where(go, stack.at[top + 1].set(jnp.stack([r1, c1])), stack)
            top = jnp.where(go, top + 1, top - 1)
            return (carved, visited, stack, top), None

        init = (carved, visited, stack, jnp.int32(0))
        (carved, *_), _ = jax.lax.scan(step, init, jax.random.split(k_walk, 2 * n))
        grid = jnp.where(
            carved[..., None],
            jnp.asarray(constants.CELL_EMPTY, jnp.uint8),
            jnp.asarray(constants.CELL_WALL, jnp.uint8),
        )
        return _place_agent_and_goal(k_place, grid, solvable=False)  # connected by construction

    return generate


def rooms(
    height: int = 13,
    width: int = 13,
    rooms_y: int = 2,
    rooms_x: int = 2,
    door_color: int = constants.YELLOW,
    locked: bool = False,
):
    """A ``rooms_y x rooms_x`` grid of rooms; every wall between two neighbouring rooms has one closed door
    at a uniform position along it. Agent and goal on uniform free cells (solvable: doors open). With
    ``locked``, one uniformly chosen door is locked and its key (same colour) lies on a uniform free cell
    the agent reaches without passing that door: solvable by picking the key up first when the door is on
    the only way (MiniGrid's DoorKey mechanics)."""
    height, width = check_int("height", height, 3), check_int("width", width, 3)
    rooms_y, rooms_x = check_int("rooms_y", rooms_y, 1), check_int("rooms_x", rooms_x, 1)
    if (height + 1) % rooms_y or (width + 1) % rooms_x:
        raise ValueError(
            f"rooms of equal size need rooms_y={rooms_y} to divide height + 1 = {height + 1} and "
            f"rooms_x={rooms_x} to divide width + 1 = {width + 1}"
        )
    ry, rx = (height + 1) // rooms_y, (width + 1) // rooms_x  # room pitch, its dividing wall included
    if ry < 2 or rx < 2:
        raise ValueError(f"rooms would have no floor: {rooms_y}x{rooms_x} rooms in {height}x{width}")
    n_doors = rooms_y * (rooms_x - 1) + (rooms_y - 1) * rooms_x
    if locked and n_doors == 0:
        raise ValueError("locked=True needs a door: use more than one room")
    base = _walled(height, width)
    for i in range(1, rooms_y):
        base[i * ry, :] = constants.CELL_WALL
    for j in range(1, rooms_x):
        base[:, j * rx] = constants.CELL_WALL
    door = np.array([constants.DOOR, door_color, constants.CLOSED], np.uint8)
    locked_door = np.array([constants.DOOR, door_color, constants.LOCKED], np.uint8)
    key_cell = np.array([constants.KEY, door_color, 0], np.uint8)

    def generate(key: jax.Array) -> Level:
        k_doors, k_place, k_lock, k_key = jax.random.split(key, 4)
        grid = jnp.asarray(base)
        keys = iter(jax.random.split(k_doors, 2 * rooms_y * rooms_x + 1))
        which = jax.random.randint(k_lock, (), 0, max(n_doors, 1))  # the locked door, if any
        k = 0
        for i in range(rooms_y):  # vertical walls between rooms (i, j) and (i, j + 1)
            for j in range(1, rooms_x):
                y = i * ry + 1 + jax.random.randint(next(keys), (), 0, ry - 1)
                grid = grid.at[y, j * rx].set(jnp.where(locked & (which == k), locked_door, door))
                k += 1
        for i in range(1, rooms_y):  # horizontal walls between rooms (i - 1, j) and (i, j)
            for j in range(rooms_x):
                x = j * rx + 1 + jax.random.randint(next(keys), (), 0, rx - 1)
                grid = grid.at[i * ry, x].set(jnp.where(locked & (which == k), locked_door, door))
                k += 1
        level = _place_agent_and_goal(k_place, grid, solvable=False)
        if not locked:
            return level
        grid = level.grid
        room = reachable(grid, level.agent_pos)  # closed doors pass, the locked one does not
        room = room & (grid[..., 0] == constants.EMPTY) & ~_at(level.agent_pos, grid.shape[:2])
        spot = _xy(_choose(k_key, room), grid.shape[1])
        grid = jnp.where(room.any(), grid.at[spot[1], spot[0]].set(key_cell), grid)
        return level.replace(grid=grid)

    return generate


def _at(pos: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """bool[H, W]: True at ``pos`` (x, y) only."""
    return jnp.zeros(shape, bool).at[pos[1], pos[0]].set(True)


GENERATORS = {
    "random_walls": random_walls,
    "perfect_maze": perfect_maze,
    "rooms": rooms,
    "lava_field": lava_field,
}


def make_generator(name: str, **options):
    """The named generator with its options (a clear error, with close matches, for an unknown name)."""
    if name not in GENERATORS:
        from jaxrl_suite.registry import close_matches

        hint = close_matches(name, list(GENERATORS))
        raise ValueError(
            f"unknown generator {name!r}; available: {sorted(GENERATORS)}"
            + (f" (did you mean {', '.join(hint)}?)" if hint else "")
        )
    return GENERATORS[name](**options)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _batch(generate, key, num):
    return jax.vmap(generate)(jax.random.split(key, num))


def generate_batch(generate, key: jax.Array, num: int) -> Level:
    """``num`` levels from one key (one compiled vmap)."""
    return _batch(generate, key, int(num))
