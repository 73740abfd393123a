"""Truncation-correct generalised advantage estimation (Schulman et al. 2016).

``next_values[t]`` must be V of the observation that followed step t *before* any auto-reset: V(obs[t+1])
within an episode and V(info["final_observation"][t]) at its end. Termination zeroes the bootstrap;
truncation keeps it; either ends the lambda-recursion because the next step belongs to a new episode.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(rewards, values, next_values, terminated, done, gamma, gae_lambda, unroll: int = 8):
    """Advantages and value targets, arrays shaped ``[T, ...]`` (time first)."""
    not_term = 1.0 - terminated.astype(jnp.float32)
    not_done = 1.0 - done.astype(jnp.float32)
    deltas = rewards + gamma * next_values * not_term - values

    def body(carry, xs):
        delta, cont = xs
        carry = delta + gamma * gae_lambda * cont * carry
        return carry, carry

    _, adv = jax.lax.scan(body, jnp.zeros_like(deltas[0]), (deltas, not_done), reverse=True, unroll=unroll)
    return adv, adv + values
