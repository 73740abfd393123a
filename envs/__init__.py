"""jaxrl-suite environment families (installed as ``jaxrl_suite.envs``); importing registers their ids."""
from jaxrl_suite.envs import quadrotor  # noqa: F401
