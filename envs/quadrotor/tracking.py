"""Trajectory tracking: follow a horizontal figure-eight (lemniscate of Gerono) through the hover point.

Reference ``p(t) = (A sin ωt, (A/2) sin 2ωt, 0)`` with ω = 2π / period; each episode starts at a uniformly
random phase (``random_phase``) with the L2F initial-state distribution around the reference point and
velocity. The observation is the hover observation on the tracking errors (position and velocity minus the
reference) followed by the reference position and velocity (6 more: 152 with 32 past actions); reward and
termination use the same errors. Episodes last 10 s (two laps at the default period of 5 s).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import struct

from jaxrl_suite.envs.quadrotor.env import QuadrotorTask
from jaxrl_suite.envs.quadrotor.types import QuadrotorParams


@struct.dataclass
class FigureEightParams(QuadrotorParams):
    """The hover task's params plus the reference's size, lap time and start phase."""

    max_steps_in_episode: int = 1000
    amplitude: Any = 0.3  # m, half the width of the eight
    period: Any = 5.0  # s per lap (peak speed 0.53 m/s)
    random_phase: Any = True  # start each episode at a uniformly random point of the lap


class FigureEight(QuadrotorTask):
    """Track the figure-eight; the observation ends with the reference position and velocity."""

    num_target_features = 6

    @property
    def default_params(self) -> FigureEightParams:
        return FigureEightParams()

    @property
    def name(self) -> str:
        return "Quadrotor-FigureEight-v0"

    def reference(self, t: Any, params: FigureEightParams) -> tuple[tuple, tuple]:
        w = 2 * jnp.pi / params.period
        a = params.amplitude
        angle = w * t
        s1, c1 = jnp.sin(angle), jnp.cos(angle)
        s2, c2 = jnp.sin(2 * angle), jnp.cos(2 * angle)
        zero = jnp.zeros_like(s1)
        return (a * s1, a / 2 * s2, zero), (a * w * c1, a * w * c2, zero)

    def target_features(self, ref_p: tuple, ref_v: tuple, params: FigureEightParams) -> tuple:
        return tuple(ref_p) + tuple(ref_v)

    def sample_phase(self, u: Any, params: FigureEightParams) -> Any:
        return jnp.where(params.random_phase, u * params.period, 0.0).astype(self.dtype)
