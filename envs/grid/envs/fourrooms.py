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
        rng = L.Rand(key, 7)
        m = SIZE // 2  # 9: the inner walls; each gap is uniform along its wall segment
        gaps = [
            (m, rng.int(1, m)),  # left/top rooms, vertical wall
            (rng.int(1, m), m),  # top-left/bottom-left, horizontal wall
            (rng.int(m + 1, 2 * m), m),  # top-right/bottom-right
            (m, rng.int(m + 1, 2 * m)),  # bottom rooms
        ]
        X, Y = L.coords(SIZE, SIZE)
        grid = jnp.asarray(self._grid)
        for gx, gy in gaps:
            grid = L.put_where(grid, (X == gx) & (Y == gy), C.CELL_EMPTY)
        everywhere = jnp.ones((SIZE, SIZE), bool)
        pos, d = L.place_agent_pose(rng, grid, everywhere)
        goal = L.place(rng, grid, everywhere, pos)
        grid = L.put(grid, goal, C.CELL_GOAL)
        return self.new_state(grid, pos, d)
