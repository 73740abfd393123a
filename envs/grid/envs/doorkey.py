"""DoorKey (``MiniGrid-DoorKey-*``): pick up the key, unlock the door, reach the goal; 10 * size^2 steps."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv

LOCKED_DOOR = (constants.DOOR, constants.YELLOW, constants.LOCKED)
KEY = (constants.KEY, constants.YELLOW, 0)


class DoorKey(GridEnv):
    """MiniGrid's ``DoorKeyEnv``: a wall at a random column with a locked yellow door; key on the agent's side."""

    default_size, min_size, steps_per_cell = 8, 5, 10
    corner_goal = True

    def generate(self, key, params):
        s = self.size
        rng = layout.Rand(key, 5)
        split = rng.int(2, s - 2)
        # place_agent, then place_obj(Key), left of the wall: two distinct cells of that empty room
        agent, key_pos = layout.two_cells_in_rect(rng, (1, 1), split - 1, s - 2)
        direction = rng.int(0, 4)
        door_y = rng.int(1, s - 2)
        split, ax, ay, kx, ky, direction, door_y = layout.computed_once(
            split, *agent, *key_pos, direction, door_y
        )
        grid = layout.vert_wall(jnp.asarray(self.fixed_grid), split)
        grid = layout.put(grid, (split, door_y), LOCKED_DOOR)
        grid = layout.put(grid, (kx, ky), KEY)
        return self.new_state(grid, jnp.stack([ax, ay]), direction)
