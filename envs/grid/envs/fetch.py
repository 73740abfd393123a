"""Fetch (``MiniGrid-Fetch-*``): pick up the named key or ball; picking up anything ends the episode."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, success_reward
from jaxrl_suite.envs.grid.state import TargetState


class Fetch(GridEnv):
    """MiniGrid's ``FetchEnv``: ``numObjs`` random keys/balls (repeats allowed); 5 * size^2 steps.

    Mission: (phrasing index in MiniGrid's five "get a" / "fetch a" forms, colour, type).
    """

    state_cls = TargetState
    see_through_walls_default = True
    mission_high = (4, 5, 10)

    def __init__(
        self,
        size: int = 8,
        num_objs: int = 3,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        self.size = check_int("size", size, 4)
        self.num_objs = check_int("num_objs", num_objs, 1, (size - 2) ** 2 - 1)
        super().__init__(
            size,
            size,
            max_steps or 5 * size**2,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )
        self._grid = L.np_wall_rect(L.empty_grid(size, size), 0, 0, size, size)

    def generate(self, key, params):
        s = self.size
        rng = L.Rand(key, 3 * self.num_objs + 4)
        grid = jnp.asarray(self._grid)
        everywhere = jnp.ones((s, s), bool)
        objs = []
        for _ in range(self.num_objs):
            t = jnp.where(rng.int(0, 2) == 0, C.KEY, C.BALL)
            c = rng.int(0, 6)
            grid = L.put(grid, L.place(rng, grid, everywhere), L.cell_of(t, c))
            objs.append(jnp.stack([t, c]))
        pos, d = L.place_agent_pose(rng, grid, everywhere)
        target = jnp.stack(objs)[rng.int(0, self.num_objs)]
        mission = jnp.stack([rng.int(0, 5), target[1], target[0]])
        return self.new_state(grid, pos, d, mission=mission, target=target)

    def transition(self, key, state, action, params):
        state, _ = core_step(state, action, False)
        holding = state.carrying[0] != C.EMPTY
        right = (state.carrying[0] == state.target[0]) & (state.carrying[1] == state.target[1])
        reward = jnp.where(holding & right, success_reward(state.time, params.max_steps_in_episode), 0.0)
        return state, reward, holding
