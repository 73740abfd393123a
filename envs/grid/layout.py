"""Level-generation helpers: a cheap random stream, masked uniform sampling, and drawing on a cell grid.

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

from jaxrl_suite.envs.grid import constants as C


def materialize(x: jax.Array) -> jax.Array:
    """``x``, computed once: an identity scatter that XLA's CPU loop fusion cannot inline.

    Without it a per-level scalar (random draws, a sampled position) feeding a grid-sized select is recomputed
    for every cell of every level; ``lax.optimization_barrier`` does not stop that on CPU.
    """
    return jnp.zeros_like(x).at[jnp.arange(x.shape[0])].set(x)


def key_seed(key: jax.Array) -> jax.Array:
    """A uint32 seed from a PRNG key's bits (raw ``uint32[2]`` keys or typed keys)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    seed = jnp.uint32(0x9E3779B9)
    for w in key.reshape(-1).astype(jnp.uint32):
        seed = hash32(seed ^ w)
    return seed


class Rand:
    """A stream of random uint32 words for one level: the key's bits hashed with per-draw constants.

    A counter-based generator keyed by the (threefry) reset key, instead of a threefry pass per reset: a
    handful of integer ops per word, no loop, and a stream per key. Uniformity is checked against MiniGrid's
    generators in the distribution tests.
    """

    def __init__(self, key: jax.Array, n: int):
        salts = jnp.asarray(_SALTS[:n]) if n <= len(_SALTS) else hash32(jnp.arange(n, dtype=jnp.uint32) + 1)
        self._bits = materialize(hash32(key_seed(key) ^ salts))
        self._i = 0
        self.n = n

    def words(self, k: int) -> jax.Array:
        """The next ``k`` raw uint32 words."""
        if self._i + k > self.n:
            raise ValueError(f"Rand stream of {self.n} draws exhausted; raise its size")
        w = self._bits[self._i : self._i + k]
        self._i += k
        return w

    def uniforms(self, k: int) -> jax.Array:
        """The next ``k`` float32 uniforms in [0, 1) (24 random bits each)."""
        return to_uniform(self.words(k))

    def uniform(self) -> jax.Array:
        return self.uniforms(1)[0]

    def int(self, low, high) -> jax.Array:
        """Uniform int32 in [low, high) (MiniGrid's ``_rand_int``); bounds may be traced."""
        return scale_int(self.uniform(), low, high)

    def choice(self, mask: jax.Array) -> jax.Array:
        """Uniform flat index of a True entry of ``mask`` (0 if none)."""
        return masked_choice(self.words(1)[0], mask)


def _np_hash32(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64) & 0xFFFFFFFF
    for shift, mul in ((17, 0xED5AD4BB), (11, 0xAC4C1B51), (15, 0x31848BAB)):
        x = ((x ^ (x >> shift)) * mul) & 0xFFFFFFFF
    return (x ^ (x >> 14)).astype(np.uint32)


# per-draw salts of the Rand stream (hash32 of 1, 2, 3, ...), precomputed
_SALTS = _np_hash32(np.arange(1, 257))


def hash_words(seed: jax.Array, shape: tuple[int, ...], salt=0) -> jax.Array:
    """uint32 words of ``shape`` from a seed word by counter hashing: cheap extra randomness inside loops."""
    n = int(np.prod(shape))
    i = jnp.arange(n, dtype=jnp.uint32) * jnp.uint32(0x9E3779B9)
    s = hash32(
        seed.astype(jnp.uint32) ^ hash32(jnp.asarray(salt).astype(jnp.uint32) + jnp.uint32(0x85EBCA6B))
    )
    return hash32(s + i).reshape(shape)


def to_uniform(bits: jax.Array) -> jax.Array:
    """uint32 words -> float32 uniforms in [0, 1)."""
    return (bits >> 8).astype(jnp.float32) * (2.0**-24)


def hash32(x: jax.Array) -> jax.Array:
    """A strong 32-bit integer mixer ("triple32", C. Wellons): counter-based per-cell noise."""
    x = x.astype(jnp.uint32)
    x = (x ^ (x >> 17)) * jnp.uint32(0xED5AD4BB)
    x = (x ^ (x >> 11)) * jnp.uint32(0xAC4C1B51)
    x = (x ^ (x >> 15)) * jnp.uint32(0x31848BAB)
    return x ^ (x >> 14)


def scale_int(u: jax.Array, low, high) -> jax.Array:
    """Map u in [0, 1) to a uniform integer in [low, high)."""
    low = jnp.asarray(low, jnp.int32)
    span = jnp.asarray(high, jnp.int32) - low
    k = jnp.floor(u * span.astype(jnp.float32)).astype(jnp.int32)
    return low + jnp.clip(k, 0, jnp.maximum(span - 1, 0))


def prefix_count(x: jax.Array) -> jax.Array:
    """Inclusive prefix sums of a short int32 vector as one compare-and-reduce (no scan op: cheap to compile)."""
    n = x.shape[-1]
    tri = jnp.asarray(np.tri(n, dtype=bool).T)  # tri[i, j] = i <= j
    return jnp.sum(jnp.where(tri, x[..., :, None], 0), axis=-2)


def masked_choice(word: jax.Array, mask: jax.Array) -> jax.Array:
    """Uniform flat (row-major) index of a True entry of ``mask``, from one random uint32 word (0 if none).

    The argmax of per-cell noise ``hash32(word + i * golden)`` over the mask: one fused reduction, so cheap to
    compile and to run. Uniformity rests on the hash; a chi-square test over 8M draws finds no bias (< 0.1%).
    """
    flat = mask.reshape(-1)
    i = jnp.arange(flat.shape[0], dtype=jnp.uint32)
    noise = (hash32(word.astype(jnp.uint32) + i * jnp.uint32(0x9E3779B9)) >> 1).astype(jnp.int32)
    return jnp.argmax(jnp.where(flat, noise, -1)).astype(jnp.int32)


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


def cells(types, colors=0, states=0) -> np.ndarray:
    """uint8[..., 3] from broadcast (type, colour, state) arrays (numpy, for static layouts)."""
    t, c, s = np.broadcast_arrays(np.asarray(types), np.asarray(colors), np.asarray(states))
    return np.stack([t, c, s], -1).astype(np.uint8)


def empty_grid(h: int, w: int) -> np.ndarray:
    """uint8[H, W, 3] of empty cells."""
    return np.broadcast_to(np.array(C.CELL_EMPTY, np.uint8), (h, w, 3)).copy()


def np_wall_rect(grid: np.ndarray, x: int, y: int, w: int, h: int, cell=C.CELL_WALL) -> np.ndarray:
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
    return grid[..., 0] == C.EMPTY


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
    t = jnp.pad(grid[..., 0], 1, constant_values=C.WALL)
    h, w = grid.shape[:2]
    return jnp.stack(
        [t[1 + int(dy) : 1 + int(dy) + h, 1 + int(dx) : 1 + int(dx) + w] for dx, dy in C.DIR_TO_VEC], -1
    )


def place_agent_pose(rng: Rand, grid: jax.Array, region: jax.Array) -> tuple[jax.Array, jax.Array]:
    """MiniGrid's ``place_agent`` (random direction): uniform empty cell of ``region``, uniform direction."""
    pos = place(rng, grid, region)
    return pos, rng.int(0, 4)


def sorted_color(idx: jax.Array) -> jax.Array:
    """Colour index of ``COLOR_NAMES[idx]`` (MiniGrid's sorted colour names)."""
    return jnp.asarray(C.SORTED_COLORS)[idx]
