"""Drift functions for mirror-learning policy objectives: loss = -(r * A - D(r, A, ...)), D >= 0.

Lu et al. 2022 ("Discovered Policy Optimisation"): every drift here is
non-negative and, at r = 1, zero with zero gradient in r, so each objective is a valid mirror-learning update.

* ``ppo_drift``: PPO-clip written as a drift, relu((r - clip(r, 1 - eps, 1 + eps)) * A).
* ``dpo_drift``: DPO's closed form (alpha = 2, beta = 0.6, PureJaxRL ``dpo_continuous_action.py``).
* ``lpo_drift``: LPO's learned drift: a bias-free tanh MLP over inputs that all vanish at r = 1
  (x = [r - 1, (r - 1)^2, log r, (log r)^2] and A * x, 8 inputs, as in learn-rl-algorithms' ``lpo_bb``).
* TA-LPO (``temporal=True``): the same inputs and their product with training progress n/N (16 inputs).

Output constraint. The reference (``dpo/brax_drift.py``) uses relu(net + relu(ppo drift) - 1e-4), so a zero
network there is PPO *minus 1e-4* (and its gradient differs wherever 0 < ppo drift < 1e-4). We put the dead
zone on the network alone: D = relu(w_ppo * D_ppo + w_dpo * D_dpo + shrink(net)), shrink(u) =
sign(u) * relu(|u| - 1e-4). The network is continuous and exactly 0 at r = 1 (no biases, inputs 0), so
shrink(net) is 0 on a neighbourhood of r = 1 (D = 0 with zero gradient there), and a zero network gives
*exactly* PPO (w_ppo = 1: "PPO-init") or DPO (w_dpo = 1) while the net can still remove base drift.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

DEAD_ZONE = 1e-4  # width of the network's dead zone around 0 (the reference's 1e-4 offset)
KINDS = ("ppo", "dpo", "lpo", "ta_lpo")
NETWORK_KINDS = ("lpo", "ta_lpo")
DPO_ALPHA, DPO_BETA = 2.0, 0.6


def safe_log(r: jax.Array) -> jax.Array:
    """log r with r floored at 1e-20, so an underflowed ratio cannot make inf/NaN (or NaN gradients)."""
    return jnp.log(jnp.maximum(r, 1e-20))


# ----------------------------------------------------------------------------------------------------------
# Closed forms


def ppo_drift(ratio: jax.Array, adv: jax.Array, clip_eps: float | jax.Array = 0.2) -> jax.Array:
    """PPO-clip as a drift: -min(rA, clip(r)A) = -(rA - relu((r - clip r) A))."""
    return jax.nn.relu((ratio - jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)) * adv)


def dpo_drift(
    ratio: jax.Array, adv: jax.Array, alpha: float | jax.Array = DPO_ALPHA, beta: float | jax.Array = DPO_BETA
) -> jax.Array:
    """DPO: relu((r-1)A - alpha tanh((r-1)A/alpha)) for A >= 0, relu(log r A - beta tanh(log r A/beta)) else."""
    pos = (ratio - 1.0) * adv
    neg = safe_log(ratio) * adv
    return jnp.where(
        adv >= 0.0,
        jax.nn.relu(pos - alpha * jnp.tanh(pos / alpha)),
        jax.nn.relu(neg - beta * jnp.tanh(neg / beta)),
    )


# ----------------------------------------------------------------------------------------------------------
# Learned drift network (LPO, TA-LPO)


def num_inputs(temporal: bool) -> int:
    return 16 if temporal else 8


def features(ratio: jax.Array, adv: jax.Array, progress: jax.Array | float = 0.0, temporal: bool = False):
    """Network inputs, shape ``ratio.shape + (8,)`` (LPO) or ``(16,)`` (TA-LPO); all exactly 0 at r = 1."""
    d = ratio - 1.0
    lr = safe_log(ratio)
    x = jnp.stack([d, d * d, lr, lr * lr], axis=-1)
    x = jnp.concatenate([x, adv[..., None] * x], axis=-1)
    if temporal:
        p = jnp.broadcast_to(jnp.asarray(progress, x.dtype), ratio.shape)[..., None]
        x = jnp.concatenate([x, p * x], axis=-1)
    return x


def init_params(key: jax.Array | None, hidden: int, temporal: bool, scale: float = 1.0) -> dict:
    """``{"w_in": [F, hidden], "w_out": [hidden]}``; w_in ~ N(0, scale^2 / F) (zeros when key is None), w_out = 0.

    w_out = 0 makes the network output exactly 0, so a fresh drift is its base drift (PPO with PPO-init), while
    a random w_in makes evolution-strategy perturbations of w_out change the drift at first order in sigma.
    """
    n_in = num_inputs(temporal)
    if hidden < 1:
        raise ValueError(f"the drift network needs hidden >= 1 units, got {hidden}")
    w_in = (
        jnp.zeros((n_in, hidden))
        if key is None
        else jax.random.normal(key, (n_in, hidden)) * (scale / math.sqrt(n_in))
    )
    return {"w_in": w_in.astype(jnp.float32), "w_out": jnp.zeros((hidden,), jnp.float32)}


def check_params(params: Any, hidden: int | None, temporal: bool, batch_dims: int = 0) -> None:
    """Raise ValueError unless ``params`` is a drift network of the right input width (and ``hidden``)."""
    if not isinstance(params, dict) or set(params) != {"w_in", "w_out"}:
        raise ValueError(
            f"drift network params must be a dict with keys w_in, w_out; got {type(params).__name__}"
            + (f" with keys {sorted(params)}" if isinstance(params, dict) else "")
        )
    w_in, w_out = np.shape(params["w_in"])[batch_dims:], np.shape(params["w_out"])[batch_dims:]
    n_in = num_inputs(temporal)
    kind = "ta_lpo" if temporal else "lpo"
    if len(w_in) != 2 or w_in[0] != n_in or len(w_out) != 1 or w_out[0] != w_in[1]:
        raise ValueError(f"{kind} drift network needs w_in [{n_in}, H] and w_out [H]; got {w_in} and {w_out}")
    if hidden is not None and w_in[1] != hidden:
        raise ValueError(
            f"drift network has {w_in[1]} hidden units but the config says drift_hidden={hidden}"
        )


def network(params: dict, x: jax.Array) -> jax.Array:
    """Bias-free tanh MLP: tanh(x @ w_in) @ w_out (exactly 0 where x = 0)."""
    return jnp.tanh(x @ params["w_in"]) @ params["w_out"]


def shrink(u: jax.Array, width: float = DEAD_ZONE) -> jax.Array:
    """Soft threshold: 0 on [-width, width], u -/+ width outside (continuous; zero gradient inside)."""
    return jnp.sign(u) * jax.nn.relu(jnp.abs(u) - width)


def lpo_drift(
    params: dict,
    ratio: jax.Array,
    adv: jax.Array,
    progress: jax.Array | float = 0.0,
    *,
    temporal: bool = False,
    ppo_weight: float | jax.Array = 1.0,
    dpo_weight: float | jax.Array = 0.0,
    clip_eps: float | jax.Array = 0.2,
    alpha: float | jax.Array = DPO_ALPHA,
    beta: float | jax.Array = DPO_BETA,
) -> jax.Array:
    """Learned drift relu(w_ppo D_ppo + w_dpo D_dpo + shrink(net(x))); (w_ppo, w_dpo) = (1, 0) is PPO-init."""
    out = shrink(network(params, features(ratio, adv, progress, temporal)))
    base = ppo_weight * ppo_drift(ratio, adv, clip_eps) + dpo_weight * dpo_drift(ratio, adv, alpha, beta)
    return jax.nn.relu(base + out)


# ----------------------------------------------------------------------------------------------------------
# Objectives for the PPO ``policy_loss`` hook


def drift_value(kind: str, ratio, adv, hparams: Any, progress, params: dict | None = None) -> jax.Array:
    """D(r, A) of drift ``kind`` with its settings read from ``hparams`` (a ``DriftHparams``)."""
    if kind == "ppo":
        return ppo_drift(ratio, adv, hparams.clip_eps)
    if kind == "dpo":
        return dpo_drift(ratio, adv, hparams.dpo_alpha, hparams.dpo_beta)
    if kind in NETWORK_KINDS:
        return lpo_drift(
            params,
            ratio,
            adv,
            progress,
            temporal=kind == "ta_lpo",
            ppo_weight=hparams.drift_ppo,
            dpo_weight=hparams.drift_dpo,
            clip_eps=hparams.clip_eps,
            alpha=hparams.dpo_alpha,
            beta=hparams.dpo_beta,
        )
    raise ValueError(f"unknown drift {kind!r}; choose from {KINDS}")


def drift_objective(ratio, adv, drift) -> jax.Array:
    """Per-sample loss to minimise: -(r A - D)."""
    return -(ratio * adv - drift)


def surface(
    kind: str,
    ratio: np.ndarray,
    adv: np.ndarray,
    params: dict | None = None,
    progress: float = 0.0,
    hparams: Any = None,
) -> np.ndarray:
    """D over a grid ``[len(adv), len(ratio)]`` (rows: advantage), for plots of the learned drift."""
    from jaxrl_suite.algos.drift_ppo import DriftHparams

    hp = DriftHparams() if hparams is None else hparams
    r, a = np.meshgrid(np.asarray(ratio, np.float32), np.asarray(adv, np.float32))
    return np.asarray(drift_value(kind, jnp.asarray(r), jnp.asarray(a), hp, jnp.float32(progress), params))
