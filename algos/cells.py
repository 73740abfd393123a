"""GRU and LSTM cells whose input projection is split from the recurrence, for sequence replay.

``project`` maps a whole ``[T, n, D]`` sequence to its gate inputs in one matmul; ``__call__`` is one step
of the recurrence (one ``[n, H] x [H, G*H]`` matmul and the gate arithmetic). Replaying PPO's env sequences
then runs only the recurrent half inside the time loop: on XLA:CPU this halves the cost of flax's
``GRUCell``, which applies six separate dense layers at every step. Gate equations and initialisation
follow flax's ``GRUCell`` (Cho et al. 2014) and ``OptimizedLSTMCell`` (Hochreiter & Schmidhuber 1997).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl_suite.algos import networks as nets

CELLS = {"gru": 3, "lstm": 4}  # gate blocks per cell


def _block_orthogonal(blocks: int):
    """``[H, blocks * H]``: one orthogonal ``[H, H]`` block per gate (flax initialises each gate's
    recurrent kernel orthogonally; Gram-Schmidt, see ``networks.orthogonal``)."""

    def init(key, shape, dtype=jnp.float32):
        h = shape[0]
        return jnp.concatenate(nets.orthogonal_stack(key, [(h, h)] * blocks, [1.0] * blocks), axis=1).astype(
            dtype
        )

    return init


class SplitCell(nn.Module):
    """A GRU or LSTM cell as ``project`` (input -> gate inputs) then ``__call__`` (one recurrent step).

    GRU carry: ``h``; LSTM carry: ``(c, h)`` (flax's order). Gate blocks: GRU ``r, z, n``; LSTM ``i, f, g, o``.
    """

    kind: str
    features: int

    def setup(self):
        blocks = CELLS[self.kind]
        width = blocks * self.features
        self.input = nn.Dense(width, kernel_init=nn.initializers.lecun_normal())
        self.recurrent_kernel = self.param(
            "recurrent_kernel", _block_orthogonal(blocks), (self.features, width)
        )
        if self.kind == "gru":  # the candidate's recurrent bias sits inside the reset gate's product
            self.recurrent_bias = self.param("recurrent_bias", nn.initializers.zeros, (self.features,))

    def project(self, x: jax.Array) -> jax.Array:
        """Gate inputs ``x W_i + b_i`` for any leading shape."""
        return self.input(x)

    def __call__(self, carry: Any, gates_in: jax.Array) -> tuple[Any, jax.Array]:
        """One step from precomputed gate inputs: ``(new_carry, output)``."""
        H = self.features
        if self.kind == "gru":
            h = carry
            gh = h @ self.recurrent_kernel
            r = jax.nn.sigmoid(gates_in[..., :H] + gh[..., :H])
            z = jax.nn.sigmoid(gates_in[..., H : 2 * H] + gh[..., H : 2 * H])
            n = jnp.tanh(gates_in[..., 2 * H :] + r * (gh[..., 2 * H :] + self.recurrent_bias))
            h = (1.0 - z) * n + z * h
            return h, h
        c, h = carry
        g = gates_in + h @ self.recurrent_kernel
        i, f, u, o = (g[..., k * H : (k + 1) * H] for k in range(4))
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(u)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h
