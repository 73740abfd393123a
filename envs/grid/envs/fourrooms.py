"""FourRooms (``MiniGrid-FourRooms-v0``): 19x19, four rooms joined by random gaps; 100 steps."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv

SIZE = 19


class FourRooms(GridEnv):
    """MiniGrid's ``FourRoomsEnv``: agent and goal uniform over the free cells."""

    def __init__(
        self,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        super().__init__(
            SIZE,
            SIZE,
            max_steps or 100,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )
        grid = L.np_wall_rect(L.empty_grid(SIZE, SIZE), 0, 0, SIZE, SIZE)
        grid[:, SIZE // 2] = C.CELL_WALL
        grid[SIZE // 2, :] = C.CELL_WALL
        self._grid = grid

    def generate(self, key, params):
        rng = L.Rand(key, 8)
        m = SIZE // 2  # 9: the inner walls; each gap is uniform along its wall segment
        gx = jnp.stack([jnp.int32(m), rng.int(1, m), rng.int(m + 1, 2 * m), jnp.int32(m)])
        gy = jnp.stack([rng.int(1, m), jnp.int32(m), jnp.int32(m), rng.int(m + 1, 2 * m)])
        # MiniGrid's place_agent then place_obj(goal) are uniform over the free cells: the four 8x8 room
        # interiors (numbered room by room) then the four gaps. Sample indices in closed form, no grid scan.
        n_room = (m - 1) ** 2
        n_free = 4 * n_room + 4
        a = L.scale_int(rng.uniform(), 0, n_free)
        g = L.scale_int(rng.uniform(), 0, n_free - 1)
        g = g + (g >= a)

        def cell(i):
            room, j = i // n_room, i % n_room
            in_room = jnp.stack([(room % 2) * m + 1 + j % (m - 1), (room // 2) * m + 1 + j // (m - 1)])
            gap = jnp.clip(i - 4 * n_room, 0, 3)
            return jnp.where(i < 4 * n_room, in_room, jnp.stack([gx[gap], gy[gap]]))

        values = L.materialize(jnp.concatenate([cell(a), cell(g), gx, gy, rng.int(0, 4)[None]]))
        pos, goal, gx, gy, d = values[0:2], values[2:4], values[4:8], values[8:12], values[12]
        X, Y = L.coords(SIZE, SIZE)
        gap = jnp.any((X[..., None] == gx) & (Y[..., None] == gy), axis=-1)
        grid = L.put_where(jnp.asarray(self._grid), gap, C.CELL_EMPTY)
        grid = L.put_where(grid, (X == goal[0]) & (Y == goal[1]), C.CELL_GOAL)
        return self.new_state(grid, pos, d)
