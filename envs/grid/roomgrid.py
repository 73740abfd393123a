"""MiniGrid's ``RoomGrid`` (rows x cols of square rooms sharing walls) as fixed-shape arrays.

The wall layout is static; each wall between two rooms gets a random door position at reset (as
``RoomGrid._gen_grid`` draws them). Doors between rooms are "edges": ``h[j, i]`` joins room (i, j) to (i + 1, j)
and ``v[j, i]`` joins (i, j) to (i, j + 1). Object and agent placement reproduce ``place_in_room`` (uniform
empty cell of the room, not next to the agent's position at that time) and ``RoomGrid.place_agent`` (uniform
over (cell, direction) pairs whose front cell is empty or a wall).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv

# edge kinds
NO_EDGE, OPENING, DOOR_EDGE = 0, 1, 2


class RoomLayout:
    """Static geometry of a RoomGrid: rooms of ``room_size`` (walls included) in ``rows`` x ``cols``."""

    def __init__(self, room_size: int, rows: int, cols: int):
        self.s, self.rows, self.cols = room_size, rows, cols
        self.width = (room_size - 1) * cols + 1
        self.height = (room_size - 1) * rows + 1
        grid = layout.empty_grid(self.height, self.width)
        for j in range(rows):
            for i in range(cols):
                layout.np_wall_rect(grid, i * (room_size - 1), j * (room_size - 1), room_size, room_size)
        self.walls = grid
        # RoomGrid._gen_grid leaves the agent at the middle room's centre until place_agent is called
        self.default_agent = np.array(
            [(cols // 2) * (room_size - 1) + room_size // 2, (rows // 2) * (room_size - 1) + room_size // 2],
            np.int32,
        )

    def top(self, i: int, j: int) -> tuple[int, int]:
        return i * (self.s - 1), j * (self.s - 1)

    def room_mask(self, i, j) -> jax.Array:
        """bool[H, W] of room (i, j)'s rectangle, walls included (``room.top``, ``room.size``); i, j may be traced."""
        x0, y0 = i * (self.s - 1), j * (self.s - 1)
        return layout.rect_mask(self.height, self.width, x0, y0, x0 + self.s, y0 + self.s)

    def door_positions(self, rng: layout.Rand) -> tuple[jax.Array, jax.Array]:
        """Random door cells (h: int32[rows, cols-1, 2], v: int32[rows-1, cols, 2]), as RoomGrid draws them."""
        s = self.s
        h = np.zeros((self.rows, max(self.cols - 1, 0), 2), np.int32)
        v = np.zeros((max(self.rows - 1, 0), self.cols, 2), np.int32)
        hy = rng.uniforms(h.shape[0] * h.shape[1]).reshape(h.shape[:2]) if h.size else None
        vx = rng.uniforms(v.shape[0] * v.shape[1]).reshape(v.shape[:2]) if v.size else None
        hj, hi = np.mgrid[0 : h.shape[0], 0 : h.shape[1]]
        vj, vi = np.mgrid[0 : v.shape[0], 0 : v.shape[1]]
        h_pos = jnp.zeros(h.shape, jnp.int32)
        v_pos = jnp.zeros(v.shape, jnp.int32)
        if h.size:
            y = hj * (s - 1) + layout.scale_int(hy, 1, s - 1)
            h_pos = jnp.stack([jnp.asarray((hi + 1) * (s - 1)), y], -1).astype(jnp.int32)
        if v.size:
            x = vi * (s - 1) + layout.scale_int(vx, 1, s - 1)
            v_pos = jnp.stack([x, jnp.asarray((vj + 1) * (s - 1))], -1).astype(jnp.int32)
        return h_pos, v_pos

    def door_pos(self, h_pos, v_pos, i: int, j: int, k: int) -> jax.Array:
        """Position of room (i, j)'s door on side k (0 right, 1 down, 2 left, 3 up)."""
        if k == 0:
            return h_pos[j, i]
        if k == 1:
            return v_pos[j, i]
        if k == 2:
            return h_pos[j, i - 1]
        return v_pos[j - 1, i]

    def neighbour(self, i: int, j: int, k: int) -> tuple[int, int] | None:
        di, dj = constants.DIR_TO_VEC[k]
        ni, nj = i + int(di), j + int(dj)
        if 0 <= ni < self.cols and 0 <= nj < self.rows:
            return ni, nj
        return None


def room_free(grid, rooms: RoomLayout, i, j, agent_pos) -> jax.Array:
    """bool[H, W]: where ``place_in_room`` may put an object: empty cells of room (i, j) at Manhattan distance
    >= 2 from the agent (``reject_next_to``; that also excludes the agent's own cell)."""
    X, Y = layout.coords(rooms.height, rooms.width)
    far = (jnp.abs(X - agent_pos[0]) + jnp.abs(Y - agent_pos[1])) >= 2
    return rooms.room_mask(i, j) & far & layout.free_mask(grid)


def place_in_room(rng: layout.Rand, grid, rooms: RoomLayout, i, j, agent_pos) -> jax.Array:
    """``RoomGrid.place_in_room``: uniform over ``room_free``."""
    return layout.flat_to_xy(rng.choice(room_free(grid, rooms, i, j, agent_pos)), rooms.width)


def place_agent_in_room(rng: layout.Rand, grid, rooms: RoomLayout, i, j) -> tuple[jax.Array, jax.Array]:
    """``RoomGrid.place_agent``: uniform (cell, direction) in room (i, j) with an empty-or-wall front cell."""
    free = rooms.room_mask(i, j) & layout.free_mask(grid)
    front = layout.front_types(grid)
    ok = free[..., None] & ((front == constants.EMPTY) | (front == constants.WALL))
    idx = rng.choice(ok)  # flat over [H, W, 4]
    return layout.flat_to_xy(idx // 4, rooms.width), idx % 4


def remove_wall(grid: np.ndarray, rooms: RoomLayout, i: int, j: int, k: int) -> np.ndarray:
    """``RoomGrid.remove_wall`` on static walls: clear the wall on side k of room (i, j), corners kept."""
    x0, y0 = rooms.top(i, j)
    s = rooms.s
    grid = grid.copy()
    if k == 0:
        grid[y0 + 1 : y0 + s - 1, x0 + s - 1] = constants.CELL_EMPTY
    elif k == 1:
        grid[y0 + s - 1, x0 + 1 : x0 + s - 1] = constants.CELL_EMPTY
    elif k == 2:
        grid[y0 + 1 : y0 + s - 1, x0] = constants.CELL_EMPTY
    else:
        grid[y0, x0 + 1 : x0 + s - 1] = constants.CELL_EMPTY
    return grid


class RoomGridEnv(GridEnv):
    """MiniGrid's ``RoomGrid`` env: ``rows x cols`` rooms of ``room_size`` (walls included) as the fixed grid."""

    def __init__(self, room_size: int, rows: int, cols: int, **options):
        self.rooms = RoomLayout(room_size, rows, cols)
        self.setup(self.rooms.width, self.rooms.height, **options)

    @functools.cached_property
    def fixed_grid(self) -> np.ndarray:
        return self.rooms.walls

    def place_in_room(self, rng: layout.Rand, grid, i, j) -> jax.Array:
        """``RoomGrid.place_in_room`` before the agent is placed (it waits at ``RoomLayout.default_agent``)."""
        return place_in_room(rng, grid, self.rooms, i, j, jnp.asarray(self.rooms.default_agent))

    def place_agent(self, rng: layout.Rand, grid, i, j) -> tuple[jax.Array, jax.Array]:
        """``RoomGrid.place_agent`` in room (i, j)."""
        return place_agent_in_room(rng, grid, self.rooms, i, j)
