"""What is meta-trained and how it is scored: ``MetaConfig`` with its CPU defaults, base drifts and CRN modes."""

from __future__ import annotations

import dataclasses
import json

from jaxrl_suite.algos import drift as dr
from jaxrl_suite.algos.drift_ppo import DriftConfig, DriftHparams
from jaxrl_suite.algos.meta.es import ESConfig

CRN_MODES = ("fixed", "generation", "off")
BASES = {"ppo": (1.0, 0.0), "dpo": (0.0, 1.0), "none": (0.0, 0.0)}  # (drift_ppo, drift_dpo) weights


def _default_inner() -> DriftConfig:
    """CartPole-sized fast learner (lr 5e-3, so PPO's clipping binds): 8 envs x 128 steps, 4 epochs x 4
    minibatches, 2e4 steps, no anneal."""
    return DriftConfig(
        num_envs=8,
        num_steps=128,
        total_timesteps=20_480,
        update_epochs=4,
        num_minibatches=4,
        anneal_lr=False,
        drift="lpo",
        drift_hidden=16,
    )


@dataclasses.dataclass(frozen=True)
class MetaConfig:
    """What is meta-trained (drift kind, network, base drift) on which inner tasks, and how it is scored."""

    envs: tuple[str, ...] = ("CartPole-v1",)
    drift: str = "lpo"  # lpo | ta_lpo
    hidden: int = 16
    base: str = "ppo"  # closed-form drift the network adds to: ppo (PPO-init), dpo, none
    init_scale: float = 1.0  # w_in ~ N(0, init_scale^2 / inputs); w_out starts at 0 (= the base drift)
    seeds: int = 4  # inner runs per population member
    eval_seeds: int = 8  # held-out seeds for evaluating the mean and the baselines
    crn: str = "fixed"  # common random numbers: fixed (same seeds every generation), generation, off
    fitness_tail: float = 0.1  # fraction of final inner updates whose episodes make the fitness
    normalize: bool | None = None  # per-env (R - R_ppo) / max(|R_ppo|, 1); None: on when several envs
    es: ESConfig = dataclasses.field(default_factory=ESConfig)
    inner: DriftConfig = dataclasses.field(default_factory=_default_inner)
    inner_hparams: DriftHparams = dataclasses.field(default_factory=lambda: DriftHparams(lr=5e-3))

    @property
    def normalized(self) -> bool:
        return len(self.envs) > 1 if self.normalize is None else bool(self.normalize)

    def validate(self) -> MetaConfig:
        from jaxrl_suite.registry import spec as env_spec

        if not self.envs:
            raise ValueError("meta-training needs at least one environment id")
        for env_id in self.envs:
            env_spec(env_id)  # unknown id -> ValueError with close matches
        if self.drift not in dr.NETWORK_KINDS:
            raise ValueError(f"meta-training learns a network drift {dr.NETWORK_KINDS}, got {self.drift!r}")
        if self.base not in BASES:
            raise ValueError(f"unknown base drift {self.base!r}; choose from {sorted(BASES)}")
        if self.crn not in CRN_MODES:
            raise ValueError(f"unknown crn mode {self.crn!r}; choose from {CRN_MODES}")
        if self.hidden < 1 or self.seeds < 1 or self.eval_seeds < 1:
            raise ValueError(
                f"hidden, seeds and eval_seeds must be >= 1; got {self.hidden}, {self.seeds}, "
                f"{self.eval_seeds}"
            )
        if not 0 < self.fitness_tail <= 1:
            raise ValueError(f"fitness_tail must be in (0, 1], got {self.fitness_tail}")
        if not self.init_scale >= 0:
            raise ValueError(f"init_scale must be >= 0, got {self.init_scale}")
        self.es.validate()
        self.inner_config.validate()
        self.inner_hparams.validate()
        return self

    @property
    def inner_config(self) -> DriftConfig:
        return dataclasses.replace(self.inner, drift=self.drift, drift_hidden=self.hidden, drift_weights=None)

    def to_json(self) -> dict:
        """The effective configuration (the inner config as trained), JSON-ready; it fingerprints checkpoints."""
        blob = dataclasses.asdict(dataclasses.replace(self, inner=self.inner_config))
        return json.loads(json.dumps(blob, default=str))
