"""DistShift (``MiniGrid-DistShift{1,2}-v0``): two lava strips, the second at row 2 or 5; 4 * w * h steps."""

from __future__ import annotations

import functools

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv, GridOptions, check_int


class DistShift(GridEnv):
    """MiniGrid's ``DistShiftEnv``: a fixed 9x7 layout, start (1, 1) facing right, goal top-right."""

    defaults = GridOptions(see_through_walls=True)

    def __init__(self, strip2_row: int = 2, width: int = 9, height: int = 7, **options):
        width, height = check_int("width", width, 7), check_int("height", height, 4)
        self.strip2_row = check_int("strip2_row", strip2_row, 1, height - 2)
        self.setup(width, height, **options)

    @functools.cached_property
    def fixed_grid(self):
        w = self.width
        grid = layout.walled_room(self.height, w, goal=(w - 2, 1))
        grid[1, 3 : w - 3] = constants.CELL_LAVA
        grid[self.strip2_row, 3 : w - 3] = constants.CELL_LAVA
        return grid

    def generate(self, key, params):
        return self.new_state(jnp.asarray(self.fixed_grid), (1, 1), 0)
