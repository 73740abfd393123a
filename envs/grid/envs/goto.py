"""GoToDoor / GoToObject (``MiniGrid-GoToDoor-*``, ``MiniGrid-GoToObject-*``): stand next to the named door or
object and say ``done``. ``toggle`` or ``done`` ends the episode; ``done`` next to the target is rewarded."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv, GridOptions, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, reward_if
from jaxrl_suite.envs.grid.state import CellTargetState

OBJ_TYPES = (constants.KEY, constants.BALL, constants.BOX)  # MiniGrid's ["key", "ball", "box"]


class GoTo(GridEnv):
    """The GoTo task: toggle ends the episode; done ends it, rewarded when beside ``state.target_pos``."""

    state_cls = CellTargetState
    defaults = GridOptions(see_through_walls=True)

    def transition(self, key, state, action, params):
        state, _ = core_step(state, action, False)
        d = jnp.abs(state.agent_pos - state.target_pos)
        beside = ((d[0] == 0) & (d[1] == 1)) | ((d[1] == 0) & (d[0] == 1))
        done = action == constants.DONE
        return state, reward_if(done & beside, state, params), done | (action == constants.TOGGLE)


class GoToDoor(GoTo):
    """MiniGrid's ``GoToDoorEnv``: a random-size room (5..size) with four doors of distinct colours."""

    default_size, min_size = 5, 5
    mission_high = (5,)  # target door colour

    def generate(self, key, params):
        s = self.size
        rng = layout.Rand(key, 16)
        w, h = rng.int(5, s + 1), rng.int(5, s + 1)
        X, Y = layout.coords(s, s)
        room = (X < w) & (Y < h)
        border = room & ((X == 0) | (Y == 0) | (X == w - 1) | (Y == h - 1))
        grid = layout.put_where(jnp.asarray(layout.empty_grid(s, s)), border, constants.CELL_WALL)
        doors = jnp.stack(
            [
                jnp.stack([rng.int(2, w - 2), jnp.int32(0)]),
                jnp.stack([rng.int(2, w - 2), h - 1]),
                jnp.stack([jnp.int32(0), rng.int(2, h - 2)]),
                jnp.stack([w - 1, rng.int(2, h - 2)]),
            ]
        )
        # four distinct colours, uniformly (MiniGrid's rejection loop)
        colors = layout.permutation(rng.uniforms(6))[:4]
        for i in range(4):
            grid = layout.put(grid, doors[i], layout.cell_of(constants.DOOR, colors[i], constants.CLOSED))
        pos, d = layout.place_agent_pose(rng, grid, room)
        target = rng.int(0, 4)
        return self.new_state(grid, pos, d, mission=colors[target][None], target_pos=doors[target])


def distinct_objects(rng: layout.Rand, n: int, types=OBJ_TYPES):
    """n distinct (type, colour) pairs in MiniGrid's draw order (uniform without replacement): int32[n, 2]."""
    pairs = jnp.asarray([(t, c) for t in types for c in range(6)], jnp.int32)
    return pairs[layout.permutation(rng.uniforms(len(pairs)))[:n]]


def place_objects(rng: layout.Rand, grid, objs, apart: bool = False):
    """MiniGrid's ``place_obj`` for each (type, colour) of ``objs`` in turn: ``(grid, positions int32[n, 2])``.
    ``apart``: never within one cell of an earlier object (PutNear's ``near_obj`` reject_fn)."""
    h, w = grid.shape[:2]
    X, Y = layout.coords(h, w)
    allowed = jnp.ones((h, w), bool)
    positions = []
    for i in range(objs.shape[0]):
        p = layout.place(rng, grid, allowed)
        grid = layout.put(grid, p, layout.cell_of(objs[i, 0], objs[i, 1]))
        if apart:
            allowed = allowed & ((jnp.abs(X - p[0]) > 1) | (jnp.abs(Y - p[1]) > 1))
        positions.append(p)
    return grid, jnp.stack(positions)


class GoToObject(GoTo):
    """MiniGrid's ``GoToObjectEnv``: ``numObjs`` distinct keys/balls/boxes; go to the named one."""

    min_size, steps_per_cell = 4, 5
    mission_high = (5, 10)  # target colour, target type

    def __init__(self, size: int = 6, num_objs: int = 2, **options):
        super().__init__(size, **options)
        self.num_objs = check_int("num_objs", num_objs, 1, min(18, (self.size - 2) ** 2 - 1))

    def generate(self, key, params):
        s = self.size
        rng = layout.Rand(key, 18 + self.num_objs + 3)
        objs = distinct_objects(rng, self.num_objs)
        grid, positions = place_objects(rng, jnp.asarray(self.fixed_grid), objs)
        pos, d = layout.place_agent_pose(rng, grid, jnp.ones((s, s), bool))
        t = rng.int(0, self.num_objs)
        mission = jnp.stack([objs[t, 1], objs[t, 0]])
        return self.new_state(grid, pos, d, mission=mission, target_pos=positions[t])
