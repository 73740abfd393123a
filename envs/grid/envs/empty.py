"""Empty rooms (``MiniGrid-Empty-*``): reach the goal in the bottom-right corner; 4 * size^2 steps."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int


class Empty(GridEnv):
    """MiniGrid's ``EmptyEnv``: start at (1, 1) facing right, or anywhere (``random_start``)."""

    see_through_walls_default = True

    def __init__(
        self,
        size: int = 8,
        random_start: bool = False,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        size = check_int("size", size, 4)
        self.size, self.random_start = size, bool(random_start)
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
        grid = jnp.asarray(self._grid)
        if not self.random_start:
            return self.new_state(grid, (1, 1), 0)
        rng = L.Rand(key, 2)
        pos, d = L.place_agent_pose(rng, grid, jnp.ones(grid.shape[:2], bool))
        return self.new_state(grid, pos, d)
