"""MultiRoom (``MiniGrid-MultiRoom-*``): a chain of rooms joined by closed doors; reach the goal in the last
room; 20 * max_num_rooms steps.

MiniGrid grows a chain room by room (``_placeRoom``): each next room gets up to 8 tries (random exit wall and
door on the current room, random size, random offset), accepted if inside the grid and clear of every earlier
room but the current one; the chain stops at the first room whose 8 tries all fail. Whole chains are redrawn
until one has ``num_rooms`` rooms, so a level is a chain conditioned on reaching full length.

In fixed shapes: a ``lax.scan`` over room slots grows ``chains`` chains at once, with the 8 tries of a step
drawn in parallel and the first valid one taken (the same law as trying them in turn); a ``lax.while_loop``
redraws the batch of chains until at least one is complete and keeps the first complete one, which is exactly
MiniGrid's first complete chain. With 32 chains per round the loop almost always runs once (N6, MiniGrid's
hardest: 4.7 chains per level on average, so a round fails with probability about 5e-4).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.base import GridEnv, check_int

TRIES = 8
MIN_SIZE = 4
# sorted({0, 1, 2, 3} - {entry wall}): the three exit walls MiniGrid may pick, per entry wall
_EXITS = np.array([[w for w in range(4) if w != e] for e in range(4)], np.int32)


class MultiRoom(GridEnv):
    """MiniGrid's ``MultiRoomEnv`` on its default 25x25 grid (cells outside rooms stay empty)."""

    min_size = MIN_SIZE + 2

    def __init__(
        self,
        min_num_rooms: int = 6,
        max_num_rooms: int = 6,
        max_room_size: int = 10,
        size: int = 25,
        chains: int = 32,
        **options,
    ):
        super().__init__(size, **options)
        self.min_rooms = check_int("min_num_rooms", min_num_rooms, 1)
        self.max_rooms = check_int("max_num_rooms", max_num_rooms, self.min_rooms)
        self.max_room_size = check_int("max_room_size", max_room_size, MIN_SIZE)
        self.chains = check_int("chains", chains, 1)

    def default_max_steps(self) -> int:
        return 20 * self.max_rooms

    # ------------------------------------------------------------------ the chain of rooms
    def _draw_chains(self, seed, salt, num_rooms):
        """``chains`` independent chains: rooms int32[M, R, 6] = (top x, top y, size x, size y, entry door x,
        entry door y) with R = max_num_rooms (door only for k >= 1), and the rooms placed, int32[M]."""
        m, r, w, h, mx = self.chains, self.max_rooms, self.size, self.size, self.max_room_size
        u0 = layout.to_uniform(layout.hash_words(seed, (m, 4), 2 * salt))
        u = layout.to_uniform(layout.hash_words(seed, (r - 1, m, TRIES, 5), 2 * salt + 1))
        ex, ey = layout.scale_int(u0[:, 0], 0, w - 2), layout.scale_int(u0[:, 1], 0, w - 2)
        sx, sy = layout.scale_int(u0[:, 2], MIN_SIZE, mx + 1), layout.scale_int(u0[:, 3], MIN_SIZE, mx + 1)
        first_ok = (ex + sx <= w) & (ey + sy < h)
        zero = jnp.zeros_like(ex)
        rooms = jnp.zeros((m, r, 6), jnp.int32).at[:, 0].set(jnp.stack([ex, ey, sx, sy, zero, zero], -1))
        slot = jnp.arange(r)
        rows = jnp.arange(m)

        def grow(carry, xs):
            rooms, status = carry  # status: (rooms placed, entry wall of the last one, still growing)
            k, uk = xs  # placing room k (k >= 1); uk: [M, TRIES, 5]
            count, entry_wall, alive = status[:, 0], status[:, 1], status[:, 2] > 0
            prev = rooms[rows, count - 1][:, None, :]  # [M, 1, 6]
            px, py, psx, psy = prev[..., 0], prev[..., 1], prev[..., 2], prev[..., 3]
            exit_wall = jnp.asarray(_EXITS)[entry_wall[:, None], layout.scale_int(uk[..., 0], 0, 3)]  # [M, T]
            along = lambda n: layout.scale_int(uk[..., 1], 1, n - 1)  # noqa: E731  exit door offset
            door_x = jnp.select([exit_wall == 0, exit_wall == 2], [px + psx - 1, px], px + along(psx))
            door_y = jnp.select([exit_wall == 1, exit_wall == 3], [py + psy - 1, py], py + along(psy))
            nsx = layout.scale_int(uk[..., 2], MIN_SIZE, mx + 1)
            nsy = layout.scale_int(uk[..., 3], MIN_SIZE, mx + 1)
            nxt = (exit_wall + 2) % 4  # the new room's entry wall
            off_y = layout.scale_int(uk[..., 4], door_y - nsy + 2, door_y)
            off_x = layout.scale_int(uk[..., 4], door_x - nsx + 2, door_x)
            top_x = jnp.select([nxt == 0, nxt == 2], [door_x - nsx + 1, door_x], off_x)
            top_y = jnp.select([nxt == 1, nxt == 3], [door_y - nsy + 1, door_y], off_y)
            ok = (top_x >= 0) & (top_y >= 0) & (top_x + nsx <= w) & (top_y + nsy < h)
            # clear of rooms 0 .. count - 2 (every placed room but the current one)
            ox, oy, osx, osy = (rooms[:, None, :, i] for i in range(4))  # [M, 1, R]
            tx, ty, tsx, tsy = top_x[..., None], top_y[..., None], nsx[..., None], nsy[..., None]
            apart = (tx + tsx < ox) | (ox + osx <= tx) | (ty + tsy < oy) | (oy + osy <= ty)
            earlier = slot[None, None, :] < (count - 1)[:, None, None]
            ok = ok & jnp.all(apart | ~earlier, axis=-1)
            placed = alive & jnp.any(ok, axis=1) & (k < num_rooms)
            cand = jnp.stack([top_x, top_y, nsx, nsy, door_x, door_y, nxt], -1)  # [M, T, 7]
            chosen = cand[rows, jnp.argmax(ok, axis=1)]  # the first valid try
            at = (slot[None, :] == k) & placed[:, None]
            rooms = jnp.where(at[..., None], chosen[:, None, :6], rooms)
            status = jnp.stack([count + placed, jnp.where(placed, chosen[:, 6], entry_wall), placed], -1)
            return (rooms, status.astype(jnp.int32)), None

        status = jnp.stack([first_ok, jnp.full((m,), 2), first_ok], -1).astype(jnp.int32)
        (rooms, status), _ = jax.lax.scan(grow, (rooms, status), (jnp.arange(1, r), u))
        return rooms, status[:, 0]

    def rooms(self, seed, num_rooms):
        """MiniGrid's first complete chain: (tops, sizes, entry doors), each int32[R, 2]."""
        r = self.max_rooms

        def draw(carry):
            it = carry[0]
            rooms, count = self._draw_chains(seed, it, num_rooms)
            full = count == num_rooms
            return it + 1, jnp.any(full), rooms[jnp.argmax(full)]

        init = (jnp.int32(0), jnp.asarray(False), jnp.zeros((r, 6), jnp.int32))
        rooms = jax.lax.while_loop(lambda c: ~c[1], draw, init)[2]
        return rooms[:, 0:2], rooms[:, 2:4], rooms[:, 4:6]

    # ------------------------------------------------------------------ the level
    def generate(self, key, params):
        s, r = self.size, self.max_rooms
        rng = layout.Rand(key, 6 + r)
        num_rooms = rng.int(self.min_rooms, self.max_rooms + 1)
        tops, sizes, doors = self.rooms(rng.words(1)[0], num_rooms)
        X, Y = layout.coords(s, s)
        live = jnp.arange(r) < num_rooms
        x0, y0 = tops[:, 0, None, None], tops[:, 1, None, None]
        x1, y1 = x0 + sizes[:, 0, None, None] - 1, y0 + sizes[:, 1, None, None] - 1
        inside = (X >= x0) & (X <= x1) & (Y >= y0) & (Y <= y1)
        border = inside & ((X == x0) | (X == x1) | (Y == y0) | (Y == y1)) & live[:, None, None]
        # No room's walls cover another room's door (later rooms only share the wall they attach to, and
        # doors are never on corners), so all walls then all doors equals MiniGrid's room-by-room drawing.
        grid = layout.put_where(
            jnp.asarray(layout.empty_grid(s, s)), jnp.any(border, axis=0), constants.CELL_WALL
        )
        # door colours: uniform, then each uniform over the colours other than the previous door's
        steps = layout.scale_int(rng.uniforms(r), 1, 6).at[0].set(0)
        first = layout.scale_int(rng.uniform(), 0, 6)
        colors = (first + layout.prefix_count(steps)) % 6
        at_door = (X == doors[:, 0, None, None]) & (Y == doors[:, 1, None, None]) & live[:, None, None]
        at_door = at_door & (jnp.arange(r) > 0)[:, None, None]
        color = jnp.sum(jnp.where(at_door, colors[:, None, None], 0), axis=0)
        doors_cells = jnp.stack(
            [jnp.full_like(color, constants.DOOR), color, jnp.full_like(color, constants.CLOSED)], -1
        )
        grid = jnp.where(jnp.any(at_door, axis=0)[..., None], doors_cells.astype(jnp.uint8), grid)
        last = num_rooms - 1
        first_room = inside[0]
        last_room = jnp.any(inside & (jnp.arange(r) == last)[:, None, None], axis=0)
        pos, d = layout.place_agent_pose(rng, grid, first_room)
        grid = layout.put(grid, layout.place(rng, grid, last_room, pos), constants.CELL_GOAL)
        return self.new_state(grid, pos, d)
