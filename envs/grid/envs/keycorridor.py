"""KeyCorridor (``MiniGrid-KeyCorridorS*R*``): a corridor of rooms; the ball sits behind a locked door whose
key is in another room; 30 * room_size^2 steps.

MiniGrid then calls ``connect_all``: it adds unlocked doors of random colours between random neighbouring
rooms (never the locked one) until every room is reachable from the agent's. Each accepted draw is uniform over
the walls still allowed, so we draw from that set directly, one door per iteration of a fixed-length
``fori_loop`` that stops adding once everything is connected.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.dynamics import pickup_target_step
from jaxrl_suite.envs.grid.options import check_int
from jaxrl_suite.envs.grid.roomgrid import RoomGridEnv, remove_wall
from jaxrl_suite.envs.grid.state import ObjectTargetState


class KeyCorridor(RoomGridEnv):
    """MiniGrid's ``KeyCorridorEnv`` (3 columns of ``num_rows`` rooms). Mission: (ball colour, ball type)."""

    state_cls = ObjectTargetState
    mission_high = (5, 10)

    def __init__(self, num_rows: int = 3, room_size: int = 6, **options):
        self.rows = check_int("num_rows", num_rows, 1)
        self.room_size = check_int("room_size", room_size, 3)
        super().__init__(self.room_size, self.rows, 3, **options)
        # Edge list over rooms r = j * 3 + i: horizontal edges (i, j)-(i+1, j), then vertical (i, j)-(i, j+1).
        edges = [(j * 3 + i, j * 3 + i + 1) for j in range(self.rows) for i in range(2)]
        edges += [(j * 3 + i, (j + 1) * 3 + i) for j in range(self.rows - 1) for i in range(3)]
        self._edges = np.asarray(edges, np.int32)

    def default_max_steps(self) -> int:
        return 30 * self.room_size**2

    @functools.cached_property
    def fixed_grid(self):
        walls = self.rooms.walls
        for j in range(1, self.rows):  # the corridor: remove_wall(1, j, 3)
            walls = remove_wall(walls, self.rooms, 1, j, 3)
        return walls

    def generate(self, key, params):
        rows = self.rows
        n_edges = len(self._edges)
        rng = layout.Rand(key, 3 * n_edges + 8)
        h_pos, v_pos = self.rooms.door_positions(rng)
        edge_pos = jnp.concatenate([h_pos.reshape(-1, 2), v_pos.reshape(-1, 2)])
        grid = jnp.asarray(self.fixed_grid)
        # edge states: corridor openings, the locked door
        n_h = rows * 2
        opening = np.zeros(n_edges, bool)
        for j in range(1, rows):
            opening[n_h + (j - 1) * 3 + 1] = True
        room_idx = rng.int(0, rows)
        locked_edge = room_idx * 2 + 1  # h edge (1, room_idx)-(2, room_idx)
        color = rng.int(0, 6)
        grid = layout.put(
            grid, edge_pos[locked_edge], layout.cell_of(constants.DOOR, color, constants.LOCKED)
        )
        ball_color = rng.int(0, 6)
        ball = self.place_in_room(rng, grid, 2, room_idx)
        grid = layout.put(grid, ball, layout.cell_of(constants.BALL, ball_color))
        key_room = rng.int(0, rows)
        grid = layout.put(
            grid, self.place_in_room(rng, grid, 0, key_room), layout.cell_of(constants.KEY, color)
        )
        pos, d = self.place_agent(rng, grid, 1, rows // 2)
        grid = self.connect_all(rng, grid, edge_pos, opening, locked_edge, room_idx)
        mission = jnp.stack([ball_color, jnp.int32(constants.BALL)])
        target = jnp.stack([jnp.int32(constants.BALL), ball_color])
        return self.new_state(grid, pos, d, mission=mission, target_obj=target)

    def connect_all(self, rng: layout.Rand, grid, edge_pos, opening, locked_edge, locked_room_j):
        """MiniGrid's ``connect_all`` from the agent's room (1, rows // 2).

        Each added door is uniform over the walls still allowed, so the doors added are a uniformly ordered
        list of the allowed walls, cut at the first prefix that connects every room: we rank the allowed walls
        randomly, test all prefixes at once (reachability by repeated squaring of the room adjacency) and keep
        the shortest connecting one.
        """
        edges = jnp.asarray(self._edges)
        n_rooms, n_edges = 3 * self.rows, len(self._edges)
        locked_room = locked_room_j * 3 + 2
        linked = jnp.asarray(opening) | (jnp.arange(n_edges) == locked_edge)  # openings, the locked door
        allowed = ~linked & (edges[:, 0] != locked_room) & (edges[:, 1] != locked_room)
        order, u = rng.uniforms(n_edges), rng.uniforms(n_edges)
        rank = layout.ranks(jnp.where(allowed, order, 2.0))  # allowed walls first, in a uniform random order
        prefix = jnp.arange(n_edges + 1)[:, None]
        links = linked[None, :] | (allowed[None, :] & (rank[None, :] < prefix))  # [prefixes, edges]
        inc0 = jax.nn.one_hot(edges[:, 0], n_rooms, dtype=jnp.float32)  # [edges, rooms]
        inc1 = jax.nn.one_hot(edges[:, 1], n_rooms, dtype=jnp.float32)
        adj = jnp.einsum("pe,ea,eb->pab", links.astype(jnp.float32), inc0, inc1)
        reach = (adj + jnp.swapaxes(adj, 1, 2) + jnp.eye(n_rooms)) > 0
        for _ in range(int(np.ceil(np.log2(n_rooms))) if n_rooms > 1 else 0):
            m = reach.astype(jnp.float32)
            reach = jnp.einsum("pab,pbc->pac", m, m) > 0
        start = (self.rows // 2) * 3 + 1
        cut = jnp.argmax(jnp.all(reach[:, start, :], axis=1))  # the first prefix that connects all rooms
        added = allowed & (rank < cut)
        colors = jnp.where(added, layout.scale_int(u, 0, 6), -1)
        X, Y = layout.coords(self.rooms.height, self.rooms.width)
        at = (
            (X == edge_pos[:, 0, None, None])
            & (Y == edge_pos[:, 1, None, None])
            & (colors >= 0)[:, None, None]
        )
        color = jnp.sum(jnp.where(at, colors[:, None, None], 0), axis=0)
        cells = jnp.stack(
            [jnp.full_like(color, constants.DOOR), color, jnp.full_like(color, constants.CLOSED)], -1
        )
        return jnp.where(jnp.any(at, axis=0)[..., None], cells.astype(jnp.uint8), grid)

    def transition(self, key, state, action, params):
        return pickup_target_step(state, action, params)
