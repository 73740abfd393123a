"""Level-generation helpers: masked uniform sampling and drawing on a cell grid (draws: ``jaxrl_suite.hashrng``).

MiniGrid places objects by rejection sampling (``place_obj``: uniform position in a rectangle, retried while
the cell is occupied, is the agent's, or fails a ``reject_fn``). Accepted draws are uniform over the valid
cells, so we sample that set directly: the argmax of hashed per-cell noise over a boolean mask. No loops,
fixed shapes, the same distribution, and one fused reduction per placement (cheap to compile: each XLA CPU
kernel costs tens of milliseconds of compile time).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants
from jaxrl_suite.hashrng import (  # noqa: F401  (the level generators' random stream, re-exported)
    Rand,
    hash32,
    hash_words,
    key_seed,
    masked_choice,
    materialize,
    scale_int,
    to_uniform,
)


def prefix_count(x: jax.Array) -> jax.Array:
    """Inclusive prefix sums of a short int32 vector as one compare-and-reduce (no scan op: cheap to compile)."""
    n = x.shape[-1]
    tri = jnp.asarray(np.tri(n, dtype=bool).T)  # tri[i, j] = i <= j
    return jnp.sum(jnp.where(tri, x[..., :, None], 0), axis=-2)


def ranks(u: jax.Array) -> jax.Array:
    """Rank of each entry of u (ties broken by index): a uniform random permutation's inverse for iid u."""
    n = u.shape[-1]
    i = jnp.arange(n)
    before = (u[None, :] < u[:, None]) | ((u[None, :] == u[:, None]) & (i[None, :] < i[:, None]))
    return jnp.sum(before, axis=1).astype(jnp.int32)


def permutation(u: jax.Array) -> jax.Array:
    """A uniform random permutation of range(len(u)) from iid uniforms (small n; no sort op)."""
    r = ranks(u)
    n = u.shape[-1]
    return jnp.sum(jnp.where(r[None, :] == jnp.arange(n)[:, None], jnp.arange(n)[None, :], 0), axis=1)


def coords(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Static (X, Y) index planes of an h x w grid."""
    y, x = np.mgrid[0:h, 0:w]
    return x.astype(np.int32), y.astype(np.int32)


def flat_to_xy(idx: jax.Array, w: int) -> jax.Array:
    """int32[2] (x, y) of a flat index into a row-major [H, W] grid."""
    return jnp.stack([idx % w, idx // w]).astype(jnp.int32)


def empty_grid(h: int, w: int) -> np.ndarray:
    """uint8[H, W, 3] of empty cells."""
    return np.broadcast_to(np.array(constants.CELL_EMPTY, np.uint8), (h, w, 3)).copy()


def np_wall_rect(grid: np.ndarray, x: int, y: int, w: int, h: int, cell=constants.CELL_WALL) -> np.ndarray:
    """MiniGrid's ``Grid.wall_rect`` on a static numpy grid (in place; returns it)."""
    grid[y, x : x + w] = cell
    grid[y + h - 1, x : x + w] = cell
    grid[y : y + h, x] = cell
    grid[y : y + h, x + w - 1] = cell
    return grid


def rect_mask(h: int, w: int, x0, y0, x1, y1) -> jax.Array:
    """bool[H, W]: x0 <= x < x1 and y0 <= y < y1 (bounds may be traced)."""
    X, Y = coords(h, w)
    return (X >= x0) & (X < x1) & (Y >= y0) & (Y < y1)


def put(grid: jax.Array, pos: jax.Array, cell) -> jax.Array:
    """Write one cell (uint8[3] or a tuple) at pos = (x, y); a select, so consecutive writes fuse."""
    h, w = grid.shape[:2]
    X, Y = coords(h, w)
    return put_where(grid, (X == pos[0]) & (Y == pos[1]), cell)


def put_where(grid: jax.Array, mask: jax.Array, cell) -> jax.Array:
    """Write ``cell`` on every True cell of ``mask``."""
    return jnp.where(mask[..., None], jnp.asarray(cell, jnp.uint8), grid)


def cell_of(t, c, s=0) -> jax.Array:
    """uint8[3] from traced (type, colour, state)."""
    return jnp.stack([jnp.asarray(t), jnp.asarray(c), jnp.asarray(s)]).astype(jnp.uint8)


def free_mask(grid: jax.Array) -> jax.Array:
    """bool[H, W]: empty cells (MiniGrid: ``grid.get(x, y) is None``)."""
    return grid[..., 0] == constants.EMPTY


def not_at(h: int, w: int, pos: jax.Array) -> jax.Array:
    """bool[H, W]: every cell except pos."""
    X, Y = coords(h, w)
    return (X != pos[0]) | (Y != pos[1])


def place(rng: Rand, grid: jax.Array, region: jax.Array, agent_pos: jax.Array | None = None) -> jax.Array:
    """MiniGrid's ``place_obj`` position: uniform over empty cells of ``region`` other than the agent's."""
    h, w = grid.shape[:2]
    mask = region & free_mask(grid)
    if agent_pos is not None:
        mask = mask & not_at(h, w, agent_pos)
    return flat_to_xy(rng.choice(mask), w)


def front_types(grid: jax.Array) -> jax.Array:
    """int[H, W, 4]: type of the cell in front of each cell for each direction (walls beyond the border)."""
    t = jnp.pad(grid[..., 0], 1, constant_values=constants.WALL)
    h, w = grid.shape[:2]
    return jnp.stack(
        [t[1 + int(dy) : 1 + int(dy) + h, 1 + int(dx) : 1 + int(dx) + w] for dx, dy in constants.DIR_TO_VEC],
        -1,
    )


def place_agent_pose(rng: Rand, grid: jax.Array, region: jax.Array) -> tuple[jax.Array, jax.Array]:
    """MiniGrid's ``place_agent`` (random direction): uniform empty cell of ``region``, uniform direction."""
    pos = place(rng, grid, region)
    return pos, rng.int(0, 4)


def walled_room(h: int, w: int, goal: tuple[int, int] | None = None) -> np.ndarray:
    """uint8[H, W, 3]: MiniGrid's ``wall_rect(0, 0, w, h)`` around empty cells, with a goal at (x, y) if given."""
    grid = np_wall_rect(empty_grid(h, w), 0, 0, w, h)
    if goal is not None:
        grid[goal[1], goal[0]] = constants.CELL_GOAL
    return grid


def distinct_pair(rng: Rand, n) -> tuple[jax.Array, jax.Array]:
    """Two distinct uniform indices below ``n`` (the second uniform over the rest): MiniGrid's place-then-place
    on one free region, in closed form."""
    first, second = rng.int(0, n), rng.int(0, n - 1)
    return first, second + (second >= first)


def two_cells_in_rect(rng: Rand, top: tuple[int, int], cols, rows):
    """Two distinct uniform cells, as (x, y) tuples, of an empty ``cols x rows`` rectangle at ``top``: MiniGrid's
    ``place_agent`` then ``place_obj`` there, in closed form."""
    first, second = distinct_pair(rng, cols * rows)
    return (top[0] + first % cols, top[1] + first // cols), (top[0] + second % cols, top[1] + second // cols)


def computed_once(*values: jax.Array) -> list[jax.Array]:
    """The values (int32 scalars and vectors), each computed once per level rather than once per grid cell
    that reads it: one ``materialize`` of them all (XLA:CPU would otherwise fuse them into every cell)."""
    if all(jnp.ndim(v) == 0 for v in values):
        return list(materialize(jnp.stack(values)))
    shapes = [jnp.shape(v) for v in values]
    flat = materialize(jnp.concatenate([jnp.reshape(v, (-1,)) for v in values]))
    out, i = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append(flat[i : i + n].reshape(shape))
        i += n
    return out


def vert_wall(grid, x, cell=constants.CELL_WALL) -> jax.Array:
    """MiniGrid's ``vert_wall(x, 0)``: column x, top to bottom, set to ``cell``."""
    columns, _ = coords(*grid.shape[:2])
    return put_where(grid, columns == x, cell)
