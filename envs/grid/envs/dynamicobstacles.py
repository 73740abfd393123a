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

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv, GridOptions, check_int
from jaxrl_suite.envs.grid.dynamics import core_step, front_of, get_cell, reward_if
from jaxrl_suite.envs.grid.state import GridState

BALL = (constants.BALL, constants.BLUE, 0)
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
    ok = inside & (cells[:, 0] == constants.EMPTY) & jnp.any(cand != agent_pos[None, :], axis=1)
    k = jnp.sum(ok)
    fail = (1.0 - k.astype(jnp.float32) / 9.0) ** TRIES
    moves = (k > 0) & (u_stay >= fail)
    new = cand[layout.masked_choice(word, ok)]
    new = jnp.where(moves, new, pos)
    grid = layout.put(
        grid, pos, jnp.where(moves, jnp.array(constants.CELL_EMPTY, jnp.uint8), grid[pos[1], pos[0]])
    )
    grid = layout.put(grid, new, jnp.array(BALL, jnp.uint8))
    return grid, new


class DynamicObstacles(GridEnv):
    """MiniGrid's ``DynamicObstaclesEnv``: goal bottom-right, blue balls moving each step."""

    state_cls = ObstacleState
    min_size = 4
    corner_goal = fixed_start = True
    defaults = GridOptions(see_through_walls=True)
    num_actions = 3
    stochastic_step = True

    def __init__(self, size: int = 8, n_obstacles: int = 4, **options):
        super().__init__(size, **options)
        n = check_int("n_obstacles", n_obstacles, 0)
        # MiniGrid: "Reduce obstacles if there are too many"
        self.n_obstacles = n if n <= self.size / 2 + 1 else int(self.size / 2)

    def generate(self, key, params):
        s = self.size
        rng = layout.Rand(key, 2 + self.n_obstacles)
        grid = jnp.asarray(self.fixed_grid)
        pos, d = self.agent_start(rng, grid)

        def place(grid, word):  # MiniGrid's place_obj(Ball()): uniform empty cell, not the agent's
            p = layout.flat_to_xy(
                layout.masked_choice(word, layout.free_mask(grid) & layout.not_at(s, s, pos)), s
            )
            return layout.put(grid, p, BALL), p

        grid, obstacles = jax.lax.scan(place, grid, rng.words(self.n_obstacles))
        return self.new_state(grid, pos, d, obstacles=obstacles)

    def move_obstacles(self, key, state: ObstacleState) -> ObstacleState:
        """All obstacles' moves for one step, in order (each sees the earlier ones' new cells)."""
        bits = jax.random.bits(key, (self.n_obstacles, 2), jnp.uint32)

        def one(grid, xs):
            pos, b = xs
            grid, new = move_obstacle(grid, pos, state.agent_pos, layout.to_uniform(b[0]), b[1])
            return grid, new

        grid, obstacles = jax.lax.scan(one, state.grid, (state.obstacles, bits))
        return state.replace(grid=grid, obstacles=obstacles)

    def transition(self, key, state, action, params):
        action = jnp.asarray(action, jnp.int32)
        action = jnp.where(
            action >= self.num_actions, constants.LEFT, action
        )  # MiniGrid: invalid action -> 0
        front = get_cell(state.grid, front_of(state.agent_pos, state.agent_dir))
        not_clear = (front[0] != constants.EMPTY) & (front[0] != constants.GOAL)
        state = self.move_obstacles(key, state)
        state, ev = core_step(state, action, False)
        hit = (action == constants.FORWARD) & not_clear
        reward = jnp.where(hit, -1.0, reward_if(ev.reached_goal, state, params))
        return state, reward, ev.reached_goal | ev.reached_lava | hit
