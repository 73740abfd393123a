"""``GridEnv``: the shared MiniGrid-style environment (spaces, observation, auto-reset step, rendering).

Each family subclasses it, declares what is particular to it (default and least size, steps per cell, fixed
grid, its own options) and supplies ``generate`` (the level generator) and, where the task differs from
"reach the goal, avoid lava", ``transition``. Static configuration (shape and ``GridOptions``) is fixed at
construction; ``max_steps_in_episode`` is a dynamic param and doubles as MiniGrid's ``max_steps`` in the
success reward ``1 - 0.9 * step_count / max_steps``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite import autoreset, spaces
from jaxrl_suite.env import Environment, has_privileged_observation
from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.dynamics import core_step, success_reward
from jaxrl_suite.envs.grid.observation import (
    egocentric_view,
    full_image,
    partial_image,
    view_offsets,
    visibility,
)
from jaxrl_suite.envs.grid.options import GridOptions, check_int, family_signature
from jaxrl_suite.envs.grid.render import render_grid
from jaxrl_suite.envs.grid.state import GridParams, GridState

__all__ = ["GridEnv", "GridOptions", "check_int"]


class GridEnv(Environment):
    """A MiniGrid-faithful grid world; subclasses define the level generator and the task."""

    #: MiniGrid's default ``size`` for the family and the least it allows (grids are size x size unless the
    #: family calls ``setup`` with its own shape).
    default_size: int = 8
    min_size: int = 3
    #: MiniGrid's default episode limit per grid cell (``max_steps = k * width * height``).
    steps_per_cell: int = 4
    #: Whether the fixed grid has MiniGrid's goal in the bottom-right corner of the walled room.
    corner_goal: bool = False
    #: Whether MiniGrid starts the agent at (1, 1) facing right, which ``random_start`` makes uniform.
    fixed_start: bool = False
    #: This family's defaults for the shared options (``GridOptions``).
    defaults: GridOptions = GridOptions()
    #: Whether boxes may hold objects (ObstructedMaze): enables box-contents bookkeeping in the step.
    box_contents: bool = False
    #: Mission placeholders (0 for a fixed mission) and their inclusive upper bounds.
    mission_high: tuple[int, ...] = ()
    #: Size of the action space (MiniGrid's Discrete(7); DynamicObstacles restricts it to 3).
    num_actions: int = constants.NUM_ACTIONS
    #: State class (GridState, or a subclass with the family's extra fields).
    state_cls: type = GridState
    #: Whether ``transition`` uses its key (DynamicObstacles); if not, ``step`` hands its key to the reset.
    stochastic_step: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__signature__ = family_signature(cls)

    def __init__(self, size: int | None = None, **options):
        """A ``size x size`` grid (walls included); ``options`` are ``GridOptions`` fields."""
        self.size = check_int("size", self.default_size if size is None else size, self.min_size)
        self.setup(self.size, self.size, **options)

    def setup(self, width: int, height: int, **options) -> None:
        """Fix the grid's shape and the shared options (families with another shape call this directly)."""
        self.width = check_int("width", width, 3)
        self.height = check_int("height", height, 3)
        self.options = opts = self.defaults.updated(**options)
        if opts.random_start and not self.fixed_start:
            raise ValueError(f"{self.name} has no fixed start for random_start to replace")
        self.agent_view_size = opts.agent_view_size
        self.see_through_walls = opts.see_through_walls
        self.fully_observable = opts.fully_observable
        self.tile_size = opts.tile_size
        self.highlight = bool(opts.highlight)
        self._offsets = view_offsets(self.agent_view_size)

    @property
    def max_steps(self) -> int:
        """The episode limit: the ``max_steps`` option, else the family's MiniGrid default."""
        return self.options.max_steps or self.default_max_steps()

    def default_max_steps(self) -> int:
        """MiniGrid's default episode limit for this family (``steps_per_cell`` per cell by default)."""
        return self.steps_per_cell * self.width * self.height

    @functools.cached_property
    def fixed_grid(self) -> np.ndarray:
        """What every level starts from (numpy, built once): MiniGrid's walled room, with the corner goal where
        the family has one. Families with more fixed structure override it."""
        goal = (self.width - 2, self.height - 2) if self.corner_goal else None
        return layout.walled_room(self.height, self.width, goal)

    def agent_start(self, rng: layout.Rand, grid) -> tuple[jax.Array, jax.Array]:
        """MiniGrid's ``agent_start_pos``: (1, 1) facing right, or with ``random_start`` a uniform free cell
        and direction (``place_agent``)."""
        if self.options.random_start:
            return layout.place_agent_pose(rng, grid, jnp.ones(grid.shape[:2], bool))
        return jnp.array([1, 1], jnp.int32), jnp.int32(0)

    # ----------------------------------------------------------------- to be provided by each family
    def generate(self, key: jax.Array, params: GridParams) -> GridState:
        """A fresh level (MiniGrid's ``_gen_grid``); step count 0, nothing carried."""
        raise NotImplementedError

    def transition(self, key: jax.Array, state: GridState, action: jax.Array, params: GridParams):
        """One MiniGrid step without the observation: ``(state, reward, terminated)``."""
        state, ev = core_step(state, action, self.box_contents)
        reward = jnp.where(ev.reached_goal, success_reward(state.time, params.max_steps_in_episode), 0.0)
        return state, reward, ev.reached_goal | ev.reached_lava

    # ----------------------------------------------------------------- shared machinery
    @property
    def default_params(self) -> GridParams:
        return GridParams(max_steps_in_episode=self.max_steps)

    def new_state(self, grid, agent_pos, agent_dir, mission=None, contents=None, **extra):
        """A level's initial state from its grid and agent pose."""
        h, w = self.height, self.width
        if not self.box_contents:
            contents = jnp.zeros((0, 0, 2), jnp.uint8)  # no box ever holds anything: nothing to carry around
        elif contents is None:
            contents = jnp.broadcast_to(jnp.array(constants.NOTHING, jnp.uint8), (h, w, 2))
        if mission is None:
            mission = jnp.zeros((len(self.mission_high),), jnp.int32)
        return self.state_cls(
            time=jnp.zeros((), jnp.int32),
            grid=jnp.asarray(grid, jnp.uint8),
            contents=jnp.asarray(contents, jnp.uint8),
            agent_pos=jnp.asarray(agent_pos, jnp.int32),
            agent_dir=jnp.asarray(agent_dir, jnp.int32),
            carrying=jnp.array(constants.NOTHING, jnp.uint8),
            carrying_contents=jnp.array(constants.NOTHING, jnp.uint8),
            mission=jnp.asarray(mission, jnp.int32),
            **extra,
        )

    def get_obs(self, state: GridState, params: GridParams | None = None) -> dict:
        """MiniGrid's observation dict: image, direction and (for variable missions) the mission."""
        if self.fully_observable:
            image = full_image(state.grid, state.agent_pos, state.agent_dir)
        else:
            image = partial_image(
                state.grid,
                state.agent_pos,
                state.agent_dir,
                state.carrying,
                jnp.asarray(self._offsets),
                self.see_through_walls,
            )
        obs = {"image": image, "direction": state.agent_dir.astype(jnp.int32)}
        if self.mission_high:
            obs["mission"] = state.mission
        return obs

    def reset_env(self, key: jax.Array, params: GridParams):
        state = self.generate(key, params)
        return self.get_obs(state, params), state

    def reset_to_level(self, key: jax.Array, level: Any, params: GridParams | None = None):
        """``(obs, state)`` at the start of a given level (``envs.grid.level.Level``; for UED curricula and
        held-out evaluation). The level's grid must have this env's size."""
        if tuple(level.grid.shape[-3:-1]) != (self.height, self.width):
            raise ValueError(
                f"level is {level.grid.shape[-3]}x{level.grid.shape[-2]} (height x width) but {self.name} is "
                f"{self.height}x{self.width}"
            )
        state = self.new_state(level.grid, level.agent_pos, level.agent_dir)
        return self.get_obs(state, params), state

    def level_of(self, state: GridState):
        """The ``Level`` (grid and agent pose) of a state: a level in play, exportable to MiniGrid."""
        from jaxrl_suite.envs.grid.level import Level

        return Level(state.grid, state.agent_pos, state.agent_dir)

    def step_env(self, key: jax.Array, state: GridState, action: jax.Array, params: GridParams):
        state, reward, terminated = self.transition(key, state, action, params)
        return self.get_obs(state, params), state, reward.astype(jnp.float32), terminated, {}

    def step(self, key: jax.Array, state: GridState, action: Any, params: GridParams | None = None):
        """The contract's auto-resetting step (``jaxrl_suite.autoreset.step``), built for speed.

        The observation is built once, from the selected state (the finished episode's only when
        ``info["final_observation"]`` is used; the reset builds none), and when the transition is
        deterministic the key goes straight to the reset instead of being split.
        """
        if params is None:
            params = self.default_params
        if self.stochastic_step:
            key_step, key_reset = jax.random.split(key)
        else:
            key_step = key_reset = key
        return autoreset.step(
            self._transition_only,
            lambda k, p, done: (None, self.generate(k, p)),
            self.is_truncated,
            key_step,
            key_reset,
            state,
            action,
            params,
            observe=self.get_obs,
            privileged=self.privileged_observation if has_privileged_observation(self) else None,
        )

    # The state-only protocol: ``VecEnv`` (through ``EpisodeStatistics``) steps and resets states and builds
    # each observation once, from the state kept after the auto-reset.
    def observe_state(self, state: GridState, params: GridParams | None = None) -> dict:
        return self.get_obs(state, params)

    def step_state(self, key, state, action, params):
        return self._transition_only(key, state, action, params)

    def reset_state(self, key, params):
        return None, self.generate(key, params)

    def _transition_only(self, key, state, action, params):
        """``step_env`` without the observation (``autoreset.step`` builds it from the selected state)."""
        state, reward, terminated = self.transition(key, state, action, params)
        return None, state, reward, terminated, {}

    def observation_space(self, params: GridParams | None = None) -> spaces.Dict:
        if self.fully_observable:
            shape = (self.width, self.height, 3)
        else:
            shape = (self.agent_view_size, self.agent_view_size, 3)
        obs = {"image": spaces.Box(0, 255, shape, jnp.uint8), "direction": spaces.Discrete(4)}
        if self.mission_high:
            high = np.asarray(self.mission_high, np.int32)
            obs["mission"] = spaces.Box(0, high, (len(self.mission_high),), jnp.int32)
        return spaces.Dict(obs)

    def action_space(self, params: GridParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(self.num_actions)

    def render(self, state: GridState, params: GridParams | None = None) -> jax.Array:
        """RGB frame uint8[H * tile, W * tile, 3] like MiniGrid's ``render()``, by gather from a tile atlas."""
        highlight = None
        if self.highlight:
            highlight = self.visible_cells(state)
        return render_grid(state.grid, state.agent_pos, state.agent_dir, highlight, self.tile_size)

    def visible_cells(self, state: GridState) -> jax.Array:
        """bool[H, W]: world cells in the agent's view that it can see (MiniGrid's render highlight)."""
        offsets = jnp.asarray(self._offsets)
        view = egocentric_view(state.grid, state.agent_pos, state.agent_dir, offsets)
        vis = jnp.ones(view.shape[:2], bool) if self.see_through_walls else visibility(view)
        off = offsets[state.agent_dir]
        x = state.agent_pos[0] + off[..., 0]
        y = state.agent_pos[1] + off[..., 1]
        inside = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
        x = jnp.where(inside, x, self.width)  # out of range: dropped (negative indices would wrap)
        mask = jnp.zeros((self.height, self.width), bool)
        return mask.at[y, x].set(vis, mode="drop")

    @property
    def name(self) -> str:
        return type(self).__name__
