"""RedBlueDoors (``MiniGrid-RedBlueDoors-*``): open the red door, then the blue one; 20 * size^2 steps.

Opening the blue door ends the episode (rewarded only if the red one was already open); opening the red door
while the blue one is open ends it unrewarded.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, get_cell, success_reward
from jaxrl_suite.envs.grid.state import TargetState


class RedBlueDoors(GridEnv):
    """MiniGrid's ``RedBlueDoorEnv``: a size x size room inside a 2*size x size grid, red door left, blue right.

    Target state: (red door x, y, blue door x, y).
    """

    state_cls = TargetState

    def __init__(
        self,
        size: int = 8,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        self.size = check_int("size", size, 3)
        super().__init__(
            2 * size,
            size,
            max_steps or 20 * size**2,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )
        grid = L.np_wall_rect(L.empty_grid(size, 2 * size), 0, 0, 2 * size, size)
        self._grid = L.np_wall_rect(grid, size // 2, 0, size, size)

    def generate(self, key, params):
        s = self.size
        rng = L.Rand(key, 4)
        grid = jnp.asarray(self._grid)
        pos, d = L.place_agent_pose(rng, grid, L.rect_mask(s, 2 * s, s // 2, 0, s // 2 + s, s))
        red = jnp.stack([jnp.int32(s // 2), rng.int(1, s - 1)])
        blue = jnp.stack([jnp.int32(s // 2 + s - 1), rng.int(1, s - 1)])
        grid = L.put(grid, red, (C.DOOR, C.RED, C.CLOSED))
        grid = L.put(grid, blue, (C.DOOR, C.BLUE, C.CLOSED))
        return self.new_state(grid, pos, d, target=jnp.concatenate([red, blue]))

    def transition(self, key, state, action, params):
        def is_open(st, p):
            return get_cell(st.grid, p)[2] == C.OPEN

        red_before, blue_before = is_open(state, state.target[:2]), is_open(state, state.target[2:])
        state, _ = core_step(state, action, False)
        red_after, blue_after = is_open(state, state.target[:2]), is_open(state, state.target[2:])
        win = blue_after & red_before
        reward = jnp.where(win, success_reward(state.time, params.max_steps_in_episode), 0.0)
        return state, reward, blue_after | (red_after & blue_before)
