"""LockedRoom (``MiniGrid-LockedRoom-v0``): six rooms off a corridor; fetch the key from one room to unlock
the room holding the goal; 10 * size steps."""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv


class LockedRoom(GridEnv):
    """MiniGrid's ``LockedRoomEnv``. Mission: (locked room colour, key room colour, door colour)."""

    default_size, min_size = 19, 13
    mission_high = (5, 5, 5)

    def __init__(self, size: int = 19, **options):
        super().__init__(size, **options)
        s = self.size
        self.lw, self.rw = s // 2 - 2, s // 2 + 2  # the corridor's walls
        # (top x, top y, door x, door y), MiniGrid's order: left then right, top to bottom
        tops = [n * (s // 3) for n in range(3)]
        self.side_rooms = np.array(
            [r for j in tops for r in ((0, j, self.lw, j + 3), (self.rw, j, self.rw, j + 3))]
        )
        self.room_w, self.room_h = self.lw + 1, s // 3 + 1

    def default_max_steps(self) -> int:
        return 10 * self.size

    @functools.cached_property
    def fixed_grid(self):
        grid = layout.walled_room(self.size, self.size)
        grid[:, self.lw] = grid[:, self.rw] = constants.CELL_WALL
        for j in self.side_rooms[::2, 1]:
            grid[j, : self.lw] = grid[j, self.rw :] = constants.CELL_WALL
        return grid

    def generate(self, key, params):
        s = self.size
        rng = layout.Rand(key, 14)
        rooms = jnp.asarray(self.side_rooms, jnp.int32)
        locked = rng.int(0, 6)
        colors = layout.permutation(rng.uniforms(6))  # room i's colour (MiniGrid draws without replacement)

        def rand_pos(r):  # LockedRoom.rand_pos: uniform over the room's interior
            top = rooms[r, :2]
            x = rng.int(top[0] + 1, top[0] + self.room_w - 1)
            return jnp.stack([x, rng.int(top[1] + 1, top[1] + self.room_h - 1)])

        goal = rand_pos(locked)
        kr = rng.int(0, 5)
        kr = kr + (kr >= locked)  # uniform over the other rooms
        key_pos = rand_pos(kr)
        grid = layout.put(jnp.asarray(self.fixed_grid), goal, constants.CELL_GOAL)
        for i in range(6):
            state = jnp.where(i == locked, constants.LOCKED, constants.CLOSED)
            grid = layout.put(grid, rooms[i, 2:], layout.cell_of(constants.DOOR, colors[i], state))
        grid = layout.put(grid, key_pos, layout.cell_of(constants.KEY, colors[locked]))
        pos, d = layout.place_agent_pose(rng, grid, layout.rect_mask(s, s, self.lw, 0, self.rw, s))
        mission = jnp.stack([colors[locked], colors[kr], colors[locked]])
        return self.new_state(grid, pos, d, mission=mission)
