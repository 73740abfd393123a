"""GoToDoor / GoToObject (``MiniGrid-GoToDoor-*``, ``MiniGrid-GoToObject-*``): stand next to the named door or
object and say ``done``. ``toggle`` or ``done`` ends the episode; ``done`` next to the target is rewarded."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, success_reward
from jaxrl_suite.envs.grid.state import TargetState

OBJ_TYPES = (C.KEY, C.BALL, C.BOX)  # MiniGrid's ["key", "ball", "box"]


def goto_transition(env: GridEnv, state: TargetState, action, params):
    """Shared step: toggle ends the episode; done ends it, rewarded when beside ``state.target[:2]``."""
    state, _ = core_step(state, action, False)
    d = jnp.abs(state.agent_pos - state.target[:2])
    beside = ((d[0] == 0) & (d[1] == 1)) | ((d[1] == 0) & (d[0] == 1))
    done = action == C.DONE
    reward = jnp.where(done & beside, success_reward(state.time, params.max_steps_in_episode), 0.0)
    return state, reward, done | (action == C.TOGGLE)


class GoToDoor(GridEnv):
    """MiniGrid's ``GoToDoorEnv``: a random-size room (5..size) with four doors of distinct colours."""

    state_cls = TargetState
    see_through_walls_default = True
    mission_high = (5,)  # target door colour

    def __init__(
        self,
        size: int = 5,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        self.size = check_int("size", size, 5)
        super().__init__(
            size,
            size,
            max_steps or 4 * size**2,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )

    def generate(self, key, params):
        s = self.size
        rng = L.Rand(key, 16)
        w, h = rng.int(5, s + 1), rng.int(5, s + 1)
        X, Y = L.coords(s, s)
        room = (X < w) & (Y < h)
        border = room & ((X == 0) | (Y == 0) | (X == w - 1) | (Y == h - 1))
        grid = L.put_where(jnp.asarray(L.empty_grid(s, s)), border, C.CELL_WALL)
        doors = jnp.stack(
            [
                jnp.stack([rng.int(2, w - 2), jnp.int32(0)]),
                jnp.stack([rng.int(2, w - 2), h - 1]),
                jnp.stack([jnp.int32(0), rng.int(2, h - 2)]),
                jnp.stack([w - 1, rng.int(2, h - 2)]),
            ]
        )
        colors = L.permutation(rng.uniforms(6))[
            :4
        ]  # four distinct colours, uniformly (MiniGrid's rejection loop)
        for i in range(4):
            grid = L.put(grid, doors[i], L.cell_of(C.DOOR, colors[i], C.CLOSED))
        pos, d = L.place_agent_pose(rng, grid, room)
        target = rng.int(0, 4)
        return self.new_state(grid, pos, d, mission=colors[target][None], target=doors[target])

    def transition(self, key, state, action, params):
        return goto_transition(self, state, action, params)


def distinct_objects(rng: L.Rand, n: int, types=OBJ_TYPES):
    """n distinct (type, colour) pairs in MiniGrid's draw order (uniform without replacement): int32[n, 2]."""
    pairs = jnp.asarray([(t, c) for t in types for c in range(6)], jnp.int32)
    return pairs[L.permutation(rng.uniforms(len(pairs)))[:n]]


class GoToObject(GridEnv):
    """MiniGrid's ``GoToObjectEnv``: ``numObjs`` distinct keys/balls/boxes; go to the named one."""

    state_cls = TargetState
    see_through_walls_default = True
    mission_high = (5, 10)  # target colour, target type

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
        self.size = check_int("size", size, 4)
        self.num_objs = check_int("num_objs", num_objs, 1, min(18, (size - 2) ** 2 - 1))
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
        rng = L.Rand(key, 18 + self.num_objs + 3)
        objs = distinct_objects(rng, self.num_objs)
        grid = jnp.asarray(self._grid)
        everywhere = jnp.ones((s, s), bool)
        positions = []
        for i in range(self.num_objs):
            p = L.place(rng, grid, everywhere)
            grid = L.put(grid, p, L.cell_of(objs[i, 0], objs[i, 1]))
            positions.append(p)
        pos, d = L.place_agent_pose(rng, grid, everywhere)
        t = rng.int(0, self.num_objs)
        target = jnp.stack(positions)[t]
        mission = jnp.stack([objs[t, 1], objs[t, 0]])
        return self.new_state(grid, pos, d, mission=mission, target=target)

    def transition(self, key, state, action, params):
        return goto_transition(self, state, action, params)
