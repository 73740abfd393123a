"""The ES meta-trainer as a learner of the runtime protocol: one update is one generation.

So meta-training runs in the one runtime loop (``jaxrl_suite.runtime.train_runs``) like PPO: progress bar,
metrics.jsonl, checkpoints, Ctrl-C and bitwise resume come from there. The learner's environment is the
meta-problem (``DriftMeta``); its env params are the reference returns of PPO and DPO on held-out seeds
(measured once, on the host, when the learner is built), which normalise the fitness on several envs.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import jax
from flax import struct
from jax.sharding import NamedSharding, PartitionSpec

from jaxrl_suite.algos.meta.config import MetaConfig
from jaxrl_suite.algos.meta.problem import DriftMeta, MetaState


@dataclasses.dataclass(frozen=True)
class MetaRunConfig:
    """The static shape of a meta-training run: the meta config and the number of generations."""

    meta: MetaConfig
    generations: int
    steps_per_generation: int  # inner env steps in one generation (population x seeds x envs x inner run)

    @property
    def num_updates(self) -> int:
        return self.generations

    @property
    def batch_size(self) -> int:
        return self.steps_per_generation

    def validate(self) -> MetaRunConfig:
        if self.generations < 1:
            raise ValueError(f"generations must be >= 1, got {self.generations}")
        self.meta.validate()
        return self


@struct.dataclass
class MetaHparams:
    """No sweepable meta-hyperparameter yet (the ES settings shape the program): an empty pytree."""

    def validate(self) -> MetaHparams:
        return self


@struct.dataclass
class MetaReference:
    """The meta-learner's env params: PPO's and DPO's final return per env on the held-out seeds."""

    ppo_return: jax.Array
    dpo_return: jax.Array


class MetaLearner:
    """``DriftMeta`` behind the learner protocol; ``reference_key`` chooses the held-out seeds."""

    def __init__(self, meta: DriftMeta, generations: int, reference_key: jax.Array):
        e, inner = len(meta.config.envs), meta.config.inner_config
        self.config = MetaRunConfig(
            meta.config, int(generations), meta.population * meta.config.seeds * e * inner.total_timesteps
        ).validate()
        self.meta = meta
        self.env = meta
        self.env_params = MetaReference(*meta.reference(reference_key))
        self.metric_names = (
            "generation",
            "fitness_mean",
            "fitness_max",
            "fitness_min",
            "fitness_std",
            "nan_members",
            "return",
            *(f"return/{env}" for env in meta.config.envs),
            "sigma",
            "mean_norm",
            "steps",
        )
        # NaN by design when no member finished an episode (ranked last), not a divergence
        self.episode_metrics = frozenset(n for n in self.metric_names if n.startswith(("fitness_", "return")))

    def with_env_params(self, env_params: MetaReference) -> MetaLearner:
        other = copy.copy(self)
        other.env_params = env_params
        return other

    def run_sharding(self, num_runs: int) -> NamedSharding:
        """Meta-runs replicated over the devices that share the population (sharded inside ``update``)."""
        return NamedSharding(self.meta.sharding.mesh, PartitionSpec())

    def init(self, key: jax.Array, hparams: MetaHparams) -> MetaState:
        return self.meta.start(key, self.env_params.ppo_return, self.env_params.dpo_return)

    def update(self, state: MetaState, hparams: MetaHparams) -> tuple[MetaState, dict[str, jax.Array]]:
        state = state.replace(ppo_return=self.env_params.ppo_return, dpo_return=self.env_params.dpo_return)
        state, metrics = self.meta.generation(state, self.meta.traced_runs)
        metrics["steps"] = state.generation.astype(jax.numpy.float32) * self.config.steps_per_generation
        return state, metrics

    def run(self, state: MetaState, hparams: MetaHparams, num_updates: int):
        return jax.lax.scan(lambda s, _: self.update(s, hparams), state, None, length=num_updates)

    def act(self, state: Any, obs: Any, key: jax.Array, greedy: bool = True):
        raise TypeError(
            "a meta-trainer learns a drift, not a policy: train DriftConfig(drift_weights=<drift.json>) with "
            "it and act with that learner"
        )
