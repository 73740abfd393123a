"""Names of a package that load on first use (PEP 562), so importing it stays cheap: `jaxrl-suite list` and the
CPU layout (set before JAX starts) must not pay for importing the learners and environments."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def attributes(package: str, table: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` giving ``name`` from the module ``table[name]`` (absolute, or relative to
    ``package`` when it starts with a dot), imported on first use."""
    namespace = importlib.import_module(package).__dict__

    def getattr_(name: str) -> object:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name], package), name)
        namespace[name] = value  # later lookups skip this function
        return value

    return getattr_
