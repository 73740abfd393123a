"""jaxrl-suite environment families (installed as ``jaxrl_suite.envs``); importing registers their ids."""
from jaxrl_suite.envs import quadrotor  # noqa: F401
from jaxrl_suite.envs import probe  # noqa: F401
from jaxrl_suite.envs import grid  # noqa: F401
