"""The PAIRED adversary's environment: build a maze one edit per step (Dennis et al. 2020, "Emergent
Complexity and Zero-shot Transfer via Unsupervised Environment Design"), as JaxUED's ``MazeEditor``.

An action is an interior cell (``size * size`` actions). Step 0 puts the goal there; step 1 turns the agent
to ``action % 4``; step 2 puts the agent there (on the goal's cell: the next cell instead); every later step
toggles a wall there (never on the goal or the agent). The episode ends after ``3 + max_walls`` edits,
always (``terminated``), with reward 0: the curriculum pays the adversary its regret at the last step. The
observation shows what is built so far (walls; the goal from step 1; the agent and its direction from step
3), the step as a one-hot and a per-episode random vector ``z`` (so one policy can build different levels).
``build(actions)`` replays a whole episode's actions into its level: the same edits, deterministic.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_suite.env import Environment, EnvParams
from jaxrl_suite.envs.grid import constants
from jaxrl_suite.envs.grid.base import check_int
from jaxrl_suite.envs.grid.level import Level, make_level
from jaxrl_suite.spaces import Box, Dict, Discrete

GOAL_STEP, TURN_STEP, AGENT_STEP = 0, 1, 2


@struct.dataclass
class EditorState:
    level: Level  # the level so far (goal in the grid from step 1; agent pose meaningful from step 3)
    goal: jax.Array  # int32[2] (x, y)
    z: jax.Array  # f32[random_z]: drawn at reset, fixed for the episode
    time: jax.Array


@struct.dataclass
class EditorParams(EnvParams):
    max_steps_in_episode: int = 1 << 30  # the episode ends by termination after num_edits steps


class MazeEditor(Environment):
    """Build a ``size x size``-interior maze (the ``Maze`` family's levels) in ``3 + max_walls`` edits."""

    def __init__(self, size: int = 13, max_walls: int = 60, random_z: int = 16):
        self.size = check_int("size", size, 2)
        self.max_walls = check_int("max_walls", max_walls, 0, self.size * self.size - 2)
        self.random_z = check_int("random_z", random_z, 0)
        self.num_edits = 3 + self.max_walls

    @property
    def name(self) -> str:
        return "MazeEditor"

    @property
    def default_params(self) -> EditorParams:
        return EditorParams()

    def action_space(self, params=None) -> Discrete:
        return Discrete(self.size * self.size)

    def observation_space(self, params=None) -> Dict:
        s = self.size
        return Dict(
            {
                "image": Box(0.0, 1.0, (s, s, 6)),
                "step": Box(0.0, 1.0, (self.num_edits,)),
                "z": Box(0.0, 1.0, (self.random_z,)),
            }
        )

    # ------------------------------------------------------------------------------------------------
    def empty_level(self) -> Level:
        """Outer walls around an empty interior; agent and goal not placed yet."""
        n = self.size + 2
        grid = np.zeros((n, n, 3), np.uint8)
        grid[...] = constants.CELL_EMPTY
        grid[[0, -1], :] = constants.CELL_WALL
        grid[:, [0, -1]] = constants.CELL_WALL
        return make_level(grid, (1, 1), 0)

    def edit(self, level: Level, goal: jax.Array, t: jax.Array, action: jax.Array) -> tuple[Level, jax.Array]:
        """Edit number ``t`` with ``action``: ``(level, goal)`` afterwards (no change past the last edit)."""
        s = self.size
        action = jnp.asarray(action, jnp.int32) % (s * s)
        goal_idx = (goal[1] - 1) * s + (goal[0] - 1)
        # the agent never stands on the goal: its cell then is the next one
        cell = jnp.where((t == AGENT_STEP) & (action == goal_idx), (action + 1) % (s * s), action)
        xy = jnp.stack([cell % s + 1, cell // s + 1]).astype(jnp.int32)
        grid = level.grid
        here = grid[xy[1], xy[0]]
        empty, wall, goal_cell = (
            jnp.asarray(c, jnp.uint8)
            for c in (constants.CELL_EMPTY, constants.CELL_WALL, constants.CELL_GOAL)
        )
        on_agent = (xy == level.agent_pos).all() & (t > AGENT_STEP)
        on_goal = (xy == goal).all()
        toggled = jnp.where(here[0] == constants.WALL, empty, wall)
        new_here = jnp.select(
            [t == GOAL_STEP, t == AGENT_STEP, (t > AGENT_STEP) & (t < self.num_edits) & ~on_goal & ~on_agent],
            [goal_cell, empty, toggled],
            here,
        )
        # the goal moves: its old cell (none before step 0) is cleared first
        grid = (
            jnp.where((t == GOAL_STEP) & (goal[0] > 0), grid.at[goal[1], goal[0]].set(empty), grid)
            .at[xy[1], xy[0]]
            .set(new_here)
        )
        level = Level(
            grid=grid,
            agent_pos=jnp.where(t == AGENT_STEP, xy, level.agent_pos),
            agent_dir=jnp.where(t == TURN_STEP, action % 4, level.agent_dir).astype(jnp.int32),
        )
        return level, jnp.where(t == GOAL_STEP, xy, goal)

    def build(self, actions: jax.Array) -> Level:
        """The level that ``actions`` (``int[num_edits]``, one episode's, in order) build."""

        def one(carry, ta):
            level, goal = carry
            return self.edit(level, goal, ta[0], ta[1]), None

        t = jnp.arange(actions.shape[0], dtype=jnp.int32)
        start = (self.empty_level(), jnp.zeros((2,), jnp.int32))
        return jax.lax.scan(one, start, (t, jnp.asarray(actions, jnp.int32)))[0][0]

    # ------------------------------------------------------------------------------------------------
    def observe(self, state: EditorState) -> dict:
        g = state.level.grid[1:-1, 1:-1, 0]
        s = self.size
        pos = state.level.agent_pos - 1
        agent = jnp.zeros((s, s, 4), jnp.float32).at[pos[1], pos[0], state.level.agent_dir].set(1.0)
        image = jnp.concatenate(
            [
                (g == constants.WALL)[..., None].astype(jnp.float32),
                ((g == constants.GOAL) & (state.time > GOAL_STEP))[..., None].astype(jnp.float32),
                agent * (state.time > AGENT_STEP),
            ],
            axis=-1,
        )
        step = jax.nn.one_hot(jnp.minimum(state.time, self.num_edits - 1), self.num_edits, dtype=jnp.float32)
        return {"image": image, "step": step, "z": state.z}

    def reset_env(self, key, params):
        z = jax.random.uniform(key, (self.random_z,), jnp.float32)
        state = EditorState(self.empty_level(), jnp.zeros((2,), jnp.int32), z, jnp.zeros((), jnp.int32))
        return self.observe(state), state

    def step_env(self, key, state: EditorState, action, params):
        level, goal = self.edit(state.level, state.goal, state.time, action)
        state = state.replace(level=level, goal=goal, time=state.time + 1)
        return self.observe(state), state, jnp.float32(0.0), state.time >= self.num_edits, {}
