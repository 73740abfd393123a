"""Procedurally generated mazes (``Maze-*``): reach the goal; each reset draws a level from a generator.

The defaults are JaxUED's Maze: a 13x13 interior with up to 60 walls, a 5x5 egocentric view that sees through
walls, 250 steps, and MiniGrid's success reward ``1 - 0.9 * steps / max_steps``. ``reset_to_level`` starts
any given level (UED curricula, held-out sets); ``generator`` picks another level distribution.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite.envs.grid import constants
from jaxrl_suite.envs.grid.base import GridEnv, GridOptions, check_int
from jaxrl_suite.envs.grid.dynamics import success_reward
from jaxrl_suite.envs.grid.generators import make_generator
from jaxrl_suite.envs.grid.state import GridParams

WALLS_ONLY = ("random_walls", "perfect_maze", "lava_field")  # generators whose levels hold no objects


@struct.dataclass
class MazeParams(GridParams):
    """``GridParams`` plus an optional fixed ``level``: when set, every reset (auto-resets included) restarts
    it, which is how a curriculum assigns levels to envs (params batched per env); None draws a new one."""

    level: Any = None


class Maze(GridEnv):
    """A grid world whose levels come from ``envs.grid.generators`` (``generator`` and its options)."""

    defaults = GridOptions(
        max_steps=250, agent_view_size=5, see_through_walls=True
    )  # JaxUED: unoccluded crop

    def __init__(
        self,
        size: int = 13,
        generator: str = "random_walls",
        generator_options: dict | None = None,
        lean: bool | None = None,
        **options,
    ):
        self.size = check_int("size", size, 3)
        self.generator_name = generator
        self.generator_options = dict(generator_options or {})
        if generator == "random_walls" and "max_walls" not in self.generator_options:
            # JaxUED's density (60 walls in 13 x 13) for other sizes
            self.generator_options["max_walls"] = round(60 * self.size**2 / 169)
        self._generate = make_generator(generator, height=size, width=size, **self.generator_options)
        #: levels hold only walls, the goal and lava: the lean step applies (see ``transition``); ``lean=False``
        #: forces MiniGrid's general step (levels loaded with doors, keys or other objects)
        self.walls_only = generator in WALLS_ONLY if lean is None else bool(lean)
        self.setup(size + 2, size + 2, **options)

    def transition(self, key, state, action, params):
        """Levels of walls, goal and lava only (every generator but ``rooms``): MiniGrid's step reduces to
        turning and moving onto a free cell (pickup, drop, toggle and done change nothing), a fraction of the
        general engine's work; other levels take the general step."""
        if not self.walls_only:
            return super().transition(key, state, action, params)
        action = jnp.asarray(action, jnp.int32)
        d = state.agent_dir
        front = state.agent_pos + jnp.asarray(constants.DIR_TO_VEC)[d]
        t = state.grid[front[1], front[0], 0]
        moved = (action == constants.FORWARD) & (
            (t == constants.EMPTY) | (t == constants.GOAL) | (t == constants.LAVA)
        )
        turn = jnp.where(action == constants.LEFT, 3, jnp.where(action == constants.RIGHT, 1, 0))
        time = state.time + 1
        state = state.replace(
            agent_pos=jnp.where(moved, front, state.agent_pos), agent_dir=(d + turn) % 4, time=time
        )
        goal, lava = moved & (t == constants.GOAL), moved & (t == constants.LAVA)
        reward = jnp.where(goal, success_reward(time, params.max_steps_in_episode), 0.0)
        return state, reward, goal | lava

    @property
    def default_params(self) -> MazeParams:
        return MazeParams(max_steps_in_episode=self.max_steps)

    def generate(self, key, params):
        level = self._generate(key) if getattr(params, "level", None) is None else params.level
        return self.new_state(level.grid, level.agent_pos, level.agent_dir)

    def with_levels(self, params: GridParams, levels: Any) -> MazeParams:
        """Per-env params (a leading axis on every leaf) that pin each env to one of ``levels``."""
        n = levels.agent_dir.shape[0]
        base = MazeParams(**{f: getattr(params, f) for f in ("max_steps_in_episode",)})
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + jnp.shape(x)), base).replace(level=levels)

    def resized(self, size: int) -> Maze:
        """This maze's observation and rendering options on a ``size x size`` interior: held-out levels of
        another size, played by a student trained here (the egocentric view keeps its shape)."""
        if self.fully_observable:
            raise ValueError("a fully observable maze's observation grows with its size: cannot resize")
        return Maze(size, **dataclasses.asdict(self.options))

    def sample_level(self, key):
        """A level from this env's generator (what ``reset`` starts), as a ``Level``."""
        return self._generate(key)
