"""Exact finite-horizon analysis of a tabular MDP, in JAX (float64): the quantities of Laidlaw et al., "Bridging
RL Theory and Practice with the Effective Horizon" (2023) and "The Effective Horizon Explains Deep RL
Performance in Stochastic Environments" (2024), computed as their reference code (EffectiveHorizon.jl) does.

An MDP is ``transitions[S, A]`` (next state) and ``rewards[S, A]``; state 0 is the start and terminal
transitions lead to an absorbing zero-reward state (``envs/grid/bridge.py`` builds them from a level).
Returns are undiscounted over a horizon ``T``. With sticky actions (probability ``p``) the state is
``(s, previous action)``: the chosen action runs with probability ``1 - p`` and the previous one with ``p``,
except at the first step.

* ``value_iteration``: Q* (optimal), Q^rand (the uniformly random policy) and Q^worst, per timestep.
* ``min_k``: the smallest k such that acting greedily on k - 1 Bellman backups of Q^rand is optimal (every
  greedy action, ties included, in every state such actions reach, is optimal); ``epw`` (effective planning
  window): the same, starting from the immediate reward.
* ``effective_horizon``: the bound of the deterministic paper's Theorem 5.4 (``min_k k + log_A m_k``) for
  deterministic MDPs.
* ``policy_value``: the exact value of any non-stationary policy ``[T, X, A]``.
* ``tabular_sqirl``: SQIRL with empirical means in place of regression, the oracle for ``algos/sqirl.py``.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

PRECISION = 1e-4  # an action is optimal when its Q* is within this of V* (the reference's REWARD_PRECISION)


@struct.dataclass
class TabularMDP:
    """``transitions`` int[S, A] (the absorbing terminal state maps to itself), ``rewards`` float[S, A];
    state 0 is the start."""

    transitions: Any
    rewards: Any

    @property
    def num_states(self) -> int:
        return int(np.shape(self.transitions)[0])

    @property
    def num_actions(self) -> int:
        return int(np.shape(self.transitions)[1])


@struct.dataclass
class Model:
    """The (sticky-expanded) model: from state x under action a, with probability ``1 - p`` (1 at t = 0) go to
    ``next_a`` with reward ``r_a``, else to ``next_p`` with ``r_p`` (the previous action repeated)."""

    next_a: jax.Array  # int[X, A]
    r_a: jax.Array  # f64[X, A]
    next_p: jax.Array
    r_p: jax.Array
    p: jax.Array  # f64


def model(mdp: TabularMDP, sticky: float = 0.0) -> Model:
    """The model over states x = s (``sticky == 0``) or x = s * A + previous action (``sticky > 0``)."""
    T = jnp.asarray(mdp.transitions, jnp.int32)
    R = jnp.asarray(mdp.rewards, jnp.float64)
    S, A = T.shape
    if sticky == 0:
        return Model(T, R, T, R, jnp.float64(0.0))
    s = jnp.arange(S * A) // A
    prev = jnp.arange(S * A) % A
    a = jnp.arange(A)
    next_a = T[s] * A + a[None, :]
    next_p = jnp.broadcast_to((T[s, prev] * A + prev)[:, None], (S * A, A))
    r_p = jnp.broadcast_to(R[s, prev][:, None], (S * A, A))
    i32 = lambda v: v.astype(jnp.int32)  # noqa: E731  (x64 would make the index arithmetic int64)
    return Model(i32(next_a), R[s], i32(next_p), r_p, jnp.float64(sticky))


def _expect(m: Model, t: jax.Array, f_a: jax.Array, f_p: jax.Array) -> jax.Array:
    """``E[f]`` over the two outcomes at timestep ``t`` (no stickiness at t = 0)."""
    p = jnp.where(t == 0, 0.0, m.p)
    return (1.0 - p) * f_a + p * f_p


def backup(m: Model, t: jax.Array, v_next: jax.Array) -> jax.Array:
    """Q_t[x, a] = E[r + V_{t+1}(x')]."""
    return _expect(m, t, m.r_a + v_next[m.next_a], m.r_p + v_next[m.next_p])


def immediate(m: Model, t: jax.Array) -> jax.Array:
    return _expect(m, t, m.r_a, m.r_p)


@struct.dataclass
class Values:
    q_star: jax.Array  # [T, X, A]
    q_rand: jax.Array
    q_worst: jax.Array
    v_star: jax.Array  # [T, X]
    v_rand: jax.Array
    v_worst: jax.Array


def value_iteration(m: Model, horizon: int) -> Values:
    """Q*, Q^rand and Q^worst for every timestep, backwards from V_T = 0."""

    def step(v, t):
        v_star, v_rand, v_worst = v
        qs, qr, qw = backup(m, t, v_star), backup(m, t, v_rand), backup(m, t, v_worst)
        vs, vw = qs.max(-1), qw.min(-1)
        vr = jnp.clip(qr.mean(-1), vw, vs)  # as the reference: rounding never leaves [worst, optimal]
        return (vs, vr, vw), (qs, qr, qw, vs, vr, vw)

    zeros = jnp.zeros(m.next_a.shape[0], jnp.float64)
    ts = jnp.arange(horizon - 1, -1, -1)
    _, out = jax.lax.scan(step, (zeros, zeros, zeros), ts)
    return Values(*(x[::-1] for x in out))


def reachable(m: Model, allowed: jax.Array) -> jax.Array:
    """bool[T, X]: states reachable from state 0 taking only ``allowed`` ([T, X, A]) actions."""
    X = m.next_a.shape[0]

    def step(mask, xs):
        t, ok = xs
        take = (mask[:, None] & ok).astype(jnp.int32)
        hits = jnp.zeros(X, jnp.int32).at[m.next_a].add(take)
        hits = hits.at[m.next_p].add(take * ((t > 0) & (m.p > 0)))
        return hits > 0, mask

    start = jnp.zeros(X, bool).at[0].set(True)
    T = allowed.shape[0]
    return jax.lax.scan(step, start, (jnp.arange(T), allowed))[1]


def _greedy_optimal(m: Model, vals: Values, q: jax.Array) -> jax.Array:
    """Whether acting greedily on ``q`` (every tie) is optimal wherever it leads."""
    greedy = q >= q.max(-1, keepdims=True)
    reach = reachable(m, greedy)
    bad = greedy & (vals.q_star < vals.v_star[..., None] - PRECISION) & reach[..., None]
    return ~bad.any()


def _bellman(m: Model, q: jax.Array) -> jax.Array:
    """One synchronous backup of ``q`` at every timestep but the last: Q_t = E[r + max Q_{t+1}(x')]."""
    T = q.shape[0]
    nxt = jax.vmap(lambda t, qn: backup(m, t, qn.max(-1)))(jnp.arange(T - 1), q[1:])
    return q.at[:-1].set(nxt)


def min_k(m: Model, vals: Values, start_with_rewards: bool = False) -> int | None:
    """The smallest k (1..T) for which greedy on k - 1 backups of Q^rand (``start_with_rewards``: of the
    immediate reward, giving the EPW) is optimal; None if none is."""
    T = vals.q_star.shape[0]
    q = jax.vmap(lambda t: immediate(m, t))(jnp.arange(T)) if start_with_rewards else vals.q_rand
    check, step = jax.jit(lambda q: _greedy_optimal(m, vals, q)), jax.jit(lambda q: _bellman(m, q))
    for k in range(1, T + 1):
        if bool(check(q)):
            return k
        q = step(q)
    return None


def effective_horizon(mdp: TabularMDP, m: Model, vals: Values) -> dict:
    """Theorem 5.4's bound for a deterministic MDP: ``min over k of k + log_A(max m)``, where over the states
    greedy-on-Q^k reaches, ``m = ceil(16 var / gap^2 * ln(2 T A^k))`` (at least 1), ``gap`` the margin of the
    best action of Q^k over the best suboptimal one and ``var = (Q^rand - Q^worst)(Q* - Q^worst)`` backed up
    by maxima; k runs while it is below the best bound so far. Returns the bound, the ks that work, their
    largest m, and that state's gap and variance bound."""
    T, X, A = vals.q_star.shape
    var = (vals.q_rand - vals.q_worst) * (vals.q_star - vals.q_worst)
    suboptimal = vals.q_star < vals.v_star[..., None] - PRECISION

    @jax.jit
    def trial(q, var, k):
        max_q = q.max(-1)
        max_sub = jnp.where(suboptimal, q, -jnp.inf).max(-1)
        allowed = q > max_sub[..., None]
        reach = reachable(m, allowed)
        works = ~(reach & (max_q == max_sub)).any()
        gap = max_q - max_sub
        max_var = jnp.maximum(var.max(-1), 0.0)
        log_term = jnp.log(2.0 * T) + k * jnp.log(float(A))
        ms = jnp.maximum(1.0, jnp.ceil(16.0 * max_var / gap**2 * log_term))
        ms = jnp.where(reach & jnp.isfinite(ms), ms, jnp.where(reach, 1.0, 0.0))
        i = jnp.argmax(ms.reshape(-1))
        return works, ms.reshape(-1)[i], gap.reshape(-1)[i], max_var.reshape(-1)[i]

    @jax.jit
    def step(q, var):
        nxt = var.max(-1)[1:, m.next_a]  # [T - 1, X, A]: the next state's largest bound (deterministic)
        return _bellman(m, q), var.at[:-1].set(nxt)

    best = float(T)
    out = {"ks": [], "ms": [], "gaps": [], "vars": []}
    q, k = vals.q_rand, 1
    while k < best:
        works, m_k, gap, v = trial(q, var, k)
        if bool(works):
            h = k + math.log(float(m_k)) / math.log(A)
            best = min(best, h)
            out["ks"].append(k)
            out["ms"].append(float(m_k))
            out["gaps"].append(float(gap) if math.isfinite(float(gap)) else None)  # None: nothing suboptimal
            out["vars"].append(float(v))
        q, var = step(q, var)
        k += 1
    return {"effective_horizon": best, **out}


def policy_value(m: Model, policy: jax.Array) -> jax.Array:
    """V^pi at every (t, x) for a non-stationary policy ``[T, X, A]`` of action probabilities (one-hot
    rows for a deterministic one)."""
    T = policy.shape[0]

    def step(v, t):
        v = (backup(m, t, v) * policy[t]).sum(-1)
        return v, v

    _, vs = jax.lax.scan(step, jnp.zeros(m.next_a.shape[0], jnp.float64), jnp.arange(T - 1, -1, -1))
    return vs[::-1]


def tabular_sqirl(m_: Model, horizon: int, episodes: int, k: int, key: jax.Array) -> jax.Array:
    """SQIRL with empirical means in place of regression (the reference oracle for the deep learner):
    iteration i collects ``episodes`` episodes (greedy on the policies of timesteps < i, then uniformly
    random), keeping the samples with t >= i; Q-hat at timestep i + k - 1 is the mean return-to-go per
    (t, x, a) over all kept samples, backed up k - 1 times by sample means of ``r + max Q-hat_{t+1}(x')``
    down to timestep i, whose greedy action becomes the policy of timestep i. Unseen actions are never
    chosen (all unseen: action 0). Returns the policy, int[T, X]."""
    T, (X, A), n = int(horizon), m_.next_a.shape, int(episodes)
    ts = jnp.arange(T)

    def rollout(policy, i, key):
        def step(x, xs):
            t, kt = xs
            k_a, k_s = jax.random.split(kt)
            a = jnp.where(t < i, policy[t, x], jax.random.randint(k_a, (n,), 0, A)).astype(jnp.int32)
            stuck = (jax.random.uniform(k_s, (n,)) < m_.p) & (t > 0)
            nxt = jnp.where(stuck, m_.next_p[x, a], m_.next_a[x, a])
            r = jnp.where(stuck, m_.r_p[x, a], m_.r_a[x, a])
            return nxt, (x, a, r, nxt)

        return jax.lax.scan(step, jnp.zeros(n, jnp.int32), (ts, jax.random.split(key, T)))[1]  # each [T, n]

    def means(values, x, a, valid):
        total = jnp.zeros((X, A)).at[x, a].add(jnp.where(valid, values, 0.0))
        count = jnp.zeros((X, A)).at[x, a].add(valid.astype(total.dtype))
        return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)

    def iteration(carry, xs):
        policy, data = carry
        i, key = xs
        x, a, r, nxt = rollout(policy, i, key)
        ret = jax.lax.scan(lambda g, rr: (rr + g, rr + g), jnp.zeros(n, r.dtype), r, reverse=True)[1]
        data = jax.tree.map(lambda d, v: d.at[i].set(v), data, (x, a, r, nxt, ret))
        dx, da, dr, dn, dg = data  # [I, T, n]
        kept = (jnp.arange(T)[:, None] <= i) & (ts[None, :] >= jnp.arange(T)[:, None])  # [I, T]
        q = None
        for depth in reversed(range(k)):  # timestep i + depth, from the leaf back to i
            t = jnp.minimum(i + depth, T - 1)
            valid = jnp.broadcast_to(kept[:, t][:, None], (T, n)) & (i + depth < T)
            if q is None:
                target = dg[:, t]
            else:
                best = jnp.where(jnp.isnan(q), -jnp.inf, q).max(-1)
                target = dr[:, t] + jnp.where(jnp.isfinite(best), best, 0.0)[dn[:, t]]
            q = means(target, dx[:, t], da[:, t], valid)
        greedy = jnp.where(jnp.isnan(q), -jnp.inf, q).argmax(-1).astype(jnp.int32)
        return (policy.at[i].set(greedy), data), None

    empty = (jnp.zeros((T, T, n), jnp.int32), jnp.zeros((T, T, n), jnp.int32), jnp.zeros((T, T, n)),
             jnp.zeros((T, T, n), jnp.int32), jnp.zeros((T, T, n)))  # fmt: skip
    init = (jnp.zeros((T, X), jnp.int32), empty)
    (policy, _), _ = jax.lax.scan(iteration, init, (ts, jax.random.split(key, T)))
    return policy


def analyze(mdp: TabularMDP, horizon: int, sticky: float = 0.0, bound: bool = True) -> dict:
    """Everything at the start state (t = 0), undiscounted: ``states`` (of the MDP, absorbing state
    included; ``model_states`` after the sticky expansion), ``v_star``, ``v_rand``, ``v_worst``, ``min_k``,
    ``epw`` and, for deterministic MDPs with ``bound``, ``effective_horizon`` (None with sticky actions,
    where the theorem does not apply)."""
    if int(horizon) < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if not 0.0 <= float(sticky) < 1.0:
        raise ValueError(f"sticky must lie in [0, 1), got {sticky}")
    with jax.enable_x64(True):
        m = model(mdp, float(sticky))
        vals = jax.jit(value_iteration, static_argnums=1)(m, int(horizon))
        out = {
            "states": mdp.num_states,
            "model_states": int(m.next_a.shape[0]),
            "actions": mdp.num_actions,
            "horizon": int(horizon),
            "sticky": float(sticky),
            "v_star": float(vals.v_star[0, 0]),
            "v_rand": float(vals.v_rand[0, 0]),
            "v_worst": float(vals.v_worst[0, 0]),
            "min_k": min_k(m, vals),
            "epw": min_k(m, vals, start_with_rewards=True),
            "effective_horizon": None,
        }
        if bound and float(sticky) == 0.0:
            eh = effective_horizon(mdp, m, vals)
            out["effective_horizon"] = eh["effective_horizon"]
            out["effective_horizon_terms"] = {k: v for k, v in eh.items() if k != "effective_horizon"}
    return out


__all__ = [
    "Model",
    "TabularMDP",
    "Values",
    "analyze",
    "backup",
    "effective_horizon",
    "min_k",
    "model",
    "policy_value",
    "reachable",
    "tabular_sqirl",
    "value_iteration",
]
