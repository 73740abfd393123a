"""Dynamic obstacles (``MiniGrid-Dynamic-Obstacles-*``): balls that move randomly every step; touching one
(walking into it, or into a wall) ends the episode with reward -1. Three actions; 4 * size^2 steps.

Each step MiniGrid moves every obstacle, in order, by ``place_obj`` into its 3x3 neighbourhood: up to 101
uniform tries over the 9 cells, accepting an empty cell that is not the agent's, else the ball stays. We draw
the same outcome directly: with k acceptable cells the ball stays with probability ``(1 - k / 9) ** 101``
(MiniGrid's chance that every try fails) and otherwise moves to one of the k uniformly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid.base import GridEnv, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, front_of, get_cell, success_reward
from jaxrl_suite.envs.grid.state import GridState

BALL = (C.BALL, C.BLUE, 0)
TRIES = 101  # place_obj(max_tries=100) raises after its 101st failed try
_NEIGHBOURS = np.array([(dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], np.int32)  # place_obj's 3x3


@struct.dataclass
class ObstacleState(GridState):
    """Grid state plus the obstacles' positions, in MiniGrid's order (they move one after another)."""

    obstacles: jax.Array  # int32[n, 2]


def move_obstacle(grid, pos, agent_pos, u_stay, word):
    """One ball's MiniGrid move: (new grid, new position)."""
    h, w = grid.shape[:2]
    cand = pos[None, :] + jnp.asarray(_NEIGHBOURS)
    inside = (cand[:, 0] >= 0) & (cand[:, 0] < w) & (cand[:, 1] >= 0) & (cand[:, 1] < h)
    cells = grid[jnp.clip(cand[:, 1], 0, h - 1), jnp.clip(cand[:, 0], 0, w - 1)]
    ok = inside & (cells[:, 0] == C.EMPTY) & jnp.any(cand != agent_pos[None, :], axis=1)
    k = jnp.sum(ok)
    fail = (1.0 - k.astype(jnp.float32) / 9.0) ** TRIES
    moves = (k > 0) & (u_stay >= fail)
    new = cand[L.masked_choice(word, ok)]
    new = jnp.where(moves, new, pos)
    grid = L.put(grid, pos, jnp.where(moves, jnp.array(C.CELL_EMPTY, jnp.uint8), grid[pos[1], pos[0]]))
    grid = L.put(grid, new, jnp.array(BALL, jnp.uint8))
    return grid, new


class DynamicObstacles(GridEnv):
    """MiniGrid's ``DynamicObstaclesEnv``: goal bottom-right, blue balls moving each step."""

    state_cls = ObstacleState
    see_through_walls_default = True
    num_actions = 3
    stochastic_step = True

    def __init__(
        self,
        size: int = 8,
        n_obstacles: int = 4,
        random_start: bool = False,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        size = check_int("size", size, 4)
        n = check_int("n_obstacles", n_obstacles, 0)
        # MiniGrid: "Reduce obstacles if there are too many"
        self.n_obstacles = n if n <= size / 2 + 1 else int(size / 2)
        self.size, self.random_start = size, bool(random_start)
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
        grid = L.np_wall_rect(L.empty_grid(size, size), 0, 0, size, size)
        grid[size - 2, size - 2] = C.CELL_GOAL
        self._grid = grid

    def generate(self, key, params):
        s = self.size
        rng = L.Rand(key, 2 + self.n_obstacles)
        grid = jnp.asarray(self._grid)
        everywhere = jnp.ones((s, s), bool)
        if self.random_start:
            pos, d = L.place_agent_pose(rng, grid, everywhere)
        else:
            pos, d = jnp.array([1, 1], jnp.int32), jnp.int32(0)

        def place(grid, word):  # MiniGrid's place_obj(Ball()): uniform empty cell, not the agent's
            p = L.flat_to_xy(L.masked_choice(word, L.free_mask(grid) & L.not_at(s, s, pos)), s)
            return L.put(grid, p, BALL), p

        grid, obstacles = jax.lax.scan(place, grid, rng.words(self.n_obstacles))
        return self.new_state(grid, pos, d, obstacles=obstacles)

    def move_obstacles(self, key, state: ObstacleState) -> ObstacleState:
        """All obstacles' moves for one step, in order (each sees the earlier ones' new cells)."""
        bits = jax.random.bits(key, (self.n_obstacles, 2), jnp.uint32)

        def one(grid, xs):
            pos, b = xs
            grid, new = move_obstacle(grid, pos, state.agent_pos, L.to_uniform(b[0]), b[1])
            return grid, new

        grid, obstacles = jax.lax.scan(one, state.grid, (state.obstacles, bits))
        return state.replace(grid=grid, obstacles=obstacles)

    def transition(self, key, state, action, params):
        action = jnp.asarray(action, jnp.int32)
        action = jnp.where(action >= self.num_actions, C.LEFT, action)  # MiniGrid: invalid action -> 0
        front = get_cell(state.grid, front_of(state.agent_pos, state.agent_dir))
        not_clear = (front[0] != C.EMPTY) & (front[0] != C.GOAL)
        state = self.move_obstacles(key, state)
        state, ev = core_step(state, action, False)
        hit = (action == C.FORWARD) & not_clear
        reward = jnp.where(ev.reached_goal, success_reward(state.time, params.max_steps_in_episode), 0.0)
        reward = jnp.where(hit, -1.0, reward)
        return state, reward, ev.reached_goal | ev.reached_lava | hit
