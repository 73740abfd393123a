"""Observations exactly as MiniGrid builds them: egocentric view, occlusion (``Grid.process_vis``), carried object.

Peers approximate this: XLand-MiniGrid's view sees through walls, and NAVIX's view cone differed from
``process_vis`` on 3.44% of cells in FourRooms (NAVIX issue #221); ours is tested equal to MiniGrid's.

The view is one gather from a static offset table (per direction, the world offset of each view cell), so no
padding, rotation or ``roll`` of the grid is needed (NAVIX's roll-based crop collapses on CPU). Occlusion runs
on bit rows: each view row is a ``V``-bit integer, and MiniGrid's left-to-right and right-to-left sweeps
become prefix fills done in ``ceil(log2 V)`` shift steps (Kogge-Stone), row by row from the agent's row
upwards, reproducing MiniGrid's asymmetric rules (the diagonal step right uses the mask after the
left-to-right sweep only).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants


def view_offsets(view_size: int) -> np.ndarray:
    """int32[4, V, V, 2]: world offset (dx, dy) of view cell (vx, vy) for each agent direction."""
    hs = view_size // 2
    out = np.zeros((4, view_size, view_size, 2), np.int32)
    for d in range(4):
        f = constants.DIR_TO_VEC[d]
        r = np.array([-f[1], f[0]])
        for vx in range(view_size):
            for vy in range(view_size):
                out[d, vx, vy] = f * (view_size - 1 - vy) + r * (vx - hs)
    return out


def egocentric_view(grid: jax.Array, pos: jax.Array, direction: jax.Array, offsets: jax.Array) -> jax.Array:
    """uint8[V, V, 3] of world cells, indexed [vx, vy] like MiniGrid's ``obs["image"]``; outside: grey wall."""
    h, w = grid.shape[:2]
    off = offsets[direction]
    x = pos[0] + off[..., 0]
    y = pos[1] + off[..., 1]
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    cells = grid[jnp.clip(y, 0, h - 1), jnp.clip(x, 0, w - 1)]
    return jnp.where(inside[..., None], cells, jnp.array(constants.CELL_WALL, jnp.uint8))


def see_behind(cells: jax.Array) -> jax.Array:
    """MiniGrid's ``see_behind``: false for walls and for closed or locked doors."""
    t, s = cells[..., 0], cells[..., 2]
    return ~((t == constants.WALL) | ((t == constants.DOOR) & (s != constants.OPEN)))


def _fill(seed: jax.Array, through: jax.Array, up: bool, n: int) -> jax.Array:
    """Spread set bits of ``seed`` along runs of ``through`` (towards higher bits if ``up``), n-bit rows."""
    g, p, d = seed, through, 1
    while d < n:
        if up:
            g = g | ((g & p) << d)
            p = p & (p >> d)
        else:
            g = g | ((g & p) >> d)
            p = p & (p << d)
        d *= 2
    return g & ((1 << n) - 1)


def visibility(view: jax.Array) -> jax.Array:
    """bool[V, V]: MiniGrid's ``process_vis`` for the agent at (V // 2, V - 1), facing up the view.

    The row recursion runs as a ``lax.scan`` so its per-row results are materialised once: XLA's CPU loop
    fusion would otherwise recompute the whole chain for each of the V * V output cells.
    """
    n = view.shape[0]
    bit = jnp.left_shift(1, jnp.arange(n, dtype=jnp.int32))
    rows = jnp.sum(jnp.where(see_behind(view), bit[:, None], 0), axis=0)  # int32[V], bit vx of row vy
    full = (1 << n) - 1
    low = full >> 1  # positions 0..n-2 (swept left-to-right)
    high = full & ~1  # positions 1..n-1 (swept right-to-left)

    def row(m, sb):
        m_fwd = _fill(m, sb, True, n)
        m_all = _fill(m_fwd, sb, False, n)
        pf = m_fwd & sb & low
        pr = m_all & sb & high
        return ((pf << 1) | pf | (pr >> 1) | pr) & full, m_all

    _, mask_rows = jax.lax.scan(row, jnp.asarray(1 << (n // 2), jnp.int32), rows, reverse=True)
    return (mask_rows[None, :] & bit[:, None]) != 0


def partial_image(
    grid: jax.Array,
    pos: jax.Array,
    direction: jax.Array,
    carrying: jax.Array,
    offsets: jax.Array,
    see_through_walls: bool,
) -> jax.Array:
    """MiniGrid's ``gen_obs()["image"]``: uint8[V, V, 3]."""
    view = egocentric_view(grid, pos, direction, offsets)
    n = view.shape[0]
    if not see_through_walls:
        view = jnp.where(visibility(view)[..., None], view, jnp.uint8(0))
    held = jnp.concatenate([carrying, jnp.zeros((1,), jnp.uint8)])
    return view.at[n // 2, n - 1].set(held)


def full_image(grid: jax.Array, pos: jax.Array, direction: jax.Array) -> jax.Array:
    """MiniGrid's ``FullyObsWrapper`` image: uint8[W, H, 3], the agent as (agent, red, direction)."""
    img = jnp.swapaxes(grid, 0, 1)
    agent = jnp.stack([jnp.uint8(constants.AGENT), jnp.uint8(constants.RED), direction.astype(jnp.uint8)])
    return img.at[pos[0], pos[1]].set(agent)
