"""jaxrl-suite: pure-JAX environments and learners compiled into one loop.

The names below load on first use, so ``import jaxrl_suite.cpu`` (or the CLI) can lay out XLA's CPU backend
before gymnax's import initialises it.
"""

from jaxrl_suite import lazy

__version__ = "0.1.0"
_LAZY = {
    "Environment": "jaxrl_suite.env",
    "EnvParams": "jaxrl_suite.env",
    "EnvState": "jaxrl_suite.env",
    "load_policy": "jaxrl_suite.policy",
    "make": "jaxrl_suite.registry",
    "register": "jaxrl_suite.registry",
    "registered": "jaxrl_suite.registry",
    "VecEnv": "jaxrl_suite.vector",
}
__all__ = [*sorted(_LAZY), "__version__"]


__getattr__ = lazy.attributes(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
