"""Memory (``MiniGrid-MemoryS*``): see an object in the start room, walk the hallway and stand by the matching
one of two objects at its end; 5 * size^2 steps. ``pickup`` acts as ``toggle`` (MiniGrid)."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, success_reward
from jaxrl_suite.envs.grid.state import TargetState


class Memory(GridEnv):
    """MiniGrid's ``MemoryEnv`` (green key or ball); ``random_length`` draws the hallway's end.

    Target state: (success x, y, failure x, y).
    """

    state_cls = TargetState

    def __init__(
        self,
        size: int = 8,
        random_length: bool = False,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        size = check_int("size", size, 7)
        if size % 2 != 1:
            raise ValueError(f"size must be odd (MiniGrid's MemoryEnv), got {size}")
        self.size, self.random_length = size, bool(random_length)
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
        grid = L.np_wall_rect(L.empty_grid(size, size), 0, 0, size, size)
        up, low = size // 2 - 2, size // 2 + 2
        grid[up, 1:5] = C.CELL_WALL
        grid[low, 1:5] = C.CELL_WALL
        grid[up + 1, 4] = C.CELL_WALL
        grid[low - 1, 4] = C.CELL_WALL
        self._grid = grid

    def generate(self, key, params):
        s, mid = self.size, self.size // 2
        rng = L.Rand(key, 4)
        end = rng.int(4, s - 2) if self.random_length else jnp.int32(s - 3)
        X, Y = L.coords(s, s)
        grid = jnp.asarray(self._grid)
        hall = (X >= 5) & (X < end) & ((Y == mid - 1) | (Y == mid + 1))
        grid = L.put_where(grid, hall | ((X == end) & (Y != mid)) | (X == end + 2), C.CELL_WALL)
        pos = jnp.stack([rng.int(1, end + 1), jnp.int32(mid)])
        start_is_key = rng.int(0, 2) == 0  # _rand_elem([Key, Ball])
        top_is_ball = rng.int(0, 2) == 0  # _rand_elem([[Ball, Key], [Key, Ball]])
        green = lambda is_key: L.cell_of(jnp.where(is_key, C.KEY, C.BALL), C.GREEN)  # noqa: E731
        grid = L.put(grid, jnp.array([1, mid - 1]), green(start_is_key))
        grid = L.put(grid, jnp.stack([end + 1, jnp.int32(mid - 2)]), green(~top_is_ball))
        grid = L.put(grid, jnp.stack([end + 1, jnp.int32(mid + 2)]), green(top_is_ball))
        top = jnp.stack([end + 1, jnp.int32(mid - 1)])  # the cell below the top object
        bottom = jnp.stack([end + 1, jnp.int32(mid + 1)])
        match_top = start_is_key == ~top_is_ball
        target = jnp.concatenate([jnp.where(match_top, top, bottom), jnp.where(match_top, bottom, top)])
        return self.new_state(grid, pos, 0, target=target)

    def transition(self, key, state, action, params):
        action = jnp.where(action == C.PICKUP, C.TOGGLE, action)
        state, _ = core_step(state, action, False)
        win = jnp.all(state.agent_pos == state.target[:2])
        lose = jnp.all(state.agent_pos == state.target[2:])
        reward = jnp.where(win, success_reward(state.time, params.max_steps_in_episode), 0.0)
        return state, reward, win | lose
