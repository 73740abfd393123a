"""Grid-world state and params: dense fixed-shape arrays, so a batch of levels is one pytree of arrays."""

from __future__ import annotations

import jax
from flax import struct

from jaxrl_suite.env import EnvParams


@struct.dataclass
class GridState:
    """One level in play.

    ``grid[y, x] = (type, colour, state)`` uses MiniGrid's encoding (empty cells are ``(1, 0, 0)``);
    ``contents[y, x] = (type, colour)`` is what a box at (x, y) holds (``(1, 0)``: nothing); families whose boxes
    are always empty keep a zero-size ``uint8[0, 0, 2]`` there. ``carrying``
    and ``carrying_contents`` are the held object and, for a box, its contents (``(1, 0)``: nothing).
    ``mission`` holds the mission's placeholder indices (empty for fixed missions).
    """

    time: jax.Array  # int32: steps taken in this episode (MiniGrid's step_count)
    grid: jax.Array  # uint8[H, W, 3]
    contents: jax.Array  # uint8[H, W, 2], or uint8[0, 0, 2] without box contents
    agent_pos: jax.Array  # int32[2], (x, y)
    agent_dir: jax.Array  # int32 in 0..3
    carrying: jax.Array  # uint8[2]
    carrying_contents: jax.Array  # uint8[2]
    mission: jax.Array  # int32[M]


@struct.dataclass
class CellTargetState(GridState):
    """State of tasks about one cell: stand beside it (GoToDoor, GoToObject) or open the door there (Unlock)."""

    target_pos: jax.Array  # int32[2]: (x, y)


@struct.dataclass
class ObjectTargetState(GridState):
    """State of tasks won by picking up one kind of object (Fetch, KeyCorridor, ObstructedMaze, UnlockPickup)."""

    target_obj: jax.Array  # int32[2]: (type, colour)


@struct.dataclass
class GridParams(EnvParams):
    """Dynamic params: the episode limit, which is also MiniGrid's ``max_steps`` in the success reward."""

    max_steps_in_episode: int = 100
