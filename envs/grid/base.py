"""``GridEnv``: the shared MiniGrid-style environment (spaces, observation, auto-reset step, rendering).

Each family subclasses it and supplies ``generate`` (the level generator) and, where the task differs from
"reach the goal, avoid lava", ``transition``. Static configuration (grid size, view size, see-through flag,
full observability) is fixed at construction; ``max_steps_in_episode`` is a dynamic param and doubles as
MiniGrid's ``max_steps`` in the success reward ``1 - 0.9 * step_count / max_steps``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite import autoreset, spaces
from jaxrl_suite.env import Environment, has_privileged_observation
from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import observation as O
from jaxrl_suite.envs.grid import render as R
from jaxrl_suite.envs.grid.dynamics import core_step, success_reward
from jaxrl_suite.envs.grid.state import GridParams, GridState


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """A clear ValueError for a bad static size before anything is compiled."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


class GridEnv(Environment):
    """A MiniGrid-faithful grid world; subclasses define the level generator and the task."""

    #: MiniGrid's ``see_through_walls`` for this family (Empty, DistShift, ... set it True).
    see_through_walls_default: bool = False
    #: Whether boxes may hold objects (ObstructedMaze): enables box-contents bookkeeping in the step.
    box_contents: bool = False
    #: Mission placeholders (0 for a fixed mission) and their inclusive upper bounds.
    mission_high: tuple[int, ...] = ()
    #: Size of the action space (MiniGrid's Discrete(7); DynamicObstacles restricts it to 3).
    num_actions: int = C.NUM_ACTIONS
    #: State class (GridState, or a subclass with the family's extra fields).
    state_cls: type = GridState
    #: Whether ``transition`` uses its key (DynamicObstacles); if not, ``step`` hands its key to the reset.
    stochastic_step: bool = False

    def __init__(
        self,
        width: int,
        height: int,
        max_steps: int,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        self.width = check_int("width", width, 3)
        self.height = check_int("height", height, 3)
        self.max_steps = check_int("max_steps", max_steps, 1)
        view = check_int("agent_view_size", agent_view_size, 3)
        if view % 2 != 1:
            raise ValueError(f"agent_view_size must be odd (MiniGrid), got {view}")
        self.agent_view_size = view
        if see_through_walls is None:
            see_through_walls = self.see_through_walls_default
        if not isinstance(see_through_walls, bool):
            raise ValueError(f"see_through_walls must be a bool or None, got {see_through_walls!r}")
        if not isinstance(fully_observable, bool):
            raise ValueError(f"fully_observable must be a bool, got {fully_observable!r}")
        self.see_through_walls = see_through_walls
        self.fully_observable = fully_observable
        self.tile_size = check_int("tile_size", tile_size, 1)
        self.highlight = bool(highlight)
        self._offsets = O.view_offsets(view)

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
            contents = jnp.broadcast_to(jnp.array(C.NOTHING, jnp.uint8), (h, w, 2))
        if mission is None:
            mission = jnp.zeros((len(self.mission_high),), jnp.int32)
        return self.state_cls(
            time=jnp.zeros((), jnp.int32),
            grid=jnp.asarray(grid, jnp.uint8),
            contents=jnp.asarray(contents, jnp.uint8),
            agent_pos=jnp.asarray(agent_pos, jnp.int32),
            agent_dir=jnp.asarray(agent_dir, jnp.int32),
            carrying=jnp.array(C.NOTHING, jnp.uint8),
            carrying_contents=jnp.array(C.NOTHING, jnp.uint8),
            mission=jnp.asarray(mission, jnp.int32),
            **extra,
        )

    def get_obs(self, state: GridState, params: GridParams | None = None) -> dict:
        """MiniGrid's observation dict: image, direction and (for variable missions) the mission."""
        if self.fully_observable:
            image = O.full_image(state.grid, state.agent_pos, state.agent_dir)
        else:
            image = O.partial_image(
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
        return R.render_grid(state.grid, state.agent_pos, state.agent_dir, highlight, self.tile_size)

    def visible_cells(self, state: GridState) -> jax.Array:
        """bool[H, W]: world cells in the agent's view that it can see (MiniGrid's render highlight)."""
        offsets = jnp.asarray(self._offsets)
        view = O.egocentric_view(state.grid, state.agent_pos, state.agent_dir, offsets)
        vis = jnp.ones(view.shape[:2], bool) if self.see_through_walls else O.visibility(view)
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
