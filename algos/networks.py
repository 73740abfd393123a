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

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "silu": nn.silu, "gelu": nn.gelu}


def flatten_obs(obs, batch_dims: int = 1) -> jax.Array:
    """Concatenate every leaf of an observation pytree into one float vector per batch element."""
    leaves = jax.tree.leaves(obs)
    flat = [jnp.reshape(x, x.shape[:batch_dims] + (-1,)).astype(jnp.float32) for x in leaves]
    return flat[0] if len(flat) == 1 else jnp.concatenate(flat, axis=-1)


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
        rows, cols = int(shape[0]), int(shape[1])
        m, n = max(rows, cols), min(rows, cols)
        a = jax.random.normal(key, (m, n), jnp.float32)

        def column(q, j):
            v = a[:, j]
            v = v - q @ (q.T @ v)  # columns >= j of q are still zero
            v = v - q @ (q.T @ v)
            return q.at[:, j].set(v / jnp.linalg.norm(v)), None

        q, _ = jax.lax.scan(column, jnp.zeros((m, n), jnp.float32), jnp.arange(n))
        q = q if rows >= cols else q.T
        return (scale * q).astype(dtype)

    return init


def _dense(features: int, scale: float, orthogonal_init: bool) -> nn.Dense:
    if orthogonal_init:
        return nn.Dense(features, kernel_init=orthogonal(scale), bias_init=nn.initializers.zeros)
    return nn.Dense(features)


class MLP(nn.Module):
    hidden: Sequence[int]
    activation: str = "tanh"
    orthogonal: bool = True

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(_dense(width, math.sqrt(2.0), self.orthogonal)(x))
        return x


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
        self.actor_torso = MLP(self.hidden, self.activation, self.orthogonal)
        if not self.shared_torso:
            self.critic_torso = MLP(self.hidden, self.activation, self.orthogonal)
        self.policy_head = _dense(self.action_dim, 0.01, self.orthogonal)
        self.value_head = _dense(1, 1.0, self.orthogonal)
        if self.continuous:
            self.log_std = self.param(
                "log_std", nn.initializers.constant(self.log_std_init), (self.action_dim,)
            )

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
    return jnp.take_along_axis(logp, action[..., None].astype(jnp.int32), axis=-1)[..., 0]


def entropy(pi, continuous: bool) -> jax.Array:
    if continuous:
        _, log_std = pi
        return jnp.sum(log_std + 0.5 * (1.0 + math.log(2 * math.pi)), axis=-1)
    logp = jax.nn.log_softmax(pi)
    return -jnp.sum(jnp.exp(logp) * logp, axis=-1)


def greedy_action(pi, continuous: bool) -> jax.Array:
    return pi[0] if continuous else jnp.argmax(pi, axis=-1)
