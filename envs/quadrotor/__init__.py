"""Crazyflie quadrotor (the "Learning to Fly in Seconds" model) in pure JAX: simulator and tasks.

``dynamics`` is the physics (RK4, no env logic); ``hover`` and ``tracking`` are the tasks; ``render`` draws.
Importing registers ``Quadrotor-Hover-v0`` and ``Quadrotor-FigureEight-v0`` (family ``quadrotor``).
"""

from jaxrl_suite import lazy
from jaxrl_suite.registry import register

register(
    "Quadrotor-Hover-v0",
    "jaxrl_suite.envs.quadrotor.hover:Hover",
    "Crazyflie (L2F model, RK4 100 Hz): recover from up to 90° tilt and hover; 146-dim obs, 4 RPM actions",
    family="quadrotor",
)
register(
    "Quadrotor-FigureEight-v0",
    "jaxrl_suite.envs.quadrotor.tracking:FigureEight",
    "Crazyflie (L2F model): track a 0.6 m figure-eight; obs adds the reference position and velocity",
    family="quadrotor",
)

_LAZY = {  # loaded on first use, so that listing the ids imports no JAX library
    "Hover": ".hover",
    "apply_curriculum": ".hover",
    "curriculum_reward": ".hover",
    "QuadrotorParams": ".task",
    "QuadrotorState": ".task",
    "QuadrotorTask": ".task",
    "RewardParams": ".task",
    "FigureEight": ".tracking",
    "FigureEightParams": ".tracking",
}


__getattr__ = lazy.attributes(__name__, _LAZY)


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
