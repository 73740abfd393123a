"""Empty rooms (``MiniGrid-Empty-*``): reach the goal in the bottom-right corner; 4 * size^2 steps."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import layout
from jaxrl_suite.envs.grid.base import GridEnv, GridOptions


class Empty(GridEnv):
    """MiniGrid's ``EmptyEnv``: start at (1, 1) facing right, or anywhere (``random_start``)."""

    default_size, min_size = 8, 4
    corner_goal = fixed_start = True
    defaults = GridOptions(see_through_walls=True)

    def generate(self, key, params):
        grid = jnp.asarray(self.fixed_grid)
        pos, direction = self.agent_start(layout.Rand(key, 2), grid)
        return self.new_state(grid, pos, direction)
