"""Crazyflie quadrotor (the "Learning to Fly in Seconds" model) in pure JAX: simulator and tasks.

By role: ``types`` (params, reward weights, state), ``dynamics`` (physics, RK4, no env logic), ``generator``
(L2F's start distribution), ``env`` (the shared step, observation, reward, termination), the tasks ``hover``
and ``tracking`` (what each adds), ``curriculum`` (L2F's reward curriculum, for trainers), ``recovery`` (can a
start be saved at all: open-loop optimisation through the model), ``render`` (viewer).
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
    "apply_curriculum": ".curriculum",
    "curriculum_reward": ".curriculum",
    "ModelScale": ".types",
    "QuadrotorParams": ".types",
    "QuadrotorState": ".types",
    "QuadrotorTask": ".env",
    "RewardParams": ".types",
    "recoverable": ".recovery",
    "FigureEight": ".tracking",
    "FigureEightParams": ".tracking",
}


__getattr__ = lazy.attributes(__name__, _LAZY)


__all__ = [
    "FigureEight",
    "FigureEightParams",
    "Hover",
    "ModelScale",
    "QuadrotorParams",
    "QuadrotorState",
    "QuadrotorTask",
    "RewardParams",
    "apply_curriculum",
    "curriculum_reward",
    "recoverable",
]
