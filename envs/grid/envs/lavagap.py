"""LavaGap (``MiniGrid-LavaGapS*``): a lava column with one gap between start and goal; 4 * size^2 steps."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv


class LavaGap(GridEnv):
    """MiniGrid's ``LavaGapEnv`` (lava obstacle): start (1, 1) facing right, goal in the far corner."""

    default_size, min_size = 7, 5
    corner_goal = True

    def generate(self, key, params):
        s = self.size
        rng = layout.Rand(key, 2)
        gap_x, gap_y = rng.int(2, s - 2), rng.int(1, s - 1)
        X, Y = layout.coords(s, s)
        river = (X == gap_x) & (Y >= 1) & (Y <= s - 2) & (Y != gap_y)
        grid = layout.put_where(jnp.asarray(self.fixed_grid), river, constants.CELL_LAVA)
        return self.new_state(grid, (1, 1), 0)
