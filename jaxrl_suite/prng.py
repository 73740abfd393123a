"""Threefry-2x32 keys whose hash is unrolled, so XLA:CPU fuses it into one kernel: bit-identical to JAX's.

JAX lowers its default ``threefry2x32`` keys on CPU as a 5-trip ``while`` loop (smaller programs, faster
compiles). Inside a training loop that steps tiny environments, each random draw then costs a loop of
~20 small kernels per step: on a 2-core CPU half of a CartPole PPO rollout. This impl computes the same
20 rounds as straight-line ``uint32`` arithmetic (Salmon et al. 2011, as in ``jax._src.random.threefry2x32``)
that XLA fuses with its neighbours (except into another hash: derived keys are materialised, see
``_new_keys``). Keys, splits, folds and bits equal JAX's default (partitionable) ones,
bit for bit; only the key's dtype differs. ``fast_key(key)`` converts a default key; ``default_key`` back.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend.random import define_prng_impl

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotl(x: jax.Array, d: int) -> jax.Array:
    return lax.bitwise_or(lax.shift_left(x, np.uint32(d)), lax.shift_right_logical(x, np.uint32(32 - d)))


def threefry2x32(k1: jax.Array, k2: jax.Array, x1: jax.Array, x2: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 block cipher (20 rounds) on uint32 arrays, written out without a loop.

    Plain ``lax`` calls rather than array operators: the same program, traced ~1.7x faster (each ``jnp``
    operator goes through NumPy-style dispatch, and the hash is ~130 of them)."""
    ks = (k1, k2, lax.bitwise_xor(lax.bitwise_xor(k1, k2), np.uint32(0x1BD11BDA)))
    x1, x2 = lax.add(x1, ks[0]), lax.add(x2, ks[1])
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = lax.add(x1, x2)
            x2 = lax.bitwise_xor(_rotl(x2, r), x1)
        x1 = lax.add(x1, ks[(i + 1) % 3])
        x2 = lax.add(lax.add(x2, ks[(i + 2) % 3]), np.uint32(i + 1))
    return x1, x2


def _counts(shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """The 64-bit iota over ``shape`` as (high, low) uint32 words (``jax._src.random.prng.iota_2x32_shape``)."""
    size = math.prod(shape)
    if size >= 2**32:
        raise NotImplementedError(f"fast threefry keys draw at most 2**32 values at once, asked for {size}")
    lo = jax.lax.iota(np.uint32, size).reshape(shape) if shape else jnp.zeros((), np.uint32)
    return jnp.zeros(shape, np.uint32), lo


def _seed(seed: jax.Array) -> jax.Array:
    seed = jnp.asarray(seed)
    if seed.dtype.itemsize == 8:
        hi = jax.lax.shift_right_logical(seed, jnp.asarray(32, seed.dtype)).astype(np.uint32)
    else:
        hi = jnp.zeros((), np.uint32)
    return jnp.stack([hi, seed.astype(np.uint32)])


def _new_keys(b1: jax.Array, b2: jax.Array) -> jax.Array:
    """Derived keys, materialised: an optimisation barrier stops XLA fusing this hash into the next one
    (split of a split, bits of a split, ...). Fused, the chain becomes one huge kernel that LLVM takes up
    to a second to compile; cut, it costs one tiny kernel per derived key array. (The barrier cuts chains
    but does not stop a value being recomputed in each of its consumers: ``jaxrl_suite.hashrng``.)"""
    return jax.lax.optimization_barrier(jnp.stack([b1, b2], axis=-1))


def _split(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    hi, lo = _counts(tuple(shape))
    return _new_keys(*threefry2x32(key[0], key[1], hi, lo))


def _fold_in(key: jax.Array, data: jax.Array) -> jax.Array:
    # jax: threefry_2x32(key, threefry_seed(data)), i.e. the hash of the pair (0, data) for 32-bit data
    return _new_keys(*threefry2x32(key[0], key[1], jnp.zeros((), np.uint32), jnp.asarray(data, np.uint32)))


def _random_bits(key: jax.Array, bit_width: int, shape: tuple[int, ...]) -> jax.Array:
    if bit_width not in (8, 16, 32, 64):
        raise TypeError(f"random bits need a width of 8, 16, 32 or 64, got {bit_width}")
    hi, lo = _counts(tuple(shape))
    b1, b2 = threefry2x32(key[0], key[1], hi, lo)
    if bit_width == 64:
        return (b1.astype(np.uint64) << np.uint64(32)) | b2.astype(np.uint64)
    bits = b1 ^ b2
    return bits if bit_width == 32 else bits.astype({8: np.uint8, 16: np.uint16}[bit_width])


FAST_THREEFRY = define_prng_impl(
    key_shape=(2,),
    seed=_seed,
    split=_split,
    random_bits=_random_bits,
    fold_in=_fold_in,
    name="threefry2x32_unrolled",
    tag="fry_u",
)


def fast_key(key: jax.Array) -> jax.Array:
    """The same key with the unrolled hash (a no-op for keys that already use it)."""
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if str(jax.random.key_impl(key)) == str(FAST_THREEFRY):
            return key
        return jax.random.wrap_key_data(jax.random.key_data(key), impl=FAST_THREEFRY)
    return jax.random.wrap_key_data(key, impl=FAST_THREEFRY)  # raw uint32[..., 2] key data


def default_key(key: jax.Array) -> jax.Array:
    """The same key as a JAX default (threefry2x32) key."""
    return jax.random.wrap_key_data(jax.random.key_data(key), impl="threefry2x32")
