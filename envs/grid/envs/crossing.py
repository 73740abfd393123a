"""Crossings (``MiniGrid-{Lava,Simple}CrossingS*N*``): rivers of lava or wall, each with one crossing point.

MiniGrid shuffles the candidate rivers (every other row and column), keeps ``num_crossings``, then opens one
gap per river along a random monotone path of room-to-room moves (right across vertical rivers, down across
horizontal ones). Here: a random permutation picks the rivers, another orders the moves, and a ``lax.scan``
walks the path; the k-th chosen river of each kind is found by a prefix count, so shapes stay fixed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv, check_int


class Crossing(GridEnv):
    """MiniGrid's ``CrossingEnv``: start (1, 1) facing right, goal at (size - 2, size - 2); 4 * size^2 steps."""

    min_size = 5
    corner_goal = True

    def __init__(self, size: int = 9, num_crossings: int = 1, obstacle: str = "lava", **options):
        super().__init__(size, **options)
        if self.size % 2 != 1:
            raise ValueError(f"size must be odd (MiniGrid's CrossingEnv), got {self.size}")
        if obstacle not in ("lava", "wall"):
            raise ValueError(f"obstacle must be 'lava' or 'wall', got {obstacle!r}")
        self.candidates = np.arange(2, self.size - 2, 2, dtype=np.int32)  # river coordinates, each direction
        self.num_crossings = check_int("num_crossings", num_crossings, 1, 2 * len(self.candidates))
        self.obstacle = obstacle
        self.obstacle_cell = constants.CELL_LAVA if obstacle == "lava" else constants.CELL_WALL

    def generate(self, key, params):
        s, n, k = self.size, len(self.candidates), self.num_crossings
        rng = layout.Rand(key, 2 * n + 2 * k)
        cand = jnp.asarray(self.candidates)
        # rivers: the first k of a uniform permutation of [vertical candidates..., horizontal candidates...]
        chosen = layout.ranks(rng.uniforms(2 * n)) < k
        vert, horz = chosen[:n], chosen[n:]  # vertical rivers sit at x = cand, horizontal at y = cand
        nv, nh = jnp.sum(vert), jnp.sum(horz)

        def limit(sel, count, idx):
            """[0] + sorted chosen coords + [s - 1], at traced position idx."""
            rank = layout.prefix_count(sel.astype(jnp.int32)) - 1
            kth = jnp.sum(jnp.where(sel & (rank == idx - 1), cand, 0))
            return jnp.where(idx == 0, 0, jnp.where(idx > count, s - 1, kth))

        # path: nv moves right (across vertical rivers) and nh moves down, in uniformly random order
        rights = layout.ranks(rng.uniforms(k)) < nv
        picks = rng.uniforms(k)

        def move(carry, xs):
            ri, rj = carry
            right, u = xs
            x_lo, x_hi = limit(vert, nv, ri), limit(vert, nv, ri + 1)
            y_lo, y_hi = limit(horz, nh, rj), limit(horz, nh, rj + 1)
            gx = jnp.where(right, x_hi, layout.scale_int(u, x_lo + 1, x_hi))
            gy = jnp.where(right, layout.scale_int(u, y_lo + 1, y_hi), y_hi)
            return (ri + right, rj + ~right), jnp.stack([gx, gy])

        _, gaps = jax.lax.scan(move, (jnp.int32(0), jnp.int32(0)), (rights, picks))
        X, Y = layout.coords(s, s)
        inner = (X >= 1) & (X <= s - 2) & (Y >= 1) & (Y <= s - 2)
        river = jnp.any(vert[:, None, None] & (X[None] == cand[:, None, None]), 0) | jnp.any(
            horz[:, None, None] & (Y[None] == cand[:, None, None]), 0
        )
        gap = jnp.any((X[None] == gaps[:, 0, None, None]) & (Y[None] == gaps[:, 1, None, None]), 0)
        grid = layout.put_where(jnp.asarray(self.fixed_grid), inner & river & ~gap, self.obstacle_cell)
        return self.new_state(grid, (1, 1), 0)
