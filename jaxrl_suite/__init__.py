"""jaxrl-suite: pure-JAX environments and learners compiled into one loop."""

from jaxrl_suite.env import Environment, EnvParams, EnvState
from jaxrl_suite.registry import make, register, registered
from jaxrl_suite.vector import VecEnv

__version__ = "0.1.0"
__all__ = ["EnvParams", "EnvState", "Environment", "VecEnv", "make", "register", "registered", "__version__"]
