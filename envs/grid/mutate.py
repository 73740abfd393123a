"""ACCEL's level edits (Parker-Holder et al. 2022, "Evolving Curricula with Regret-Based Environment Design"):
a fixed number of random edits per mutation, each one of add a wall, remove a wall, move the goal, move the
agent, in ``lax.scan`` with ``lax.switch`` (fixed shapes, so batches of levels vmap).

Every edit keeps the level valid: outer walls untouched, exactly one goal, the agent on an empty cell. An edit
that would break that (a wall on the agent or the goal, no wall to remove) leaves the level as it was.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants
from jaxrl_suite.envs.grid.level import Level

EDITS = ("add_wall", "remove_wall", "move_goal", "move_agent")


def _interior(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[1:-1, 1:-1] = True
    return m


def _pick(key: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A uniform cell (x, y) of ``mask`` and whether there was one."""
    w = mask.shape[1]
    idx = jnp.argmax(jnp.where(mask.reshape(-1), jax.random.uniform(key, (mask.size,)), -1.0))
    return jnp.stack([idx % w, idx // w]).astype(jnp.int32), mask.any()


def _cell(grid, pos, cell, ok):
    return grid.at[pos[1], pos[0]].set(jnp.where(ok, jnp.asarray(cell, jnp.uint8), grid[pos[1], pos[0]]))


def _free(level: Level) -> jax.Array:
    """Interior empty cells other than the agent's."""
    h, w = level.grid.shape[:2]
    free = (level.grid[..., 0] == constants.EMPTY) & _interior(h, w)
    return free.at[level.agent_pos[1], level.agent_pos[0]].set(False)


def add_wall(level: Level, key: jax.Array) -> Level:
    pos, ok = _pick(key, _free(level))
    return level.replace(grid=_cell(level.grid, pos, constants.CELL_WALL, ok))


def remove_wall(level: Level, key: jax.Array) -> Level:
    h, w = level.grid.shape[:2]
    pos, ok = _pick(key, (level.grid[..., 0] == constants.WALL) & _interior(h, w))
    return level.replace(grid=_cell(level.grid, pos, constants.CELL_EMPTY, ok))


def move_goal(level: Level, key: jax.Array) -> Level:
    pos, ok = _pick(key, _free(level))
    grid = jnp.where(
        ((level.grid[..., 0] == constants.GOAL) & ok)[..., None],
        jnp.asarray(constants.CELL_EMPTY, jnp.uint8),
        level.grid,
    )
    return level.replace(grid=_cell(grid, pos, constants.CELL_GOAL, ok))


def move_agent(level: Level, key: jax.Array) -> Level:
    k_pos, k_dir = jax.random.split(key)
    pos, ok = _pick(k_pos, _free(level))
    return level.replace(
        agent_pos=jnp.where(ok, pos, level.agent_pos),
        agent_dir=jnp.where(ok, jax.random.randint(k_dir, (), 0, 4), level.agent_dir),
    )


_FNS = (add_wall, remove_wall, move_goal, move_agent)


def mutate(level: Level, key: jax.Array, num_edits: int = 5) -> Level:
    """``num_edits`` uniform random edits applied in turn (ACCEL's mutation)."""

    def edit(level, k):
        k_kind, k_edit = jax.random.split(k)
        kind = jax.random.randint(k_kind, (), 0, len(_FNS))
        return jax.lax.switch(kind, _FNS, level, k_edit), kind

    level, _ = jax.lax.scan(edit, level, jax.random.split(key, num_edits))
    return level
