"""MiniGrid's core transition (``MiniGridEnv.step``) for all seven actions, without branching on the action.

Every action reads only the cell in front of the agent and writes at most that one cell, so the step computes
each action's effect on (front cell, carried object, pose) with cheap selects and does a single one-cell
write: no ``lax.switch`` (which under ``vmap`` evaluates every branch on whole states anyway).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants
from jaxrl_suite.envs.grid.state import GridState

_DIR_VEC = jnp.asarray(constants.DIR_TO_VEC)
SELECT_WRITE_CELLS = 100  # grids up to this many cells are written by select, larger ones by scatter


class Events(NamedTuple):
    """What the core step did; tasks read these to score the step."""

    action: jax.Array
    front_pos: jax.Array  # int32[2], in front of the agent *before* the step
    front_cell: jax.Array  # uint8[3], that cell before the step
    moved: jax.Array  # forward into an overlappable cell
    reached_goal: jax.Array  # forward into a goal (MiniGrid: terminated with reward)
    reached_lava: jax.Array  # forward into lava (terminated, no reward)
    picked_up: jax.Array
    dropped: jax.Array
    door_opened: jax.Array  # a toggle left the front door open (it was closed or locked)


def front_of(pos: jax.Array, direction: jax.Array) -> jax.Array:
    """The cell in front of a pose."""
    return pos + _DIR_VEC[direction]


def get_cell(grid: jax.Array, pos: jax.Array) -> jax.Array:
    """``grid[y, x]`` for pos = (x, y) (uint8[3]); positions are clipped into the grid."""
    h, w = grid.shape[:2]
    return grid[jnp.clip(pos[1], 0, h - 1), jnp.clip(pos[0], 0, w - 1)]


def core_step(state: GridState, action: jax.Array, boxes: bool = True) -> tuple[GridState, Events]:
    """``MiniGridEnv.step`` minus reward/termination/observation.

    ``boxes`` (static) enables box-contents bookkeeping; without it boxes are taken to be empty (true in every
    family but ObstructedMaze), saving the contents reads and writes.
    """
    action = jnp.asarray(action, jnp.int32)
    h, w = state.grid.shape[:2]
    pos, d = state.agent_pos, state.agent_dir
    fpos = front_of(pos, d)
    fx, fy = jnp.clip(fpos[0], 0, w - 1), jnp.clip(fpos[1], 0, h - 1)
    cell = state.grid[fy, fx]
    # One-cell writes: on small grids a select over the grid fuses with the rest of the step; on large ones a
    # scatter (its own kernel, but one cell) beats touching every cell.
    here = (jnp.arange(w)[None, :] == fx) & (jnp.arange(h)[:, None] == fy)

    def write(array, value):
        if h * w <= SELECT_WRITE_CELLS:
            return jnp.where(here[..., None], value, array)
        return array.at[fy, fx].set(value)

    ctype, ccol, cstate = cell[0], cell[1], cell[2]
    carry_t, carry_c = state.carrying[0], state.carrying[1]
    holding = carry_t != constants.EMPTY

    is_fwd = action == constants.FORWARD
    is_door = ctype == constants.DOOR
    overlap = (
        (ctype == constants.EMPTY)
        | (ctype == constants.GOAL)
        | (ctype == constants.FLOOR)
        | (ctype == constants.LAVA)
    )
    overlap = overlap | (is_door & (cstate == constants.OPEN))
    moved = is_fwd & overlap
    new_pos = jnp.where(moved, fpos, pos)
    turn = jnp.where(action == constants.LEFT, 3, jnp.where(action == constants.RIGHT, 1, 0))
    new_dir = (d + turn) % 4

    pickable = (ctype == constants.KEY) | (ctype == constants.BALL) | (ctype == constants.BOX)
    picked = (action == constants.PICKUP) & pickable & ~holding
    dropped = (action == constants.DROP) & (ctype == constants.EMPTY) & holding
    toggle = action == constants.TOGGLE
    has_key = (carry_t == constants.KEY) & (carry_c == ccol)
    locked = cstate == constants.LOCKED
    door_toggled = toggle & is_door & (~locked | has_key)
    # A locked door opens with the matching key; otherwise open <-> closed.
    new_door_state = jnp.where(
        locked | (cstate == constants.CLOSED), constants.OPEN, constants.CLOSED
    ).astype(jnp.uint8)
    door_opened = door_toggled & (new_door_state == constants.OPEN)

    u8 = jnp.uint8
    empty_cell = jnp.array(constants.CELL_EMPTY, u8)
    drop_cell = jnp.stack([carry_t, carry_c, jnp.zeros((), u8)])
    new_cell = jnp.where(picked, empty_cell, cell)
    new_cell = jnp.where(dropped, drop_cell, new_cell)
    new_cell = jnp.where(door_toggled, jnp.stack([ctype, ccol, new_door_state]), new_cell)
    nothing = jnp.array(constants.NOTHING, u8)
    carrying = jnp.where(picked, cell[:2], jnp.where(dropped, nothing, state.carrying))
    # Toggling a box replaces it by its contents (or nothing).
    box_opened = toggle & (ctype == constants.BOX)
    contents, carrying_contents = state.contents, state.carrying_contents
    inside = state.contents[fy, fx] if boxes else nothing
    new_cell = jnp.where(box_opened, jnp.concatenate([inside, jnp.zeros((1,), u8)]), new_cell)
    if boxes:
        carrying_contents = jnp.where(picked, inside, jnp.where(dropped, nothing, carrying_contents))
        new_inside = jnp.where(
            dropped, state.carrying_contents, jnp.where(picked | box_opened, nothing, inside)
        )
        contents = write(contents, new_inside)
    grid = write(state.grid, new_cell)

    new_state = state.replace(
        time=state.time + 1,
        grid=grid,
        contents=contents,
        agent_pos=new_pos,
        agent_dir=new_dir,
        carrying=carrying,
        carrying_contents=carrying_contents,
    )
    events = Events(
        action=action,
        front_pos=fpos,
        front_cell=cell,
        moved=moved,
        reached_goal=is_fwd & (ctype == constants.GOAL),
        reached_lava=is_fwd & (ctype == constants.LAVA),
        picked_up=picked,
        dropped=dropped,
        door_opened=door_opened,
    )
    return new_state, events


def success_reward(time: jax.Array, max_steps) -> jax.Array:
    """MiniGrid's ``1 - 0.9 * step_count / max_steps`` (step_count already incremented)."""
    return 1.0 - 0.9 * (time.astype(jnp.float32) / jnp.asarray(max_steps, jnp.float32))


def reward_if(won: jax.Array, state: GridState, params) -> jax.Array:
    """MiniGrid's success reward where ``won`` (after the step), else 0."""
    return jnp.where(won, success_reward(state.time, params.max_steps_in_episode), 0.0)


def pickup_target_step(state: GridState, action: jax.Array, params, boxes: bool = False):
    """One step of a task won by picking up an object of kind ``state.target_obj`` (KeyCorridor,
    ObstructedMaze, UnlockPickup): ``(state, reward, terminated)``."""
    state, _ = core_step(state, action, boxes)
    won = (action == constants.PICKUP) & jnp.all(state.carrying == state.target_obj.astype(jnp.uint8))
    return state, reward_if(won, state, params), won
