"""Hover / stabilise (L2F's task): recover from the paper's initial-state distribution and hold the origin.

Actor observation 146 = position 3 + rotation matrix 9 + linear velocity 3 + angular velocity 3 + 32 past
actions × 4 (L2F); privileged critic observation 28 (``privileged_observation``). The reward curriculum of
L2F (``src/steps/curriculum.h``) is ``curriculum_reward``: every 100k env steps the action weight grows ×1.4
(cap 1), position ×1.2 (cap 40), linear velocity ×1.4 (cap 1). The reward weights are dynamic params, so a
trainer applies it between updates with ``params = apply_curriculum(params, env_steps)`` (no recompile).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jaxrl_suite.envs.quadrotor.task import QuadrotorParams, QuadrotorTask, RewardParams

CURRICULUM_INTERVAL = 100_000  # env steps between curriculum stages (L2F)
CURRICULUM_TARGET = RewardParams(position=40.0, linear_velocity=1.0, action=1.0)  # ..._curriculum_target


class Hover(QuadrotorTask):
    """Fly to and hover at the origin (L2F's MDP); ``action_history`` sets the observed past actions."""

    def reference(self, t: Any, params: QuadrotorParams) -> tuple[tuple, tuple]:
        zero = (0.0, 0.0, 0.0)
        return zero, zero

    @property
    def name(self) -> str:
        return "Quadrotor-Hover-v0"


def curriculum_reward(
    env_steps: Any, start: RewardParams | None = None, interval: int = CURRICULUM_INTERVAL
) -> RewardParams:
    """L2F's reward weights after ``env_steps`` environment steps (jittable; ``env_steps`` may be traced)."""
    start = RewardParams() if start is None else start
    stage = jnp.floor_divide(jnp.asarray(env_steps), interval).astype(jnp.float32)
    grow = lambda w, factor, cap: jnp.minimum(w * jnp.power(factor, stage), cap)
    return start.replace(
        action=grow(start.action, 1.4, CURRICULUM_TARGET.action),
        position=grow(start.position, 1.2, CURRICULUM_TARGET.position),
        linear_velocity=grow(start.linear_velocity, 1.4, CURRICULUM_TARGET.linear_velocity),
    )


def apply_curriculum(
    params: QuadrotorParams, env_steps: Any, interval: int = CURRICULUM_INTERVAL
) -> QuadrotorParams:
    """``params`` with the reward weights of the curriculum stage reached after ``env_steps`` steps."""
    return params.replace(reward=curriculum_reward(env_steps, RewardParams(), interval))
