"""The options every grid family takes (``GridOptions``), their checks, and the constructor signature that
lists them next to a family's own options, so ``jaxrl_suite.make`` routes either kind of override."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import numpy as np


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """A clear ValueError for a bad static size before anything is compiled."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class GridOptions:
    """Static options shared by every family: MiniGrid's constructor keywords plus rendering.

    A family's class attribute ``defaults`` holds its own defaults (Empty sees through walls, Maze has a 5x5
    view and 250 steps); ``max_steps=None`` means the family's MiniGrid default (``GridEnv.default_max_steps``).
    """

    max_steps: int | None = None
    agent_view_size: int = 7
    see_through_walls: bool = False
    fully_observable: bool = False
    tile_size: int = 32
    highlight: bool = True
    #: MiniGrid's ``agent_start_pos=None``: a uniform start instead of (1, 1) facing right (Empty, DynamicObstacles)
    random_start: bool = False

    def __post_init__(self):
        if self.max_steps is not None:
            check_int("max_steps", self.max_steps, 1)
        view = check_int("agent_view_size", self.agent_view_size, 3)
        if view % 2 != 1:
            raise ValueError(f"agent_view_size must be odd (MiniGrid), got {view}")
        for name in ("see_through_walls", "fully_observable", "random_start"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        check_int("tile_size", self.tile_size, 1)

    def updated(self, **overrides: Any) -> GridOptions:
        """These options with ``overrides`` applied; a None override keeps the default (MiniGrid's ``None``)."""
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"unknown grid option(s) {unknown}")
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})


def family_signature(cls: type) -> inspect.Signature:
    """``cls``'s constructor signature as ``make`` reads it: the family's own options, then the shared ones
    (keyword-only, with the family's defaults; ``random_start`` only where the family has a fixed start)."""
    own = [
        p.replace(default=cls.default_size) if p.name == "size" and p.default is None else p
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    shared = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=getattr(cls.defaults, f.name))
        for f in dataclasses.fields(GridOptions)
        if f.name != "random_start" or cls.fixed_start
    ]
    return inspect.Signature(own + shared)
