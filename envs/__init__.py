"""jaxrl-suite environment families (installed as ``jaxrl_suite.envs``); importing registers their ids.

Registration names each env's constructor by ``"module:attr"``, so listing the ids imports no JAX library;
a family's code loads when one of its envs is made (or its module is imported).
"""

from jaxrl_suite.envs import (
    grid,  # noqa: F401
    quadrotor,  # noqa: F401
)
from jaxrl_suite.registry import register

PROBE_KINDS = ("constant", "obs", "two_step", "action", "obs_action", "continuing", "privileged")

for _kind in PROBE_KINDS:
    for _cont in (False, True):
        register(
            f"Probe-{_kind}-{'continuous' if _cont else 'discrete'}-v0",
            f"jaxrl_suite.envs.probe:{'PrivilegedProbeEnv' if _kind == 'privileged' else 'ProbeEnv'}",
            f"learner probe: {_kind} ({'Box' if _cont else 'Discrete'} actions)",
            family="probe",
            kind=_kind,
            continuous=_cont,
        )

register(
    "Probe-memory-discrete-v0",
    "jaxrl_suite.envs.probe:MemoryProbeEnv",
    "learner probe: memory (act on a cue seen `delay` blank steps earlier; Discrete actions)",
    family="probe",
)
register(
    "CartPole-masked-v1",
    "jaxrl_suite.envs.masked:MaskedCartPole",
    "gymnax CartPole-v1 without the velocities: observes cart position and pole angle only (POPGym)",
    family="masked",
)
