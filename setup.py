"""Package discovery for the one-namespace layout: envs/ -> jaxrl_suite.envs, algos/ -> jaxrl_suite.algos.

Metadata lives in pyproject.toml; this file only lists subpackages so new ones need no manual registration.
"""

from setuptools import find_packages, setup


def _packages(root: str, prefix: str) -> list[str]:
    return [prefix] + [f"{prefix}.{name}" for name in find_packages(root)]


setup(
    packages=_packages("jaxrl_suite", "jaxrl_suite")
    + _packages("envs", "jaxrl_suite.envs")
    + _packages("algos", "jaxrl_suite.algos"),
    package_data={"jaxrl_suite": ["py.typed"]},
)
