"""Test support: an experiment script (``experiments/NAME.py``; scripts are not a package) loaded as a module,
so tests call its functions and ``main(argv)`` in process."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def experiment(name: str) -> ModuleType:
    """``experiments/{name}.py``, freshly executed as a module."""
    spec = importlib.util.spec_from_file_location(f"experiments_{name}", EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
