"""jaxrl-suite environment families (installed as ``jaxrl_suite.envs``); importing registers their ids."""

from jaxrl_suite.envs import (
    grid,  # noqa: F401
    probe,  # noqa: F401
    quadrotor,  # noqa: F401
)
