"""ObstructedMaze (``MiniGrid-ObstructedMaze-*``): find the blue ball behind locked doors whose keys may be
hidden in grey boxes (``h``) and whose doors may be blocked by green balls (``b``); 4 * rooms * 36 steps.

The generators' structure (which doors, locked or not, in which order) is static per id, so the level is a
fixed sequence of MiniGrid's operations with random door positions, colours and object cells. The order is
MiniGrid's, including its quirk in the v0 ``Full`` family: a side room's second blocking ball is written over
whatever lies in front of that door, which can be the key (or box) placed for the room's first door.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.dynamics import pickup_target_step
from jaxrl_suite.envs.grid.options import check_int
from jaxrl_suite.envs.grid.roomgrid import RoomGridEnv, room_free
from jaxrl_suite.envs.grid.state import ObjectTargetState

ROOM = 6
BLUE_BALL = (constants.BALL, constants.BLUE, 0)  # COLOR_NAMES[0]: the ball to find
GREEN_BALL = (constants.BALL, constants.GREEN, 0)  # COLOR_NAMES[1]: blocking balls
BOX_COLOR = constants.GREY  # COLOR_NAMES[2]: boxes hiding keys


class ObstructedMaze(RoomGridEnv):
    """MiniGrid's ``ObstructedMaze_1Dlhb`` (``quarters=0``: two rooms) and ``ObstructedMaze_Full`` / ``_Full_V1``
    (``quarters`` 1..4 of a 3x3 maze; ``v1`` places a side room's keys after both its blocking balls)."""

    box_contents = True
    state_cls = ObjectTargetState

    def __init__(
        self,
        quarters: int = 4,
        key_in_box: bool = True,
        blocked: bool = True,
        agent_room: tuple[int, int] = (1, 1),
        num_rooms_visited: int = 25,
        v1: bool = False,
        **options,
    ):
        self.quarters = check_int("quarters", quarters, 0, 4)
        self.key_in_box, self.blocked, self.v1 = bool(key_in_box), bool(blocked), bool(v1)
        self.num_rooms_visited = check_int("num_rooms_visited", num_rooms_visited, 1)
        if self.quarters > 0 and tuple(agent_room) not in {(i, j) for i in range(3) for j in range(3)}:
            raise ValueError(f"agent_room must be a room (i, j) of the 3x3 maze, got {agent_room!r}")
        self.agent_room = tuple(int(v) for v in agent_room)
        rows, cols = (1, 2) if self.quarters == 0 else (3, 3)  # two rooms, or the 3x3 maze
        super().__init__(ROOM, rows, cols, **options)

    def default_max_steps(self) -> int:
        return 4 * self.num_rooms_visited * ROOM**2

    def generate(self, key, params):
        lay = self.rooms
        rng = layout.Rand(key, 32)
        h_pos, v_pos = lay.door_positions(rng)
        door_colors = layout.permutation(rng.uniforms(6))  # _rand_subset(COLOR_NAMES, 6): a random order
        grid = jnp.asarray(self.fixed_grid)
        contents = jnp.broadcast_to(jnp.array(constants.NOTHING, jnp.uint8), grid.shape[:2] + (2,))
        agent0 = jnp.asarray(lay.default_agent)
        X, Y = layout.coords(lay.height, lay.width)

        def add_key(grid, contents, word, i, j, color):
            """The key of a locked door (in a grey box for ``key_in_box``), placed in room (i, j)."""
            at = layout.flat_to_xy(layout.masked_choice(word, room_free(grid, lay, i, j, agent0)), lay.width)
            here = (X == at[0]) & (Y == at[1])
            if self.key_in_box:
                grid = layout.put_where(grid, here, (constants.BOX, BOX_COLOR, 0))
                contents = jnp.where(here[..., None], layout.cell_of(constants.KEY, color)[:2], contents)
            else:
                grid = layout.put_where(grid, here, layout.cell_of(constants.KEY, color))
            return grid, contents

        def add_locked(grid, contents, word, i, j, pos, ball, color):
            """ObstructedMazeEnv.add_door(locked=True): the door, its blocking ball, then (v0) its key."""
            grid = layout.put(grid, pos, layout.cell_of(constants.DOOR, color, constants.LOCKED))
            if self.blocked:
                grid = layout.put(grid, ball, GREEN_BALL)
            if not self.v1:
                grid, contents = add_key(grid, contents, word, i, j, color)
            return grid, contents

        if self.quarters == 0:  # ObstructedMaze_1Dlhb
            pos = lay.door_pos(h_pos, v_pos, 0, 0, 0)
            ball = pos - jnp.asarray(constants.DIR_TO_VEC[0])
            grid, contents = add_locked(grid, contents, rng.words(1)[0], 0, 0, pos, ball, door_colors[0])
            ball_room, agent_room = (1, 0), (0, 0)
        else:  # ObstructedMaze_Full (v0 / v1): one scan step per quarter, the same code for each
            q = self.quarters
            sides = [(2, 1), (1, 2), (0, 1), (1, 0)][:q]
            mid = jnp.stack([lay.door_pos(h_pos, v_pos, 1, 1, i) for i in range(q)])
            lock = jnp.stack(
                [
                    jnp.stack([lay.door_pos(h_pos, v_pos, si, sj, (i + k) % 4) for k in (-1, 1)])
                    for i, (si, sj) in enumerate(sides)
                ]
            )
            back = np.array(
                [[constants.DIR_TO_VEC[(i + k) % 4] for k in (-1, 1)] for i in range(q)], np.int32
            )
            colors = jnp.stack([jnp.stack([door_colors[(i + k) % 6] for k in (-1, 1)]) for i in range(q)])
            xs = (
                mid,
                door_colors[:q],
                jnp.asarray(sides, jnp.int32),
                lock,
                lock - back,
                colors,
                rng.words(2 * q).reshape(q, 2),
            )

            def quarter(carry, x):
                grid, contents = carry
                mid_pos, mid_color, side, lock_pos, ball_pos, lock_color, words = x
                grid = layout.put(grid, mid_pos, layout.cell_of(constants.DOOR, mid_color, constants.CLOSED))
                for k in range(2):
                    grid, contents = add_locked(
                        grid, contents, words[k], side[0], side[1], lock_pos[k], ball_pos[k], lock_color[k]
                    )
                if self.v1:  # ObstructedMaze_Full_V1 places a side room's keys after both its doors
                    for k in range(2):
                        grid, contents = add_key(grid, contents, words[k], side[0], side[1], lock_color[k])
                return (grid, contents), None

            (grid, contents), _ = jax.lax.scan(quarter, (grid, contents), xs)
            corners = jnp.asarray([(2, 0), (2, 2), (0, 2), (0, 0)][:q], jnp.int32)
            ball_room = corners[rng.int(0, q)]
            agent_room = self.agent_room
        ball = self.place_in_room(rng, grid, ball_room[0], ball_room[1])
        grid = layout.put(grid, ball, BLUE_BALL)
        pos, d = self.place_agent(rng, grid, *agent_room)
        target = jnp.array([constants.BALL, constants.BLUE], jnp.int32)
        return self.new_state(grid, pos, d, contents=contents, target_obj=target)

    def transition(self, key, state, action, params):
        return pickup_target_step(state, action, params, self.box_contents)
