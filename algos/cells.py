"""GRU and LSTM cells whose input projection is split from the recurrence, for sequence replay.

``project`` maps a whole ``[T, n, D]`` sequence to its gate inputs in one matmul; ``__call__`` is one step
of the recurrence (one ``[n, H] x [H, G*H]`` matmul and the gate arithmetic). Replaying PPO's env sequences
then runs only the recurrent half inside the time loop: on XLA:CPU this halves the cost of flax's
``GRUCell``, which applies six separate dense layers at every step. Gate equations and initialisation
follow flax's ``GRUCell`` (Cho et al. 2014) and ``OptimizedLSTMCell`` (Hochreiter & Schmidhuber 1997).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl_suite.algos import networks as nets

CELLS = {"gru": 3, "lstm": 4}  # gate blocks per cell
# Time steps per iteration of the replay loops, by backend. On GPU each iteration is a few tiny kernel
# launches and a host-synchronised loop condition: unrolling 8 steps halves GRU PPO's train time on an H200
# (bench_ppo.py's recurrent row: 41.0 s -> 22.3 s; 128 steps: 16.6 s but compile 1.8x as long). On XLA:CPU
# the per-step cost is the small matmul and its fused neighbours, not the loop: unrolling 8 or 128 made the
# same row slower (10.4 s -> 11.7 s, 28.6 s). TPU: not measured.
UNROLL = {"cpu": 1, "gpu": 8, "tpu": 1}


def scan_unroll() -> int:
    """Replay-loop unroll for JAX's default backend (``UNROLL``), read when a replay is traced."""
    return UNROLL.get(jax.default_backend(), 1)


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

    def sequence(self, carry: Any, gates_in: jax.Array, reset: jax.Array) -> jax.Array:
        """Outputs ``[T, n, H]`` of a whole sequence from precomputed gate inputs ``[T, n, G*H]``, the carry
        zeroed before each step where ``reset`` ``[T, n]``; differentiated by a hand-written backward pass
        (``gru_sequence`` / ``lstm_sequence``), the same function as stepping ``__call__`` under a scan."""
        if self.kind == "gru":
            return gru_sequence(
                carry, gates_in, reset, self.recurrent_kernel, self.recurrent_bias, scan_unroll()
            )
        return lstm_sequence(carry, gates_in, reset, self.recurrent_kernel, scan_unroll())


# ----------------------------------------------------------------------------------------------------------
# Sequence replay with a hand-written backward pass through time.
#
# Autodiff of a scanned cell saves every gate as a per-step residual and accumulates the kernel's gradient
# inside the backward loop, one small matmul and several stacked writes per step: on XLA:CPU a PPO update of
# a recurrent policy is then mostly loop overhead. Here each time loop keeps only what is sequential (the
# carry and one [n, H] x [H, G*H] matmul); the gates are recomputed for all steps at once from the stored
# outputs, and the weight gradients are one matmul over the whole sequence after the loop.


def _mask(reset: jax.Array, like: jax.Array) -> jax.Array:
    """``[T, n, 1]``: 0 where the carry is zeroed before the step, 1 where it continues."""
    return (~reset)[..., None].astype(like.dtype)


def _previous(carry0: jax.Array, outs: jax.Array, mask: jax.Array) -> jax.Array:
    """Each step's incoming carry ``[T, n, H]`` (after the reset) from the initial carry and the outputs."""
    return jnp.concatenate([carry0[None], outs[:-1]]) * mask


def _gru_gates(h_in, gates_in, kernel, bias):
    H = h_in.shape[-1]
    gh = h_in @ kernel
    r = jax.nn.sigmoid(gates_in[..., :H] + gh[..., :H])
    z = jax.nn.sigmoid(gates_in[..., H : 2 * H] + gh[..., H : 2 * H])
    a = gh[..., 2 * H :] + bias
    n = jnp.tanh(gates_in[..., 2 * H :] + r * a)
    return r, z, a, n


def _gru_forward(h0, gates_in, reset, kernel, bias, unroll):
    mask = _mask(reset, gates_in)

    def step(h, inputs):
        g, m = inputs
        h = h * m
        _, z, _, n = _gru_gates(h, g, kernel, bias)
        h = (1.0 - z) * n + z * h
        return h, h

    _, hs = jax.lax.scan(step, h0, (gates_in, mask), unroll=unroll)
    return hs, (h0, hs, gates_in, mask, kernel, bias)


def _gru_backward(unroll, res, d_hs):
    h0, hs, gates_in, mask, kernel, bias = res
    h_in = _previous(h0, hs, mask)
    r, z, a, n = _gru_gates(h_in, gates_in, kernel, bias)
    q = (1.0 - z) * (1.0 - n * n)  # d h / d (candidate's pre-activation)
    # d(recurrent gate inputs) = d h (total, per step) times these coefficients, blocks r, z, n
    coef = jnp.concatenate([q * a * r * (1.0 - r), (h_in - n) * z * (1.0 - z), q * r], axis=-1)
    kernel_t = kernel.T

    def step(dh, inputs):
        d_out, z_t, coef_t, m = inputs
        dh = dh + d_out
        d_gh = jnp.concatenate([dh, dh, dh], axis=-1) * coef_t
        return (dh * z_t + d_gh @ kernel_t) * m, dh

    dh0, dh_all = jax.lax.scan(step, jnp.zeros_like(h0), (d_hs, z, coef, mask), reverse=True, unroll=unroll)
    d_gh = jnp.concatenate([dh_all, dh_all, dh_all], axis=-1) * coef
    H = h0.shape[-1]
    d_gates_in = jnp.concatenate([d_gh[..., : 2 * H], dh_all * q], axis=-1)
    d_kernel = jnp.einsum("tnh,tng->hg", h_in, d_gh)
    d_bias = d_gh[..., 2 * H :].sum(axis=(0, 1))
    return dh0, d_gates_in, None, d_kernel, d_bias


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def gru_sequence(h0, gates_in, reset, kernel, bias, unroll=1):
    """GRU outputs ``[T, n, H]`` (flax's ``GRUCell`` equations, see ``SplitCell``); ``unroll`` steps per
    loop iteration."""
    return _gru_forward(h0, gates_in, reset, kernel, bias, unroll)[0]


gru_sequence.defvjp(_gru_forward, _gru_backward)


def _lstm_gates(h_in, gates_in, kernel):
    H = h_in.shape[-1]
    g = gates_in + h_in @ kernel
    i, f, o = (jax.nn.sigmoid(g[..., k * H : (k + 1) * H]) for k in (0, 1, 3))
    return i, f, jnp.tanh(g[..., 2 * H : 3 * H]), o


def _lstm_forward(carry0, gates_in, reset, kernel, unroll):
    mask = _mask(reset, gates_in)

    def step(carry, inputs):
        g, m = inputs
        c, h = carry[0] * m, carry[1] * m
        i, f, u, o = _lstm_gates(h, g, kernel)
        c = f * c + i * u
        h = o * jnp.tanh(c)
        return (c, h), (c, h)

    _, (cs, hs) = jax.lax.scan(step, carry0, (gates_in, mask), unroll=unroll)
    return hs, (carry0, cs, hs, gates_in, mask, kernel)


def _lstm_backward(unroll, res, d_hs):
    (c0, h0), cs, hs, gates_in, mask, kernel = res
    c_in, h_in = _previous(c0, cs, mask), _previous(h0, hs, mask)
    i, f, u, o = _lstm_gates(h_in, gates_in, kernel)
    tc = jnp.tanh(cs)
    to_c = o * (1.0 - tc * tc)  # d c (total) += d h * to_c
    # gate-input gradients: blocks i, f, g from d c (total), block o from d h
    coef_c = jnp.concatenate([u * i * (1.0 - i), c_in * f * (1.0 - f), i * (1.0 - u * u)], axis=-1)
    coef_o = tc * o * (1.0 - o)
    kernel_t = kernel.T

    def step(carry, inputs):
        dc, dh = carry
        d_out, to_c_t, coef_c_t, coef_o_t, f_t, m = inputs
        dh = dh + d_out
        dc = dc + dh * to_c_t
        dg = jnp.concatenate([jnp.concatenate([dc, dc, dc], axis=-1) * coef_c_t, dh * coef_o_t], axis=-1)
        return (dc * f_t * m, (dg @ kernel_t) * m), (dc, dh)

    zeros = jnp.zeros_like(h0)
    (dc0, dh0), (dc_all, dh_all) = jax.lax.scan(
        step, (zeros, zeros), (d_hs, to_c, coef_c, coef_o, f, mask), reverse=True, unroll=unroll
    )
    dg = jnp.concatenate([jnp.concatenate([dc_all, dc_all, dc_all], axis=-1) * coef_c, dh_all * coef_o], -1)
    return (dc0, dh0), dg, None, jnp.einsum("tnh,tng->hg", h_in, dg)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def lstm_sequence(carry0, gates_in, reset, kernel, unroll=1):
    """LSTM outputs ``[T, n, H]`` from the carry ``(c, h)`` (flax's ``OptimizedLSTMCell`` equations);
    ``unroll`` steps per loop iteration."""
    return _lstm_forward(carry0, gates_in, reset, kernel, unroll)[0]


lstm_sequence.defvjp(_lstm_forward, _lstm_backward)
