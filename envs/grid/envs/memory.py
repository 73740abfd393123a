"""Memory (``MiniGrid-MemoryS*``): see an object in the start room, walk the hallway and stand by the matching
one of two objects at its end; 5 * size^2 steps. ``pickup`` acts as ``toggle`` (MiniGrid)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv
from jaxrl_suite.envs.grid.dynamics import core_step, reward_if
from jaxrl_suite.envs.grid.state import GridState


@struct.dataclass
class MemoryState(GridState):
    """Grid state plus the two cells at the hallway's end: beside the matching object, and the other."""

    success_pos: jax.Array  # int32[2]: (x, y)
    failure_pos: jax.Array  # int32[2]: (x, y)


class Memory(GridEnv):
    """MiniGrid's ``MemoryEnv`` (green key or ball); ``random_length`` draws the hallway's end."""

    state_cls = MemoryState
    min_size, steps_per_cell = 7, 5

    def __init__(self, size: int = 8, random_length: bool = False, **options):
        super().__init__(size, **options)
        if self.size % 2 != 1:
            raise ValueError(f"size must be odd (MiniGrid's MemoryEnv), got {self.size}")
        self.random_length = bool(random_length)

    @functools.cached_property
    def fixed_grid(self):
        s = self.size
        grid = layout.walled_room(s, s)
        up, low = s // 2 - 2, s // 2 + 2  # the start room's walls
        grid[up, 1:5] = grid[low, 1:5] = constants.CELL_WALL
        grid[up + 1, 4] = grid[low - 1, 4] = constants.CELL_WALL
        return grid

    def generate(self, key, params):
        s, mid = self.size, self.size // 2
        rng = layout.Rand(key, 4)
        end = rng.int(4, s - 2) if self.random_length else jnp.int32(s - 3)
        X, Y = layout.coords(s, s)
        grid = jnp.asarray(self.fixed_grid)
        hall = (X >= 5) & (X < end) & ((Y == mid - 1) | (Y == mid + 1))
        grid = layout.put_where(grid, hall | ((X == end) & (Y != mid)) | (X == end + 2), constants.CELL_WALL)
        pos = jnp.stack([rng.int(1, end + 1), jnp.int32(mid)])
        start_is_key = rng.int(0, 2) == 0  # _rand_elem([Key, Ball])
        top_is_ball = rng.int(0, 2) == 0  # _rand_elem([[Ball, Key], [Key, Ball]])

        def green(is_key):
            return layout.cell_of(jnp.where(is_key, constants.KEY, constants.BALL), constants.GREEN)

        grid = layout.put(grid, jnp.array([1, mid - 1]), green(start_is_key))
        grid = layout.put(grid, jnp.stack([end + 1, jnp.int32(mid - 2)]), green(~top_is_ball))
        grid = layout.put(grid, jnp.stack([end + 1, jnp.int32(mid + 2)]), green(top_is_ball))
        top = jnp.stack([end + 1, jnp.int32(mid - 1)])  # the cell below the top object
        bottom = jnp.stack([end + 1, jnp.int32(mid + 1)])
        match_top = start_is_key == ~top_is_ball
        success, failure = jnp.where(match_top, top, bottom), jnp.where(match_top, bottom, top)
        return self.new_state(grid, pos, 0, success_pos=success, failure_pos=failure)

    def transition(self, key, state, action, params):
        action = jnp.where(action == constants.PICKUP, constants.TOGGLE, action)
        state, _ = core_step(state, action, False)
        win = jnp.all(state.agent_pos == state.success_pos)
        lose = jnp.all(state.agent_pos == state.failure_pos)
        return state, reward_if(win, state, params), win | lose
