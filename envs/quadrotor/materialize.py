"""Kernel boundaries for XLA:CPU: values computed once and read from memory by every consumer.

XLA's CPU fusion inlines a cheap-looking producer into each consumer kernel, so the RK4 result feeding the
observation, reward, termination, privileged observation and auto-reset selects was recomputed in each of
them (and compiled into each: the conformance rollout took 9.0 s of compile instead of 5.6 s, and ran 2.4x
slower). An identity scatter is opaque to fusion; ``lax.optimization_barrier`` is not on CPU.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def materialize(x: jax.Array) -> jax.Array:
    """``x`` (1-D), computed once: an identity scatter, which fusion cannot inline into its consumers."""
    return jnp.zeros_like(x).at[jnp.arange(x.shape[0])].set(x)


def materialize_tree(tree: Any) -> Any:
    """A pytree of same-shaped, same-dtype leaves, materialised as one stacked array (one kernel)."""
    leaves, treedef = jax.tree.flatten(tree)
    stacked = materialize(jnp.stack(leaves))
    return jax.tree.unflatten(treedef, [stacked[i] for i in range(len(leaves))])
