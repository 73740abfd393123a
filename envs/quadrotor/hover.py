"""Hover / stabilise (L2F's task): recover from the paper's initial-state distribution and hold the origin.

Actor observation 146 = position 3 + rotation matrix 9 + linear velocity 3 + angular velocity 3 + 32 past
actions × 4 (L2F); privileged critic observation 28 (``privileged_observation``). L2F trains it with the
reward curriculum of ``curriculum.py``.
"""

from __future__ import annotations

from typing import Any

from jaxrl_suite.envs.quadrotor.env import QuadrotorTask
from jaxrl_suite.envs.quadrotor.types import QuadrotorParams


class Hover(QuadrotorTask):
    """Fly to and hover at the origin (L2F's MDP); ``action_history`` sets the observed past actions."""

    def reference(self, t: Any, params: QuadrotorParams) -> tuple[tuple, tuple]:
        zero = (0.0, 0.0, 0.0)
        return zero, zero

    @property
    def name(self) -> str:
        return "Quadrotor-Hover-v0"
