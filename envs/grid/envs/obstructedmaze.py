"""ObstructedMaze (``MiniGrid-ObstructedMaze-*``): find the blue ball behind locked doors whose keys may be
hidden in grey boxes (``h``) and whose doors may be blocked by green balls (``b``); 4 * rooms * 36 steps.

The generators' structure (which doors, locked or not, in which order) is static per id, so the level is a
fixed sequence of MiniGrid's operations with random door positions, colours and object cells. The order is
MiniGrid's, including its quirk in the v0 ``Full`` family: a side room's second blocking ball is written over
whatever lies in front of that door, which can be the key (or box) placed for the room's first door.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid import roomgrid as RG
from jaxrl_suite.envs.grid.base import GridEnv, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, success_reward
from jaxrl_suite.envs.grid.state import TargetState

ROOM = 6
BLUE_BALL = (C.BALL, C.BLUE, 0)  # COLOR_NAMES[0]: the ball to find
GREEN_BALL = (C.BALL, C.GREEN, 0)  # COLOR_NAMES[1]: blocking balls
BOX_COLOR = C.GREY  # COLOR_NAMES[2]: boxes hiding keys


class ObstructedMaze(GridEnv):
    """MiniGrid's ``ObstructedMaze_1Dlhb`` (``quarters=0``: two rooms) and ``ObstructedMaze_Full`` / ``_Full_V1``
    (``quarters`` 1..4 of a 3x3 maze; ``v1`` places a side room's keys after both its blocking balls)."""

    box_contents = True
    state_cls = TargetState

    def __init__(
        self,
        quarters: int = 4,
        key_in_box: bool = True,
        blocked: bool = True,
        agent_room: tuple[int, int] = (1, 1),
        num_rooms_visited: int = 25,
        v1: bool = False,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        self.quarters = check_int("quarters", quarters, 0, 4)
        self.key_in_box, self.blocked, self.v1 = bool(key_in_box), bool(blocked), bool(v1)
        visited = check_int("num_rooms_visited", num_rooms_visited, 1)
        if self.quarters == 0:
            self.layout = RG.RoomLayout(ROOM, 1, 2)
        else:
            self.layout = RG.RoomLayout(ROOM, 3, 3)
            if tuple(agent_room) not in {(i, j) for i in range(3) for j in range(3)}:
                raise ValueError(f"agent_room must be a room (i, j) of the 3x3 maze, got {agent_room!r}")
        self.agent_room = tuple(int(v) for v in agent_room)
        super().__init__(
            self.layout.width,
            self.layout.height,
            max_steps or 4 * visited * ROOM**2,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )

    def generate(self, key, params):
        lay = self.layout
        rng = L.Rand(key, 64)
        h_pos, v_pos = lay.door_positions(rng)
        door_colors = L.permutation(rng.uniforms(6))  # _rand_subset(COLOR_NAMES, 6): a random order
        grid = jnp.asarray(lay.walls)
        contents = jnp.broadcast_to(jnp.array(C.NOTHING, jnp.uint8), grid.shape[:2] + (2,))
        agent0 = jnp.asarray(lay.default_agent)
        X, Y = L.coords(lay.height, lay.width)

        def add_door(grid, contents, i, j, k, color, locked, with_key, with_ball):
            pos = lay.door_pos(h_pos, v_pos, i, j, k)
            grid = L.put(grid, pos, L.cell_of(C.DOOR, color, C.LOCKED if locked else C.CLOSED))
            if with_ball:
                grid = L.put(grid, pos - jnp.asarray(C.DIR_TO_VEC[k]), GREEN_BALL)
            if with_key:
                grid, contents = add_key(grid, contents, i, j, color)
            return grid, contents

        def add_key(grid, contents, i, j, color):
            at = RG.place_in_room(rng, grid, lay, i, j, agent0)
            if self.key_in_box:
                grid = L.put(grid, at, (C.BOX, BOX_COLOR, 0))
                here = (X == at[0]) & (Y == at[1])
                contents = jnp.where(here[..., None], L.cell_of(C.KEY, color)[:2], contents)
            else:
                grid = L.put(grid, at, L.cell_of(C.KEY, color))
            return grid, contents

        if self.quarters == 0:  # ObstructedMaze_1Dlhb
            grid, contents = add_door(grid, contents, 0, 0, 0, door_colors[0], True, True, self.blocked)
            ball_room = (1, 0)
            agent_room = (0, 0)
        else:  # ObstructedMaze_Full (v0 / v1)
            sides = [(2, 1), (1, 2), (0, 1), (1, 0)][: self.quarters]
            for i, (si, sj) in enumerate(sides):
                grid, contents = add_door(grid, contents, 1, 1, i, door_colors[i], False, False, False)
                for k in (-1, 1):
                    grid, contents = add_door(
                        grid,
                        contents,
                        si,
                        sj,
                        (i + k) % 4,
                        door_colors[(i + k) % 6],
                        True,
                        not self.v1,
                        self.blocked,
                    )
                if self.v1:
                    for k in (-1, 1):
                        grid, contents = add_key(grid, contents, si, sj, door_colors[(i + k) % 6])
            corners = jnp.asarray([(2, 0), (2, 2), (0, 2), (0, 0)][: self.quarters], jnp.int32)
            ball_room = corners[rng.int(0, self.quarters)]
            agent_room = self.agent_room
        ball = RG.place_in_room(rng, grid, lay, ball_room[0], ball_room[1], agent0)
        grid = L.put(grid, ball, BLUE_BALL)
        pos, d = RG.place_agent_in_room(rng, grid, lay, *agent_room)
        target = jnp.array([C.BALL, C.BLUE], jnp.int32)
        return self.new_state(grid, pos, d, contents=contents, target=target)

    def transition(self, key, state, action, params):
        state, _ = core_step(state, action, True)
        win = (action == C.PICKUP) & jnp.all(state.carrying == state.target.astype(jnp.uint8))
        reward = jnp.where(win, success_reward(state.time, params.max_steps_in_episode), 0.0)
        return state, reward, win
