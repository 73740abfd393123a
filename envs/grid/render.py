"""RGB rendering by gather from a tile atlas drawn once in numpy, reproducing MiniGrid's ``Grid.render_tile``.

Tiles are drawn like MiniGrid's: shapes filled at 3x supersampling (pixel centres tested against the same
rectangle / circle / line / triangle predicates, with the same float32/float64 arithmetic), optional
highlight blend, then a 3x3 mean truncated to uint8. The atlas holds every valid (type, colour, state) cell,
plain and highlighted, plus the agent (four directions) over every cell the agent can stand on; ``render_grid``
is then one gather and a reshape, usable inside ``jit`` (e.g. to record videos from a scanned rollout).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.grid import constants

SUBDIVS = 3
_BLACK = (0, 0, 0)


def _code(t: int, c: int, s: int) -> int:
    return t * 18 + c * 3 + s


def _valid_cells() -> list[tuple[int, int, int]]:
    cells = [(constants.UNSEEN, 0, 0), constants.CELL_EMPTY]
    for t in (
        constants.WALL,
        constants.FLOOR,
        constants.KEY,
        constants.BALL,
        constants.BOX,
        constants.GOAL,
        constants.LAVA,
    ):
        cells += [(t, c, 0) for c in range(6)]
    cells += [
        (constants.DOOR, c, s) for c in range(6) for s in (constants.OPEN, constants.CLOSED, constants.LOCKED)
    ]
    return cells


def _standable(cell) -> bool:
    t, _, s = cell
    return t in (constants.EMPTY, constants.FLOOR, constants.GOAL, constants.LAVA) or (
        t == constants.DOOR and s == constants.OPEN
    )


class _Canvas:
    """A supersampled tile with MiniGrid's ``fill_coords`` semantics (pixel centres in [0, 1])."""

    def __init__(self, size: int):
        self.img = np.zeros((size, size, 3), np.uint8)
        c = (np.arange(size) + 0.5) / size
        self.y, self.x = np.meshgrid(c, c, indexing="ij")

    def fill(self, inside: np.ndarray, color) -> None:
        self.img[inside] = np.asarray(color)

    def rect(self, xmin, xmax, ymin, ymax) -> np.ndarray:
        x, y = self.x, self.y
        return (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)

    def circle(self, cx, cy, r) -> np.ndarray:
        return (self.x - cx) * (self.x - cx) + (self.y - cy) * (self.y - cy) <= r * r

    def line(self, x0, y0, x1, y1, r) -> np.ndarray:
        p0 = np.array([x0, y0], dtype=np.float32)
        p1 = np.array([x1, y1], dtype=np.float32)
        d = p1 - p0
        dist = np.linalg.norm(d)
        d = d / dist
        x, y = self.x, self.y
        box = (
            (x >= min(x0, x1) - r) & (x <= max(x0, x1) + r) & (y >= min(y0, y1) - r) & (y <= max(y0, y1) + r)
        )
        pqx, pqy = x - p0[0], y - p0[1]
        a = np.clip(pqx * d[0] + pqy * d[1], 0, dist)
        px, py = p0[0] + a * d[0], p0[1] + a * d[1]
        dist_to_line = np.sqrt((x - px) ** 2 + (y - py) ** 2)
        return box & (dist_to_line <= r)

    def triangle(self, a, b, c, theta: float = 0.0, cx: float = 0.5, cy: float = 0.5) -> np.ndarray:
        a, b, c = (np.array(p, dtype=np.float32) for p in (a, b, c))
        # rotate_fn: sample the unrotated shape at the inversely rotated point
        x, y = self.x - cx, self.y - cy
        x2 = cx + x * math.cos(-theta) - y * math.sin(-theta)
        y2 = cy + y * math.cos(-theta) + x * math.sin(-theta)
        v0, v1 = c - a, b - a
        v2x, v2y = x2 - a[0], y2 - a[1]
        dot00, dot01, dot11 = np.dot(v0, v0), np.dot(v0, v1), np.dot(v1, v1)
        dot02 = v0[0] * v2x + v0[1] * v2y
        dot12 = v1[0] * v2x + v1[1] * v2y
        inv_denom = 1 / (dot00 * dot11 - dot01 * dot01)
        u = (dot11 * dot02 - dot01 * dot12) * inv_denom
        v = (dot00 * dot12 - dot01 * dot02) * inv_denom
        return (u >= 0) & (v >= 0) & ((u + v) < 1)


def _draw_object(cv: _Canvas, cell) -> None:
    t, col, s = cell
    rgb = constants.COLOR_RGB[col]
    if t in (constants.GOAL, constants.WALL):
        cv.fill(cv.rect(0, 1, 0, 1), rgb)
    elif t == constants.FLOOR:
        cv.fill(cv.rect(0.031, 1, 0.031, 1), rgb / 2)
    elif t == constants.LAVA:
        cv.fill(cv.rect(0, 1, 0, 1), (255, 128, 0))
        for i in range(3):
            ylo, yhi = 0.3 + 0.2 * i, 0.4 + 0.2 * i
            for x0, y0, x1, y1 in (
                (0.1, ylo, 0.3, yhi),
                (0.3, yhi, 0.5, ylo),
                (0.5, ylo, 0.7, yhi),
                (0.7, yhi, 0.9, ylo),
            ):
                cv.fill(cv.line(x0, y0, x1, y1, r=0.03), _BLACK)
    elif t == constants.DOOR:
        if s == constants.OPEN:
            cv.fill(cv.rect(0.88, 1.00, 0.00, 1.00), rgb)
            cv.fill(cv.rect(0.92, 0.96, 0.04, 0.96), _BLACK)
        elif s == constants.LOCKED:
            cv.fill(cv.rect(0.00, 1.00, 0.00, 1.00), rgb)
            cv.fill(cv.rect(0.06, 0.94, 0.06, 0.94), 0.45 * np.array(rgb))
            cv.fill(cv.rect(0.52, 0.75, 0.50, 0.56), rgb)
        else:
            cv.fill(cv.rect(0.00, 1.00, 0.00, 1.00), rgb)
            cv.fill(cv.rect(0.04, 0.96, 0.04, 0.96), _BLACK)
            cv.fill(cv.rect(0.08, 0.92, 0.08, 0.92), rgb)
            cv.fill(cv.rect(0.12, 0.88, 0.12, 0.88), _BLACK)
            cv.fill(cv.circle(cx=0.75, cy=0.50, r=0.08), rgb)
    elif t == constants.KEY:
        cv.fill(cv.rect(0.50, 0.63, 0.31, 0.88), rgb)
        cv.fill(cv.rect(0.38, 0.50, 0.59, 0.66), rgb)
        cv.fill(cv.rect(0.38, 0.50, 0.81, 0.88), rgb)
        cv.fill(cv.circle(cx=0.56, cy=0.28, r=0.190), rgb)
        cv.fill(cv.circle(cx=0.56, cy=0.28, r=0.064), _BLACK)
    elif t == constants.BALL:
        cv.fill(cv.circle(0.5, 0.5, 0.31), rgb)
    elif t == constants.BOX:
        cv.fill(cv.rect(0.12, 0.88, 0.12, 0.88), rgb)
        cv.fill(cv.rect(0.18, 0.82, 0.18, 0.82), _BLACK)
        cv.fill(cv.rect(0.16, 0.84, 0.47, 0.53), rgb)


def draw_tile(cell, agent_dir: int | None, highlight: bool, tile_size: int) -> np.ndarray:
    """One tile, uint8[tile, tile, 3], exactly as MiniGrid's ``Grid.render_tile``."""
    cv = _Canvas(tile_size * SUBDIVS)
    cv.fill(cv.rect(0, 0.031, 0, 1), (100, 100, 100))
    cv.fill(cv.rect(0, 1, 0, 0.031), (100, 100, 100))
    _draw_object(cv, cell)
    if agent_dir is not None:
        tri = cv.triangle((0.12, 0.19), (0.87, 0.50), (0.12, 0.81), theta=0.5 * math.pi * agent_dir)
        cv.fill(tri, (255, 0, 0))
    img = cv.img
    if highlight:
        blend = img + 0.30 * (np.array((255, 255, 255), dtype=np.uint8) - img)
        img = blend.clip(0, 255).astype(np.uint8)
    small = img.reshape(tile_size, SUBDIVS, tile_size, SUBDIVS, 3).mean(axis=3).mean(axis=1)
    return small.astype(np.uint8)


@functools.lru_cache(maxsize=4)
def atlas(tile_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tiles uint8[K, T, T, 3], base index int32[198], agent index int32[198]) for one tile size.

    Tile of cell code ``q = type * 18 + colour * 3 + state`` with highlight ``h``: ``base[q] + h``; the agent
    facing ``d`` on that cell: ``agent[q] + 2 * d + h``.
    """
    cells = _valid_cells()
    tiles, base, agent = [], np.zeros(198, np.int32), np.zeros(198, np.int32)
    for cell in cells:
        base[_code(*cell)] = len(tiles)
        tiles += [draw_tile(cell, None, h, tile_size) for h in (False, True)]
    for cell in cells:
        if _standable(cell):
            agent[_code(*cell)] = len(tiles)
            tiles += [draw_tile(cell, d, h, tile_size) for d in range(4) for h in (False, True)]
    return np.stack(tiles), base, agent


def render_grid(grid, agent_pos, agent_dir, highlight, tile_size: int) -> jax.Array:
    """uint8[H * T, W * T, 3] of a uint8[H, W, 3] grid with the agent drawn at its pose."""
    tiles, base, agent = atlas(tile_size)
    h, w = grid.shape[:2]
    g = grid.astype(jnp.int32)
    code = g[..., 0] * 18 + g[..., 1] * 3 + g[..., 2]
    hl = jnp.zeros((h, w), jnp.int32) if highlight is None else highlight.astype(jnp.int32)
    idx = jnp.asarray(base)[code] + hl
    ax, ay = agent_pos[0], agent_pos[1]
    idx = idx.at[ay, ax].set(jnp.asarray(agent)[code[ay, ax]] + 2 * agent_dir + hl[ay, ax])
    img = jnp.asarray(tiles)[idx]  # [H, W, T, T, 3]
    return img.transpose(0, 2, 1, 3, 4).reshape(h * tile_size, w * tile_size, 3)
