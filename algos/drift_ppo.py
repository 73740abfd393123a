"""Drift-based policy optimisation: PPO's compiled loop with the policy loss -(r A - D) for a pluggable drift D.

``Config.drift`` picks D: "ppo" (PPO-clip as a drift), "dpo" (DPO's closed form), "lpo" or "ta_lpo" (learned
networks, see ``algos/drift.py``). Everything else (rollouts, GAE, value loss, optimiser, runtime) is
``algos/ppo.py``. Network weights are hyperparameters (``Hparams.drift_params``), so a population of drifts is
vmapped like any sweep; when they are ``None`` the config's ``drift_weights`` file (or a zero network) is used,
which keeps the default hparams shape-free for the runtime and CLI. Exposes the learner-module names
(``Config``, ``Hparams``, ``make_train``, ``evaluate``, ``rollout_states``) like ``algos/ppo.py``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_suite.algos import drift as dr
from jaxrl_suite.algos import ppo
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, check_hparams, evaluate, rollout_states
from jaxrl_suite.algos.ppo_rnn import RecurrentTrainer


@struct.dataclass
class DriftHparams(PPOHparams):
    """PPO's hyperparameters plus the drift's; every leaf may carry a leading batch axis.

    ``drift_ppo``/``drift_dpo`` weight the closed-form drifts inside a learned drift's relu: (1, 0) is LPO's
    PPO-init (a zero network is exactly PPO), (0, 1) a DPO-init. ``drift_params``: network weights or None.
    """

    dpo_alpha: float = dr.DPO_ALPHA
    dpo_beta: float = dr.DPO_BETA
    drift_ppo: float = 1.0
    drift_dpo: float = 0.0
    drift_params: Any = None

    def validate(self) -> DriftHparams:
        PPOHparams.validate(self)
        rules = {
            "dpo_alpha": lambda v: v > 0,
            "dpo_beta": lambda v: v > 0,
            "drift_ppo": lambda v: v >= 0,
            "drift_dpo": lambda v: v >= 0,
        }
        check_hparams(self, rules)
        if self.drift_params is not None and not isinstance(self.drift_params, dict):
            raise ValueError(
                "drift_params must be a dict of arrays (w_in, w_out); to load weights from a file use "
                "DriftConfig.drift_weights (--drift-weights)"
            )
        if self.drift_params is not None:
            leaves = [x for x in jax.tree.leaves(self.drift_params) if not isinstance(x, jax.core.Tracer)]
            if any(not np.all(np.isfinite(np.asarray(x))) for x in leaves):
                raise ValueError("drift_params contain NaN or inf")
        return self


@dataclasses.dataclass(frozen=True)
class DriftConfig(PPOConfig):
    """PPO's static configuration plus the drift kind, network width and an optional weights file."""

    drift: str = "dpo"
    drift_hidden: int = 128
    drift_weights: str | None = None  # .npz (w_in, w_out) or a meta_train JSON holding "drift_params"

    @property
    def temporal(self) -> bool:
        return self.drift == "ta_lpo"

    def validate(self) -> DriftConfig:
        PPOConfig.validate(self)
        if self.drift not in dr.KINDS:
            raise ValueError(f"unknown drift {self.drift!r}; choose from {dr.KINDS}")
        if self.drift_weights is not None and self.drift not in dr.NETWORK_KINDS:
            raise ValueError(f"drift_weights is for learned drifts {dr.NETWORK_KINDS}, not {self.drift!r}")
        if int(self.drift_hidden) < 1:
            raise ValueError(f"drift_hidden must be >= 1, got {self.drift_hidden}")
        return self


def load_drift_params(path: str | Path) -> tuple[dict, dict]:
    """``(params, info)`` from an .npz with w_in/w_out or a JSON with ``drift_params`` (and ``drift``, ``hidden``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"drift weights file {path} does not exist")
    if path.suffix == ".npz":
        with np.load(path) as data:
            params = {k: np.asarray(data[k], np.float32) for k in ("w_in", "w_out") if k in data}
        info = {}
    else:
        blob = json.loads(path.read_text())
        if "drift_params" not in blob:
            raise ValueError(f"{path} holds no 'drift_params' (write it with experiments/meta_train_lpo.py)")
        params = {k: np.asarray(v, np.float32) for k, v in blob["drift_params"].items()}
        info = {k: blob[k] for k in ("drift", "hidden") if k in blob}
    return params, info


class DriftTrainer(ppo.Trainer):
    """``ppo.Trainer`` whose policy loss is -(r A - D); default hparams are ``DriftHparams()``."""

    def __init__(self, config: DriftConfig, env: Any, env_params: Any = None):
        config = config.validate()
        self.kind = config.drift
        self.default_drift_params = None
        if config.drift in dr.NETWORK_KINDS:
            if config.drift_weights is not None:
                params, info = load_drift_params(config.drift_weights)
                if info.get("drift", config.drift) != config.drift:
                    raise ValueError(
                        f"{config.drift_weights} holds a {info['drift']!r} drift, not {config.drift!r}"
                    )
                dr.check_params(params, config.drift_hidden, config.temporal)
                self.default_drift_params = jax.tree.map(jnp.asarray, params)
            else:
                self.default_drift_params = dr.init_params(None, config.drift_hidden, config.temporal)
        super().__init__(config, env, env_params, policy_loss=self._policy_loss)

    def drift_params(self, hp: DriftHparams) -> dict | None:
        if self.kind not in dr.NETWORK_KINDS:
            return None
        params = self.default_drift_params if hp.drift_params is None else hp.drift_params
        dr.check_params(
            params, self.config.drift_hidden, self.config.temporal
        )  # shapes are static: trace time
        return params

    def _policy_loss(self, ratio, adv, hp, progress):
        if not isinstance(hp, DriftHparams):
            raise ValueError(f"a drift learner needs DriftHparams, got {type(hp).__name__}")
        d = dr.drift_value(self.kind, ratio, adv, hp, progress, self.drift_params(hp))
        return dr.drift_objective(ratio, adv, d)

    def init(self, key: jax.Array, hparams: DriftHparams | None = None):
        return super().init(key, DriftHparams() if hparams is None else hparams)

    def __call__(self, key: jax.Array, hparams: DriftHparams | None = None) -> ppo.TrainResult:
        return super().__call__(key, DriftHparams() if hparams is None else hparams)


class RecurrentDriftTrainer(DriftTrainer, RecurrentTrainer):
    """The drift learner's policy loss on the recurrent trainer (``policy="gru"`` or ``"lstm"``)."""


def make_train(config: DriftConfig, env: Any, env_params: Any = None) -> DriftTrainer:
    """Validate everything (before any compile) and build the trainer: ``trainer(key, hparams)`` trains."""
    cls = DriftTrainer if config.validate().policy == "mlp" else RecurrentDriftTrainer
    return cls(config, env, env_params)


# Names the CLI and runtime look up on every learner module.
Config = DriftConfig
Hparams = DriftHparams
__all__ = [
    "Config",
    "DriftConfig",
    "DriftHparams",
    "DriftTrainer",
    "Hparams",
    "evaluate",
    "load_drift_params",
    "make_train",
    "rollout_states",
]
