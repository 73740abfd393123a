"""Actor-critic networks (flax linen) and the action distributions they parameterise.

Observations of any pytree shape are flattened and concatenated (so Dict observations such as a grid
world's image + direction work unchanged). Orthogonal initialisation follows PureJaxRL/CleanRL: sqrt(2) for
hidden layers, 0.01 for the policy head, 1.0 for the value head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "silu": nn.silu, "gelu": nn.gelu}
HIDDEN_SCALE = math.sqrt(2.0)
HEAD_SCALES = {"policy_head": 0.01, "value_head": 1.0}


def flatten_obs(obs, batch_dims: int = 1) -> jax.Array:
    """Concatenate every leaf of an observation pytree into one float vector per batch element."""
    leaves = jax.tree.leaves(obs)
    flat = [jnp.reshape(x, x.shape[:batch_dims] + (-1,)).astype(jnp.float32) for x in leaves]
    return flat[0] if len(flat) == 1 else jnp.concatenate(flat, axis=-1)


def _gram_schmidt(a: jax.Array) -> jax.Array:
    """Orthonormalise the columns of ``a`` (``[m, n]``, m >= n) in order: Q of a = QR with diag(R) > 0.

    Projects twice per column for float32 accuracy. All-zero columns stay zero (used for padding).
    """

    def column(q, j):
        v = a[:, j]
        for _ in range(2):  # columns >= j of q are still zero
            v = v - q @ (q.T @ v)
        norm = jnp.linalg.norm(v)
        return q.at[:, j].set(v / jnp.where(norm > 0, norm, 1.0)), None

    q, _ = jax.lax.scan(column, jnp.zeros(a.shape, jnp.float32), jnp.arange(a.shape[1]))
    return q


def orthogonal(scale: float = 1.0):
    """Orthogonal kernel initialiser (Saxe et al. 2014; Haar-distributed, as flax's) without LAPACK.

    flax's ``orthogonal`` calls LAPACK's QR. Under ``vmap`` (seeds, sweeps, ES populations) that becomes a
    batched QR which jaxlib 0.10 runs with ``ParallelBatchMap`` on XLA:CPU's intra-op pool; two such QRs
    running at once on a 2-thread pool wait on each other forever. Gram-Schmidt (twice, for float32
    accuracy) over a Gaussian matrix gives the same distribution: Q of A = QR with diag(R) > 0.
    """

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        if len(shape) != 2:
            raise ValueError(f"orthogonal init needs a 2-D kernel shape, got {tuple(shape)}")
        return orthogonal_stack(key, [(int(shape[0]), int(shape[1]))], [scale])[0].astype(dtype)

    return init


def orthogonal_stack(
    key: jax.Array, shapes: Sequence[tuple[int, int]], scales: Sequence[float]
) -> list[jax.Array]:
    """One ``scale * Q`` kernel per shape, distributed as ``orthogonal(scale)`` gives, from one Gaussian draw
    and one batched Gram-Schmidt: a network's kernels compile as one small loop, not one loop per layer.
    Each kernel is a zero-padded tall block of a common ``[m, n]`` Gaussian; padding changes no inner product."""
    tall = [(max(r, c), min(r, c)) for r, c in shapes]
    m, n = max(t[0] for t in tall), max(t[1] for t in tall)
    rows = jnp.arange(m)[None, :, None] < jnp.array([t[0] for t in tall])[:, None, None]
    cols = jnp.arange(n)[None, None, :] < jnp.array([t[1] for t in tall])[:, None, None]
    gauss = jnp.where(rows & cols, jax.random.normal(key, (len(shapes), m, n), jnp.float32), 0.0)
    q = jax.vmap(_gram_schmidt)(gauss)
    out = []
    for i, ((r, c), (tr, tc), scale) in enumerate(zip(shapes, tall, scales, strict=True)):
        qi = scale * q[i, :tr, :tc]
        out.append(qi if r >= c else qi.T)
    return out


def _dense(features: int, scale: float, orthogonal_init: bool, deferred: bool = False) -> nn.Dense:
    if deferred:  # the owner's ``init`` fills the kernel (see ActorCritic.init)
        return nn.Dense(features, kernel_init=nn.initializers.zeros, bias_init=nn.initializers.zeros)
    if orthogonal_init:
        return nn.Dense(features, kernel_init=orthogonal(scale), bias_init=nn.initializers.zeros)
    return nn.Dense(features)


class MLP(nn.Module):
    hidden: Sequence[int]
    activation: str = "tanh"
    orthogonal: bool = True
    deferred_orthogonal: bool = False

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(_dense(width, HIDDEN_SCALE, self.orthogonal, self.deferred_orthogonal)(x))
        return x


def orthogonalize(variables: dict, rngs, skip: tuple[str, ...] = ()) -> dict:
    """``variables`` with every kernel (but those under the top-level modules in ``skip``) replaced by an
    orthogonal one at its layer's scale (``HEAD_SCALES`` for heads, ``HIDDEN_SCALE`` otherwise), in one
    batched QR (``orthogonal_stack``)."""
    key = rngs["params"] if isinstance(rngs, dict) else rngs
    flat = traverse_util.flatten_dict(variables["params"])
    paths = [p for p in flat if p[-1] == "kernel" and p[0] not in skip]
    kernels = orthogonal_stack(
        jax.random.fold_in(key, 1),
        [flat[p].shape for p in paths],
        [HEAD_SCALES.get(p[0], HIDDEN_SCALE) for p in paths],
    )
    flat.update(zip(paths, kernels, strict=True))
    return {**variables, "params": traverse_util.unflatten_dict(flat)}


class ActorCritic(nn.Module):
    """Policy head (logits, or Gaussian mean + state-independent log-std) and a value head.

    ``shared_torso`` puts both heads on one MLP; otherwise each has its own. ``critic_obs`` (e.g. a privileged
    observation) feeds the value head when given (asymmetric critic; needs separate torsos).
    """

    action_dim: int
    continuous: bool
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    shared_torso: bool = False
    orthogonal: bool = True
    log_std_init: float = 0.0

    def setup(self):
        ortho = self.orthogonal
        self.actor_torso = MLP(self.hidden, self.activation, ortho, deferred_orthogonal=ortho)
        if not self.shared_torso:
            self.critic_torso = MLP(self.hidden, self.activation, ortho, deferred_orthogonal=ortho)
        self.policy_head = _dense(self.action_dim, HEAD_SCALES["policy_head"], ortho, deferred=ortho)
        self.value_head = _dense(1, HEAD_SCALES["value_head"], ortho, deferred=ortho)
        if self.continuous:
            self.log_std = self.param(
                "log_std", nn.initializers.constant(self.log_std_init), (self.action_dim,)
            )

    def init(self, rngs, *args, **kwargs):
        """flax ``init``, then every kernel made orthogonal at its scale by ``orthogonal_stack``."""
        variables = super().init(rngs, *args, **kwargs)
        return orthogonalize(variables, rngs) if self.orthogonal else variables

    def policy(self, x: jax.Array):
        out = self.policy_head(self.actor_torso(x))
        if self.continuous:
            return out, jnp.broadcast_to(self.log_std, out.shape)
        return out

    def value(self, x: jax.Array) -> jax.Array:
        torso = self.actor_torso if self.shared_torso else self.critic_torso
        return self.value_head(torso(x))[..., 0]

    def __call__(self, x: jax.Array, critic_x: jax.Array | None = None):
        return self.policy(x), self.value(x if critic_x is None else critic_x)


# Distributions: plain functions over the policy head's output (no distrax/TFP dependency).


def sample_action(pi, key: jax.Array, continuous: bool) -> jax.Array:
    if continuous:
        mean, log_std = pi
        return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
    return jax.random.categorical(key, pi)


def log_prob(pi, action: jax.Array, continuous: bool) -> jax.Array:
    if continuous:
        mean, log_std = pi
        z = (action - mean) * jnp.exp(-log_std)
        return jnp.sum(-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi), axis=-1)
    logp = jax.nn.log_softmax(pi)
    # a masked sum rather than take_along_axis: its gradient is a select, not a scatter (fuses on CPU)
    chosen = action[..., None].astype(jnp.int32) == jnp.arange(pi.shape[-1])
    return jnp.sum(jnp.where(chosen, logp, 0.0), axis=-1)


def entropy(pi, continuous: bool) -> jax.Array:
    if continuous:
        _, log_std = pi
        return jnp.sum(log_std + 0.5 * (1.0 + math.log(2 * math.pi)), axis=-1)
    logp = jax.nn.log_softmax(pi)
    return -jnp.sum(jnp.exp(logp) * logp, axis=-1)


def greedy_action(pi, continuous: bool) -> jax.Array:
    return pi[0] if continuous else jnp.argmax(pi, axis=-1)
