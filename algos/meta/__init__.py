"""Meta-training learned drifts (LPO, TA-LPO) with evolution strategies (evosax OpenES), in one compiled program.

Each generation asks OpenES (antithetic pairs, centered-rank fitness shaping) for a population of drift
networks, runs population x seeds full inner trainings (``algos/drift_ppo.py``) vmapped in one jitted program
(the population axis sharded across devices), and tells it the meta-fitness: the mean episode return over the
last ``fitness_tail`` of each inner run, averaged over seeds and, with several environments, normalised per
environment by PPO's return. Defaults follow the CPU recipe that beat PPO on CartPole here: hidden 16,
sigma 0.03, Adam 0.02, common random numbers fixed across generations, a fast inner learner so that the
ratio leaves the drift's dead zone.

Modules: ``es`` (OpenES, maximising), ``config`` (``MetaConfig``), ``problem`` (``DriftMeta``: the compiled
runs, fitness, one generation), ``report`` (held-out comparison, plot, drift file), ``learner`` (``MetaLearner``: the
runtime's learner protocol, a generation per update) and ``loop`` (``meta_train``: runs it in the runtime
loop, with its checkpoints and exact resume, then compares with PPO and DPO). The statistics live in
``jaxrl_suite.stats``; ``ci95`` and ``nanmean`` are re-exported here for existing imports.
"""

from jaxrl_suite.algos.meta.config import BASES, CRN_MODES, MetaConfig
from jaxrl_suite.algos.meta.es import ESConfig, Evolution, make_es
from jaxrl_suite.algos.meta.learner import MetaHparams, MetaLearner, MetaReference, MetaRunConfig
from jaxrl_suite.algos.meta.loop import MetaResult, meta_train
from jaxrl_suite.algos.meta.problem import DriftMeta, MetaState
from jaxrl_suite.algos.meta.report import evaluate_methods, fitness_plot, save_drift
from jaxrl_suite.stats import ci95, nanmean

__all__ = [
    "BASES",
    "CRN_MODES",
    "DriftMeta",
    "ESConfig",
    "Evolution",
    "MetaConfig",
    "MetaHparams",
    "MetaLearner",
    "MetaReference",
    "MetaRunConfig",
    "MetaResult",
    "MetaState",
    "ci95",
    "evaluate_methods",
    "fitness_plot",
    "make_es",
    "meta_train",
    "nanmean",
    "save_drift",
]
