"""Shortest paths over agent poses, in the graph: solvability, the minimum number of actions and the optimal
return of any level, and the optimal action from any pose (the expert for demonstrations).

A pose is (direction, y, x); ``left``/``right`` turn in place and ``forward`` moves onto the cell ahead as
MiniGrid does (walls, keys, balls and boxes block; lava ends the episode, so a path never crosses it; a
closed door costs a ``toggle`` and then the ``forward``; a locked door blocks, unless the level's key is
held: ``pickup`` facing it moves the search to the key-held layer, where the door opens like a closed one). Distances to the goal are a
fixpoint of a ``lax.while_loop`` over all poses at once (no Python loop; the approach of JaxUED's
``MazeSolved``), so a batch of levels vmaps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants
from jaxrl_suite.envs.grid.level import Level

UNREACHABLE = np.int32(2**30)


def _ahead(a: jax.Array, fill) -> jax.Array:
    """``out[d, y, x] = a[d, y + dy_d, x + dx_d]`` (``fill`` beyond the border) for ``a[4, H, W]``."""
    h, w = a.shape[1:]
    p = jnp.pad(a, ((0, 0), (1, 1), (1, 1)), constant_values=fill)
    return jnp.stack([p[d, 1 + int(dy) : 1 + int(dy) + h, 1 + int(dx) : 1 + int(dx) + w]
                      for d, (dx, dy) in enumerate(constants.DIR_TO_VEC)])  # fmt: skip


def _entry_cost(grid: jax.Array, key_held: bool = False) -> jax.Array:
    """int32[H, W]: actions to move onto each cell from the cell behind it (UNREACHABLE if never); with the
    key held, a locked door opens like a closed one (toggle, then forward)."""
    t, s = grid[..., 0], grid[..., 2]
    open_ = (
        (t == constants.EMPTY)
        | (t == constants.GOAL)
        | (t == constants.FLOOR)
        | ((t == constants.DOOR) & (s == constants.OPEN))
    )
    closed_door = (t == constants.DOOR) & ((s == constants.CLOSED) | ((s == constants.LOCKED) & key_held))
    return jnp.where(open_, 1, jnp.where(closed_door, 2, UNREACHABLE)).astype(jnp.int32)


def _fixpoint(grid: jax.Array, d0: jax.Array, key_held: bool) -> jax.Array:
    """Relax ``d0`` (int32[4, H, W], 0 on goal poses, finite elsewhere where a pose reaches the goal some
    other way) over turns and forward moves until nothing changes."""
    goal = grid[..., 0] == constants.GOAL
    cost = _entry_cost(grid, key_held)
    standable = cost < UNREACHABLE
    enter = _ahead(jnp.broadcast_to(cost, (4,) + goal.shape), UNREACHABLE)  # cost of forward

    def relax(d):
        fwd = jnp.where(enter < UNREACHABLE, enter + _ahead(d, UNREACHABLE), UNREACHABLE)
        turn = jnp.minimum(jnp.roll(d, 1, axis=0), jnp.roll(d, -1, axis=0)) + 1
        best = jnp.minimum(d, jnp.minimum(fwd, turn))
        return jnp.where(goal[None] | ~standable[None], d, jnp.minimum(best, UNREACHABLE))

    def body(carry):
        d, _ = carry
        new = relax(d)
        return new, jnp.any(new != d)

    return jax.lax.while_loop(lambda c: c[1], body, (d0, jnp.bool_(True)))[0]


def layered_distances(level: Level) -> tuple[jax.Array, jax.Array]:
    """``(d_empty, d_key)``, int32[4, H, W] each: the fewest actions to the goal from each pose with empty
    hands and with the level's key held (picked up: its cell is then free, and locked doors open). With
    empty hands a pose facing the key may also ``pickup`` (one action) and go on with the key. Exact for
    levels with at most one key (a generated rooms level has one; MiniGrid's agent carries one object)."""
    grid = level.grid
    goal = grid[..., 0] == constants.GOAL
    at_goal = jnp.where(goal, 0, UNREACHABLE).astype(jnp.int32)[None].repeat(4, 0)
    is_key = grid[..., 0] == constants.KEY
    no_key = jnp.where(is_key[..., None], jnp.asarray(constants.CELL_EMPTY, jnp.uint8), grid)
    d_key = _fixpoint(no_key, at_goal, key_held=True)
    facing_key = _ahead(jnp.broadcast_to(is_key, (4,) + goal.shape), False)
    pickup = jnp.where(facing_key & (d_key < UNREACHABLE), d_key + 1, UNREACHABLE)
    d_empty = _fixpoint(grid, jnp.minimum(at_goal, pickup), key_held=False)
    return d_empty, d_key


def distances(level: Level) -> jax.Array:
    """int32[4, H, W]: the fewest actions from each pose (empty hands) to reaching the goal (UNREACHABLE
    when none); a key on the level is picked up on the way when that is shorter or the only way."""
    return layered_distances(level)[0]


def shortest_path(level: Level) -> jax.Array:
    """int32: the fewest MiniGrid actions from the start pose to the goal (UNREACHABLE when unsolvable)."""
    d = distances(level)
    return d[level.agent_dir, level.agent_pos[1], level.agent_pos[0]]


def solvable(level: Level) -> jax.Array:
    return shortest_path(level) < UNREACHABLE


def optimal_return(level: Level, max_steps) -> jax.Array:
    """MiniGrid's success reward ``1 - 0.9 * steps / max_steps`` along the shortest path (0 if none fits)."""
    n = shortest_path(level)
    return jnp.where(n <= max_steps, 1.0 - 0.9 * n / max_steps, 0.0)


def optimal_action(d: jax.Array, level: Level, state) -> jax.Array:
    """An action on a shortest path from a state of ``level``, given ``distances(level)``: forward when it
    gets closer (toggle first while the door ahead is still closed in ``state.grid``), else the turn towards
    the nearer direction. For levels without keys (the planner does not pick keys up)."""
    x, y, direction = state.agent_pos[0], state.agent_pos[1], state.agent_dir
    here = d[direction, y, x]
    dx, dy = jnp.asarray(constants.DIR_TO_VEC)[direction]
    cost = _entry_cost(level.grid)[y + dy, x + dx]  # as the distances were computed
    forward_ok = (cost < UNREACHABLE) & (d[direction, y + dy, x + dx] + cost == here)
    ahead = state.grid[y + dy, x + dx]
    closed = (ahead[0] == constants.DOOR) & (ahead[2] == constants.CLOSED)
    turn = jnp.where(d[(direction + 3) % 4, y, x] + 1 == here, constants.LEFT, constants.RIGHT)
    return jnp.where(forward_ok, jnp.where(closed, constants.TOGGLE, constants.FORWARD), turn).astype(
        jnp.int32
    )
