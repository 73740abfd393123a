"""The tiny meta-training configuration that tests/test_meta.py compiles once and its sharding subprocess
rebuilds (a support module, imported by name: pytest puts tests/ on the path)."""

from __future__ import annotations

from jaxrl_suite.algos.drift_ppo import DriftConfig, DriftHparams
from jaxrl_suite.algos.meta import ESConfig, MetaConfig

TINY_INNER = DriftConfig(
    num_envs=4,
    num_steps=32,
    total_timesteps=4 * 32 * 6,
    update_epochs=2,
    num_minibatches=2,
    hidden=(16,),
    anneal_lr=False,
)
TINY = MetaConfig(
    drift="ta_lpo",
    hidden=4,
    seeds=1,
    eval_seeds=2,
    fitness_tail=0.5,
    es=ESConfig(population=4),
    inner=TINY_INNER,
    inner_hparams=DriftHparams(lr=5e-2),  # large enough that the members' fitness differs: a real ES step
)
