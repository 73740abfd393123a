"""DistShift (``MiniGrid-DistShift{1,2}-v0``): two lava strips, the second at row 2 or 5; 4 * w * h steps."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int


class DistShift(GridEnv):
    """MiniGrid's ``DistShiftEnv``: a fixed 9x7 layout, start (1, 1) facing right, goal top-right."""

    see_through_walls_default = True

    def __init__(
        self,
        strip2_row: int = 2,
        width: int = 9,
        height: int = 7,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        width, height = check_int("width", width, 7), check_int("height", height, 4)
        self.strip2_row = check_int("strip2_row", strip2_row, 1, height - 2)
        super().__init__(
            width,
            height,
            max_steps or 4 * width * height,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )
        grid = L.np_wall_rect(L.empty_grid(height, width), 0, 0, width, height)
        grid[1, width - 2] = C.CELL_GOAL
        grid[1, 3 : width - 3] = C.CELL_LAVA
        grid[self.strip2_row, 3 : width - 3] = C.CELL_LAVA
        self._grid = grid

    def generate(self, key, params):
        return self.new_state(jnp.asarray(self._grid), (1, 1), 0)
