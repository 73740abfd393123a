"""Levels as data: a fixed-size pytree of MiniGrid cells and an agent pose, so a batch of levels vmaps.

A ``Level`` converts to and from MiniGrid's own encoding (``grid.encode()``: ``[width, height, 3]`` indexed
``[x][y]`` as (object, colour, state), plus ``agent_pos`` and ``agent_dir``), so levels move between this
suite and ``minigrid`` in either direction, and to and from ASCII for hand-made levels and debugging.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_suite.envs.grid import constants


@struct.dataclass
class Level:
    """One level: ``grid[y, x] = (type, colour, state)`` in MiniGrid's encoding, outer walls included; the
    agent's cell is empty underneath it. ``agent_pos`` is (x, y), ``agent_dir`` 0 right, 1 down, 2 left, 3 up."""

    grid: jax.Array  # uint8[H, W, 3]
    agent_pos: jax.Array  # int32[2]
    agent_dir: jax.Array  # int32

    @property
    def height(self) -> int:
        return int(self.grid.shape[-3])

    @property
    def width(self) -> int:
        return int(self.grid.shape[-2])

    @property
    def goal_pos(self) -> jax.Array:
        """(x, y) of the first goal cell in row-major order ((-1, -1) when there is none)."""
        is_goal = (self.grid[..., 0] == constants.GOAL).reshape(self.grid.shape[:-3] + (-1,))
        idx = jnp.argmax(is_goal, axis=-1)
        xy = jnp.stack([idx % self.width, idx // self.width], -1).astype(jnp.int32)
        return jnp.where(is_goal.any(-1)[..., None], xy, -1)


def make_level(grid: Any, agent_pos: Any, agent_dir: Any) -> Level:
    """A ``Level`` with the engine's dtypes."""
    return Level(
        jnp.asarray(grid, jnp.uint8), jnp.asarray(agent_pos, jnp.int32), jnp.asarray(agent_dir, jnp.int32)
    )


# ----------------------------------------------------------------------------------- MiniGrid's encoding
def to_minigrid(level: Level) -> dict:
    """``{"encoding": uint8[W, H, 3] (MiniGrid's ``grid.encode()``, [x][y]), "agent_pos", "agent_dir"}``."""
    return {
        "encoding": np.asarray(level.grid, np.uint8).transpose(1, 0, 2).copy(),
        "agent_pos": tuple(int(v) for v in np.asarray(level.agent_pos)),
        "agent_dir": int(level.agent_dir),
    }


def from_minigrid(encoding: Any, agent_pos: Any, agent_dir: Any) -> Level:
    """A ``Level`` from MiniGrid's ``grid.encode()`` array (``[x][y]``) and the agent's pose."""
    enc = np.asarray(encoding)
    if enc.ndim != 3 or enc.shape[-1] != 3:
        raise ValueError(f"a MiniGrid encoding is [width, height, 3], got shape {enc.shape}")
    w, h = enc.shape[:2]
    x, y = (int(v) for v in agent_pos)
    if not (0 <= x < w and 0 <= y < h):
        raise ValueError(f"agent_pos {(x, y)} lies outside the {w}x{h} grid")
    if not 0 <= int(agent_dir) < 4:
        raise ValueError(f"agent_dir must be in 0..3, got {agent_dir}")
    grid = enc.transpose(1, 0, 2).astype(np.uint8)
    # MiniGrid encodes an empty cell as (empty, 0, 0) and never puts the agent in the grid encoding
    return make_level(grid, (x, y), int(agent_dir))


# ----------------------------------------------------------------------------------- ASCII
#: One character per cell: ``#`` wall, ``.`` empty, ``G`` goal, ``L`` lava, ``>v<^`` the agent (facing
#: right, down, left, up) on an empty cell. JaxUED's maze prefabs use the same letters for walls, goal, agent.
ASCII_CELLS = {
    "#": constants.CELL_WALL,
    ".": constants.CELL_EMPTY,
    " ": constants.CELL_EMPTY,
    "G": constants.CELL_GOAL,
    "L": constants.CELL_LAVA,
}
ASCII_AGENT = ">v<^"


def from_ascii(text: str, border: bool | None = None) -> Level:
    """A level from rows of ASCII cells (blank lines and surrounding indentation ignored). ``border``:
    add the outer walls (default: only when some edge cell is not a wall, as in JaxUED's border-less
    prefabs)."""
    rows = [r.strip() for r in text.strip("\n").splitlines() if r.strip()]
    if not rows:
        raise ValueError("an ASCII level needs at least one row")
    if len({len(r) for r in rows}) != 1:
        raise ValueError(f"ASCII rows differ in length: {[len(r) for r in rows]}")
    agents = [(x, y) for y, r in enumerate(rows) for x, ch in enumerate(r) if ch in ASCII_AGENT]
    if len(agents) != 1:
        raise ValueError(
            f"an ASCII level needs exactly one agent (one of {ASCII_AGENT!r}), found {len(agents)}"
        )
    bad = sorted({ch for r in rows for ch in r if ch not in ASCII_CELLS and ch not in ASCII_AGENT})
    if bad:
        raise ValueError(f"unknown ASCII cell(s) {bad}; known: {sorted(ASCII_CELLS)} and {list(ASCII_AGENT)}")
    grid = np.array([[ASCII_CELLS.get(ch, constants.CELL_EMPTY) for ch in r] for r in rows], np.uint8)
    (x, y), d = agents[0], ASCII_AGENT.index(rows[agents[0][1]][agents[0][0]])
    walled = (grid[[0, -1], :, 0] == constants.WALL).all() and (grid[:, [0, -1], 0] == constants.WALL).all()
    if border if border is not None else not walled:
        grid = np.pad(grid, ((1, 1), (1, 1), (0, 0)))
        grid[[0, -1], :], grid[:, [0, -1]] = constants.CELL_WALL, constants.CELL_WALL
        x, y = x + 1, y + 1
    return make_level(grid, (x, y), d)


def to_ascii(level: Level) -> str:
    """The level as ASCII rows (``from_ascii`` inverts it); cells other than walls, empty, goal and lava have
    no letter: carry such levels in MiniGrid's encoding."""
    grid = np.asarray(level.grid)
    letter = {constants.WALL: "#", constants.EMPTY: ".", constants.GOAL: "G", constants.LAVA: "L"}
    x0, y0 = (int(v) for v in np.asarray(level.agent_pos))
    rows = []
    for y in range(grid.shape[0]):
        row = []
        for x in range(grid.shape[1]):
            t = int(grid[y, x, 0])
            if (x, y) == (x0, y0):
                row.append(ASCII_AGENT[int(level.agent_dir)])
            elif t in letter:
                row.append(letter[t])
            else:
                raise ValueError(
                    f"cell ({x}, {y}) holds a {constants.OBJECT_NAMES[t]}, which has no ASCII letter; use to_minigrid"
                )
        rows.append("".join(row))
    return "\n".join(rows)
