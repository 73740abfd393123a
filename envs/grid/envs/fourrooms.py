"""FourRooms (``MiniGrid-FourRooms-v0``): 19x19, four rooms joined by random gaps; 100 steps."""

from __future__ import annotations

import functools

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv

SIZE = 19


class FourRooms(GridEnv):
    """MiniGrid's ``FourRoomsEnv``: agent and goal uniform over the free cells."""

    def __init__(self, **options):
        super().__init__(SIZE, **options)

    def default_max_steps(self) -> int:
        return 100

    @functools.cached_property
    def fixed_grid(self):
        grid = layout.walled_room(SIZE, SIZE)
        grid[:, SIZE // 2] = grid[SIZE // 2, :] = constants.CELL_WALL
        return grid

    def generate(self, key, params):
        rng = layout.Rand(key, 8)
        m = SIZE // 2  # 9: the inner walls; each gap is uniform along its wall segment
        gx = jnp.stack([jnp.int32(m), rng.int(1, m), rng.int(m + 1, 2 * m), jnp.int32(m)])
        gy = jnp.stack([rng.int(1, m), jnp.int32(m), jnp.int32(m), rng.int(m + 1, 2 * m)])
        # MiniGrid's place_agent then place_obj(goal) are uniform over the free cells: the four 8x8 room
        # interiors (numbered room by room) then the four gaps. Sample indices in closed form, no grid scan.
        n_room = (m - 1) ** 2
        n_free = 4 * n_room + 4
        a, g = layout.distinct_pair(rng, n_free)

        def cell(i):
            room, j = i // n_room, i % n_room
            in_room = jnp.stack([(room % 2) * m + 1 + j % (m - 1), (room // 2) * m + 1 + j // (m - 1)])
            gap = jnp.clip(i - 4 * n_room, 0, 3)
            return jnp.where(i < 4 * n_room, in_room, jnp.stack([gx[gap], gy[gap]]))

        pos, goal, gx, gy, d = layout.computed_once(cell(a), cell(g), gx, gy, rng.int(0, 4))
        X, Y = layout.coords(SIZE, SIZE)
        gap = jnp.any((X[..., None] == gx) & (Y[..., None] == gy), axis=-1)
        grid = layout.put_where(jnp.asarray(self.fixed_grid), gap, constants.CELL_EMPTY)
        grid = layout.put(grid, goal, constants.CELL_GOAL)
        return self.new_state(grid, pos, d)
