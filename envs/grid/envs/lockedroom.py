"""LockedRoom (``MiniGrid-LockedRoom-v0``): six rooms off a corridor; fetch the key from one room to unlock
the room holding the goal; 10 * size steps."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int


class LockedRoom(GridEnv):
    """MiniGrid's ``LockedRoomEnv``. Mission: (locked room colour, key room colour, door colour)."""

    mission_high = (5, 5, 5)

    def __init__(
        self,
        size: int = 19,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        self.size = s = check_int("size", size, 13)
        super().__init__(
            s,
            s,
            max_steps or 10 * s,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )
        grid = L.np_wall_rect(L.empty_grid(s, s), 0, 0, s, s)
        self.lw, self.rw = s // 2 - 2, s // 2 + 2
        grid[:, self.lw] = C.CELL_WALL
        grid[:, self.rw] = C.CELL_WALL
        rooms = []  # (top x, top y, door x, door y), MiniGrid's order: left then right, top to bottom
        for n in range(3):
            j = n * (s // 3)
            grid[j, : self.lw] = C.CELL_WALL
            grid[j, self.rw :] = C.CELL_WALL
            rooms += [(0, j, self.lw, j + 3), (self.rw, j, self.rw, j + 3)]
        self._grid, self._rooms = grid, jnp.asarray(rooms, jnp.int32)
        self._room_w, self._room_h = self.lw + 1, s // 3 + 1

    def generate(self, key, params):
        s = self.size
        rng = L.Rand(key, 14)
        rooms = self._rooms
        locked = rng.int(0, 6)
        colors = L.permutation(
            rng.uniforms(6)
        )  # room i gets colour colors[i] (MiniGrid draws without replacement)

        def rand_pos(r):  # LockedRoom.rand_pos: uniform over the room's interior
            top = rooms[r, :2]
            return jnp.stack(
                [
                    rng.int(top[0] + 1, top[0] + self._room_w - 1),
                    rng.int(top[1] + 1, top[1] + self._room_h - 1),
                ]
            )

        goal = rand_pos(locked)
        kr = rng.int(0, 5)
        kr = kr + (kr >= locked)  # uniform over the other rooms
        key_pos = rand_pos(kr)
        grid = L.put(jnp.asarray(self._grid), goal, C.CELL_GOAL)
        for i in range(6):
            state = jnp.where(i == locked, C.LOCKED, C.CLOSED)
            grid = L.put(grid, rooms[i, 2:], L.cell_of(C.DOOR, colors[i], state))
        grid = L.put(grid, key_pos, L.cell_of(C.KEY, colors[locked]))
        pos, d = L.place_agent_pose(rng, grid, L.rect_mask(s, s, self.lw, 0, self.rw, s))
        mission = jnp.stack([colors[locked], colors[kr], colors[locked]])
        return self.new_state(grid, pos, d, mission=mission)
