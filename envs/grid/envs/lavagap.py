"""LavaGap (``MiniGrid-LavaGapS*``): a lava column with one gap between start and goal; 4 * size^2 steps."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int


class LavaGap(GridEnv):
    """MiniGrid's ``LavaGapEnv`` (lava obstacle): start (1, 1) facing right, goal in the far corner."""

    def __init__(
        self,
        size: int = 7,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        size = check_int("size", size, 5)
        self.size = size
        super().__init__(
            size,
            size,
            max_steps or 4 * size**2,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )
        grid = L.np_wall_rect(L.empty_grid(size, size), 0, 0, size, size)
        grid[size - 2, size - 2] = C.CELL_GOAL
        self._grid = grid

    def generate(self, key, params):
        s = self.size
        rng = L.Rand(key, 2)
        gx, gy = rng.int(2, s - 2), rng.int(1, s - 1)
        X, Y = L.coords(s, s)
        grid = L.put_where(
            jnp.asarray(self._grid), (X == gx) & (Y >= 1) & (Y <= s - 2) & (Y != gy), C.CELL_LAVA
        )
        return self.new_state(grid, (1, 1), 0)
