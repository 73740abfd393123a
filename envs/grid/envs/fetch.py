"""Fetch (``MiniGrid-Fetch-*``): pick up the named key or ball; picking up anything ends the episode."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv, GridOptions, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, reward_if
from jaxrl_suite.envs.grid.state import ObjectTargetState


class Fetch(GridEnv):
    """MiniGrid's ``FetchEnv``: ``numObjs`` random keys/balls (repeats allowed); 5 * size^2 steps.

    Mission: (phrasing index in MiniGrid's five "get a" / "fetch a" forms, colour, type).
    """

    state_cls = ObjectTargetState
    min_size, steps_per_cell = 4, 5
    defaults = GridOptions(see_through_walls=True)
    mission_high = (4, 5, 10)

    def __init__(self, size: int = 8, num_objs: int = 3, **options):
        super().__init__(size, **options)
        self.num_objs = check_int("num_objs", num_objs, 1, (self.size - 2) ** 2 - 1)

    def generate(self, key, params):
        rng = layout.Rand(key, 3 * self.num_objs + 4)
        grid = jnp.asarray(self.fixed_grid)
        everywhere = jnp.ones(grid.shape[:2], bool)
        objs = []
        for _ in range(self.num_objs):
            t = jnp.where(rng.int(0, 2) == 0, constants.KEY, constants.BALL)
            c = rng.int(0, 6)
            grid = layout.put(grid, layout.place(rng, grid, everywhere), layout.cell_of(t, c))
            objs.append(jnp.stack([t, c]))
        pos, d = layout.place_agent_pose(rng, grid, everywhere)
        target = jnp.stack(objs)[rng.int(0, self.num_objs)]
        mission = jnp.stack([rng.int(0, 5), target[1], target[0]])
        return self.new_state(grid, pos, d, mission=mission, target_obj=target)

    def transition(self, key, state, action, params):
        state, _ = core_step(state, action, False)
        holding = state.carrying[0] != constants.EMPTY
        right = (state.carrying[0] == state.target_obj[0]) & (state.carrying[1] == state.target_obj[1])
        return state, reward_if(holding & right, state, params), holding
