"""RedBlueDoors (``MiniGrid-RedBlueDoors-*``): open the red door, then the blue one; 20 * size^2 steps.

Opening the blue door ends the episode (rewarded only if the red one was already open); opening the red door
while the blue one is open ends it unrewarded.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, get_cell, reward_if
from jaxrl_suite.envs.grid.state import GridState


@struct.dataclass
class RedBlueDoorsState(GridState):
    """Grid state plus where the two doors are."""

    red_door: jax.Array  # int32[2]: (x, y)
    blue_door: jax.Array  # int32[2]: (x, y)


class RedBlueDoors(GridEnv):
    """MiniGrid's ``RedBlueDoorEnv``: a size x size room inside a 2*size x size grid, red door left, blue right."""

    state_cls = RedBlueDoorsState

    def __init__(self, size: int = 8, **options):
        self.size = check_int("size", size, 3)
        self.setup(2 * self.size, self.size, **options)

    def default_max_steps(self) -> int:
        return 20 * self.size**2

    @functools.cached_property
    def fixed_grid(self):
        s = self.size
        return layout.np_wall_rect(layout.walled_room(s, 2 * s), s // 2, 0, s, s)

    def generate(self, key, params):
        s = self.size
        rng = layout.Rand(key, 4)
        grid = jnp.asarray(self.fixed_grid)
        pos, d = layout.place_agent_pose(rng, grid, layout.rect_mask(s, 2 * s, s // 2, 0, s // 2 + s, s))
        red = jnp.stack([jnp.int32(s // 2), rng.int(1, s - 1)])
        blue = jnp.stack([jnp.int32(s // 2 + s - 1), rng.int(1, s - 1)])
        grid = layout.put(grid, red, (constants.DOOR, constants.RED, constants.CLOSED))
        grid = layout.put(grid, blue, (constants.DOOR, constants.BLUE, constants.CLOSED))
        return self.new_state(grid, pos, d, red_door=red, blue_door=blue)

    def transition(self, key, state, action, params):
        def is_open(st, p):
            return get_cell(st.grid, p)[2] == constants.OPEN

        red_before, blue_before = is_open(state, state.red_door), is_open(state, state.blue_door)
        state, _ = core_step(state, action, False)
        red_after, blue_after = is_open(state, state.red_door), is_open(state, state.blue_door)
        return (
            state,
            reward_if(blue_after & red_before, state, params),
            blue_after | (red_after & blue_before),
        )
