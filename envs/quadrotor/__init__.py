"""Crazyflie quadrotor (the "Learning to Fly in Seconds" model) in pure JAX: simulator and tasks.

``dynamics`` is the physics (RK4, no env logic); ``hover`` and ``tracking`` are the tasks; ``render`` draws.
Importing registers ``Quadrotor-Hover-v0`` and ``Quadrotor-FigureEight-v0`` (family ``quadrotor``).
"""

from jaxrl_suite.envs.quadrotor.hover import Hover, apply_curriculum, curriculum_reward
from jaxrl_suite.envs.quadrotor.task import QuadrotorParams, QuadrotorState, QuadrotorTask, RewardParams
from jaxrl_suite.envs.quadrotor.tracking import FigureEight, FigureEightParams
from jaxrl_suite.registry import register

register(
    "Quadrotor-Hover-v0",
    Hover,
    "Crazyflie (L2F model, RK4 100 Hz): recover from up to 90° tilt and hover; 146-dim obs, 4 RPM actions",
    family="quadrotor",
)
register(
    "Quadrotor-FigureEight-v0",
    FigureEight,
    "Crazyflie (L2F model): track a 0.6 m figure-eight; obs adds the reference position and velocity",
    family="quadrotor",
)

__all__ = [
    "FigureEight",
    "FigureEightParams",
    "Hover",
    "QuadrotorParams",
    "QuadrotorState",
    "QuadrotorTask",
    "RewardParams",
    "apply_curriculum",
    "curriculum_reward",
]
