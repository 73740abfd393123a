"""DoorKey (``MiniGrid-DoorKey-*``): pick up the key, unlock the door, reach the goal; 10 * size^2 steps."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int


class DoorKey(GridEnv):
    """MiniGrid's ``DoorKeyEnv``: a wall at a random column with a locked yellow door; key on the agent's side."""

    def __init__(
        self,
        size: int = 8,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        size = check_int("size", size, 5)
        self.size = size
        super().__init__(
            size,
            size,
            max_steps or 10 * size**2,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )
        grid = L.np_wall_rect(L.empty_grid(size, size), 0, 0, size, size)
        grid[size - 2, size - 2] = C.CELL_GOAL
        self._grid = grid

    def generate(self, key, params):
        s = self.size
        rng = L.Rand(key, 5)
        split = rng.int(2, s - 2)
        # The agent's side is all empty: cells x in [1, split), y in [1, s - 1). Agent uniform there, the key
        # uniform over the rest of it (MiniGrid's place_agent then place_obj, in closed form).
        cols = split - 1
        n = cols * (s - 2)
        a = L.scale_int(rng.uniform(), 0, n)
        k = L.scale_int(rng.uniform(), 0, n - 1)
        k = k + (k >= a)
        d = rng.int(0, 4)
        door_y = rng.int(1, s - 2)
        values = L.materialize(
            jnp.stack([split, 1 + a % cols, 1 + a // cols, 1 + k % cols, 1 + k // cols, d, door_y])
        )
        split, ax, ay, kx, ky, d, door_y = values
        X, Y = L.coords(s, s)
        grid = jnp.asarray(self._grid)
        grid = L.put_where(grid, X == split, C.CELL_WALL)
        grid = L.put_where(grid, (X == split) & (Y == door_y), (C.DOOR, C.YELLOW, C.LOCKED))
        grid = L.put_where(grid, (X == kx) & (Y == ky), (C.KEY, C.YELLOW, 0))
        return self.new_state(grid, jnp.stack([ax, ay]), d)
