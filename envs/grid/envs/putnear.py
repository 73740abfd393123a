"""PutNear (``MiniGrid-PutNear-*``): put the named object next to another named one; 5 * size steps.

Picking up a wrong object ends the episode; any drop of the carried object ends it, rewarded when it lands in
the 3x3 neighbourhood of the target's (initial) cell.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, success_reward
from jaxrl_suite.envs.grid.envs.goto import distinct_objects
from jaxrl_suite.envs.grid.state import TargetState


class PutNear(GridEnv):
    """MiniGrid's ``PutNearEnv``: ``numObjs`` distinct objects, none adjacent to another at placement.

    Mission: (move colour, move type, target colour, target type); target state: (move type, move colour,
    target x, target y).
    """

    state_cls = TargetState
    see_through_walls_default = True
    mission_high = (5, 10, 5, 10)

    def __init__(
        self,
        size: int = 6,
        num_objs: int = 2,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        self.size = check_int("size", size, 5)
        self.num_objs = check_int("num_objs", num_objs, 2, min(18, ((size - 1) // 2) ** 2))
        super().__init__(
            size,
            size,
            max_steps or 5 * size,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )
        self._grid = L.np_wall_rect(L.empty_grid(size, size), 0, 0, size, size)

    def generate(self, key, params):
        s, n = self.size, self.num_objs
        rng = L.Rand(key, 18 + n + 5)
        objs = distinct_objects(rng, n)
        grid = jnp.asarray(self._grid)
        X, Y = L.coords(s, s)
        far = jnp.ones((s, s), bool)  # MiniGrid's near_obj reject_fn: not within one cell of placed objects
        positions = []
        for i in range(n):
            p = L.place(rng, grid, far)
            grid = L.put(grid, p, L.cell_of(objs[i, 0], objs[i, 1]))
            far = far & ((jnp.abs(X - p[0]) > 1) | (jnp.abs(Y - p[1]) > 1))
            positions.append(p)
        pos, d = L.place_agent_pose(rng, grid, jnp.ones((s, s), bool))
        mi = rng.int(0, n)
        ti = rng.int(0, n - 1)
        ti = ti + (ti >= mi)  # uniform over the others (MiniGrid's retry loop)
        tpos = jnp.stack(positions)[ti]
        mission = jnp.stack([objs[mi, 1], objs[mi, 0], objs[ti, 1], objs[ti, 0]])
        target = jnp.concatenate([objs[mi], tpos])
        return self.new_state(grid, pos, d, mission=mission, target=target)

    def transition(self, key, state, action, params):
        held_before = state.carrying[0] != C.EMPTY
        state, ev = core_step(state, action, False)
        wrong = (state.carrying[0] != state.target[0]) | (state.carrying[1] != state.target[1])
        bad_pickup = (action == C.PICKUP) & (state.carrying[0] != C.EMPTY) & wrong
        drop = (action == C.DROP) & held_before
        near = jnp.all(jnp.abs(ev.front_pos - state.target[2:4]) <= 1)
        reward = jnp.where(
            drop & ev.dropped & near, success_reward(state.time, params.max_steps_in_episode), 0.0
        )
        return state, reward, bad_pickup | drop
