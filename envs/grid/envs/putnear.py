"""PutNear (``MiniGrid-PutNear-*``): put the named object next to another named one; 5 * size steps.

Picking up a wrong object ends the episode; any drop of the carried object ends it, rewarded when it lands in
the 3x3 neighbourhood of the target's (initial) cell.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv, GridOptions, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, reward_if
from jaxrl_suite.envs.grid.envs.goto import distinct_objects, place_objects
from jaxrl_suite.envs.grid.state import GridState


@struct.dataclass
class PutNearState(GridState):
    """Grid state plus what to move and where its target lies."""

    move_obj: jax.Array  # int32[2]: (type, colour) of the object to move
    target_pos: jax.Array  # int32[2]: (x, y) of the object to put it next to


class PutNear(GridEnv):
    """MiniGrid's ``PutNearEnv``: ``numObjs`` distinct objects, none adjacent to another at placement.

    Mission: (move colour, move type, target colour, target type).
    """

    state_cls = PutNearState
    min_size = 5
    defaults = GridOptions(see_through_walls=True)
    mission_high = (5, 10, 5, 10)

    def __init__(self, size: int = 6, num_objs: int = 2, **options):
        super().__init__(size, **options)
        self.num_objs = check_int("num_objs", num_objs, 2, min(18, ((self.size - 1) // 2) ** 2))

    def default_max_steps(self) -> int:
        return 5 * self.size

    def generate(self, key, params):
        s, n = self.size, self.num_objs
        rng = layout.Rand(key, 18 + n + 5)
        objs = distinct_objects(rng, n)
        grid, positions = place_objects(rng, jnp.asarray(self.fixed_grid), objs, apart=True)
        pos, d = layout.place_agent_pose(rng, grid, jnp.ones((s, s), bool))
        mi, ti = layout.distinct_pair(rng, n)  # the target: uniform over the others (MiniGrid's retry loop)
        mission = jnp.stack([objs[mi, 1], objs[mi, 0], objs[ti, 1], objs[ti, 0]])
        return self.new_state(grid, pos, d, mission=mission, move_obj=objs[mi], target_pos=positions[ti])

    def transition(self, key, state, action, params):
        held_before = state.carrying[0] != constants.EMPTY
        state, ev = core_step(state, action, False)
        wrong = (state.carrying[0] != state.move_obj[0]) | (state.carrying[1] != state.move_obj[1])
        bad_pickup = (action == constants.PICKUP) & (state.carrying[0] != constants.EMPTY) & wrong
        drop = (action == constants.DROP) & held_before
        near = jnp.all(jnp.abs(ev.front_pos - state.target_pos) <= 1)
        return state, reward_if(drop & ev.dropped & near, state, params), bad_pickup | drop
