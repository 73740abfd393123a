"""L2F's reward curriculum (``src/steps/curriculum.h``), a training concern kept out of the tasks.

Every 100k env steps the action weight grows ×1.4 (cap 1), position ×1.2 (cap 40), linear velocity ×1.4
(cap 1). The reward weights are dynamic env params, so a trainer applies a stage between compiled chunks
without recompiling: ``schedule`` gives the env params for a ``train_runs(..., on_chunk=...)`` hook to return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from jaxrl_suite.envs.quadrotor.types import QuadrotorParams, RewardParams

CURRICULUM_INTERVAL = 100_000  # env steps between curriculum stages (L2F)
CURRICULUM_TARGET = RewardParams(position=40.0, linear_velocity=1.0, action=1.0)  # ..._curriculum_target


def curriculum_reward(
    env_steps: Any,
    start: RewardParams | None = None,
    interval: int = CURRICULUM_INTERVAL,
    target: RewardParams = CURRICULUM_TARGET,
) -> RewardParams:
    """L2F's reward weights after ``env_steps`` environment steps (jittable; ``env_steps`` may be traced);
    ``target`` holds the caps the action, position and velocity weights grow to (L2F's by default)."""
    start = RewardParams() if start is None else start
    stage = jnp.floor_divide(jnp.asarray(env_steps), interval).astype(jnp.float32)
    grow = lambda w, factor, cap: jnp.minimum(w * jnp.power(factor, stage), cap)
    return start.replace(
        action=grow(start.action, 1.4, target.action),
        position=grow(start.position, 1.2, target.position),
        linear_velocity=grow(start.linear_velocity, 1.4, target.linear_velocity),
    )


def apply_curriculum(
    params: QuadrotorParams, env_steps: Any, interval: int = CURRICULUM_INTERVAL
) -> QuadrotorParams:
    """``params`` with L2F's reward weights (from the initial ones) at the stage reached after ``env_steps``."""
    return params.replace(reward=curriculum_reward(env_steps, RewardParams(), interval))


def schedule(
    params: QuadrotorParams,
    interval: int = CURRICULUM_INTERVAL,
    delay: int = 0,
    target: RewardParams = CURRICULUM_TARGET,
) -> Callable[[int], QuadrotorParams]:
    """``env_steps -> env params`` for a per-chunk hook: ``params`` with its own reward weights grown by the
    curriculum towards ``target`` once ``delay`` steps have passed (``interval`` 0 keeps them fixed)."""

    def at(env_steps: int) -> QuadrotorParams:
        if not interval:
            return params
        return params.replace(
            reward=curriculum_reward(max(0, env_steps - delay), params.reward, interval, target)
        )

    return at
