"""Action and observation spaces: gymnax's jittable spaces, with exact membership checks.

These subclass gymnax's classes, so gymnax tools (e.g. `gymnax_space_to_gym_space`) accept ours and our
code accepts theirs. `contains` also checks shape, and for Box rejects NaN; `Dict` works on mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces as gx

Space = gx.Space


class Discrete(gx.Discrete):
    """Integers {0, ..., n-1}."""

    def __init__(self, n: int, dtype: Any = jnp.int32):
        if int(n) < 1:
            raise ValueError(f"Discrete needs n >= 1, got {n}")
        super().__init__(int(n), dtype=dtype)

    def contains(self, x) -> jax.Array:
        x = jnp.asarray(x)
        if x.shape != ():
            return jnp.asarray(False)
        integral = jnp.issubdtype(x.dtype, jnp.integer) | jnp.all(jnp.floor(x) == x)
        return integral & (x >= 0) & (x < self.n)


class Box(gx.Box):
    """A box in R^shape with (broadcast) bounds `low` and `high`."""

    def __init__(self, low, high, shape: tuple[int, ...], dtype: Any = jnp.float32):
        shape = tuple(int(s) for s in shape)
        low_np, high_np = np.broadcast_to(low, shape), np.broadcast_to(high, shape)
        if np.any(low_np > high_np):
            raise ValueError("Box needs low <= high everywhere")
        super().__init__(low, high, shape, dtype)

    def sample(self, key: jax.Array) -> jax.Array:
        """Uniform in the box where bounded; standard normal on unbounded axes."""
        low = jnp.broadcast_to(jnp.asarray(self.low, jnp.float32), self.shape)
        high = jnp.broadcast_to(jnp.asarray(self.high, jnp.float32), self.shape)
        if jnp.issubdtype(self.dtype, jnp.integer):
            return jax.random.randint(
                key, self.shape, low.astype(jnp.int32), high.astype(jnp.int32) + 1
            ).astype(self.dtype)
        k1, k2 = jax.random.split(key)
        bounded = jnp.isfinite(low) & jnp.isfinite(high)
        uniform = jax.random.uniform(
            k1, self.shape, minval=jnp.where(bounded, low, 0.0), maxval=jnp.where(bounded, high, 1.0)
        )
        normal = jnp.clip(jax.random.normal(k2, self.shape), low, high)
        return jnp.where(bounded, uniform, normal).astype(self.dtype)

    def contains(self, x) -> jax.Array:
        x = jnp.asarray(x)
        if x.shape != self.shape:
            return jnp.asarray(False)
        inside = (x >= self.low) & (x <= self.high)
        if jnp.issubdtype(x.dtype, jnp.floating):
            inside = inside & ~jnp.isnan(x)
        return jnp.all(inside)


class Dict(gx.Dict):
    """A composite space: a mapping from names to spaces (e.g. image + mission)."""

    def __init__(self, spaces: Mapping[str, Space]):
        super().__init__(dict(spaces))

    def contains(self, x) -> jax.Array:
        if not isinstance(x, Mapping) or set(x) != set(self.spaces):
            return jnp.asarray(False)
        return jnp.all(jnp.stack([jnp.asarray(s.contains(x[k])) for k, s in self.spaces.items()]))

    def sample(self, key: jax.Array) -> dict:
        keys = jax.random.split(key, len(self.spaces))
        return {k: s.sample(kk) for (k, s), kk in zip(self.spaces.items(), keys, strict=True)}


def flat_dim(space: Space) -> int:
    """Length of the flat vector a space's elements reshape to (Discrete counts as one)."""
    if isinstance(space, gx.Discrete):
        return 1
    if isinstance(space, gx.Box):
        return int(np.prod(space.shape))
    if isinstance(space, gx.Dict):
        return sum(flat_dim(s) for s in space.spaces.values())
    raise TypeError(f"unsupported space {space!r}")


def to_gymnasium_space(space: Space) -> gymnasium.spaces.Space:
    """The equivalent gymnasium space (Box bounds broadcast to full arrays)."""
    if isinstance(space, gx.Discrete):
        return gymnasium.spaces.Discrete(space.n)
    if isinstance(space, gx.Box):
        dtype = np.dtype(space.dtype)
        low = np.broadcast_to(np.asarray(space.low, dtype), space.shape).copy()
        high = np.broadcast_to(np.asarray(space.high, dtype), space.shape).copy()
        return gymnasium.spaces.Box(low, high, space.shape, dtype)
    if isinstance(space, gx.Dict):
        return gymnasium.spaces.Dict({k: to_gymnasium_space(s) for k, s in space.spaces.items()})
    raise TypeError(f"unsupported space {space!r}")
