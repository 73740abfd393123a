"""The quadrotor's data: task parameters, reward weights, per-episode model factors and the episode state.

All are ``flax.struct`` pytrees, so every numeric field can be traced, vmapped or changed between chunks of a
compiled training loop (the reward curriculum) without recompiling.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from flax import struct

from jaxrl_suite.env import EnvParams, EnvState
from jaxrl_suite.envs.quadrotor import dynamics as dyn

_MASS_G = 0.027 * 9.81  # L2F writes its disturbance scales as fractions of the Crazyflie's weight


@struct.dataclass
class RewardParams:
    """L2F's squared reward: ``constant − scale (w_p |e_p|² + w_q (1 − q_w²) + w_v |e_v|² + w_ω |ω|² +
    w_a |a − baseline|²)``, or ``termination_penalty`` on the terminating step. Defaults: the initial weights
    (``reward_squared_position_only_torque``)."""

    # float32 scalars, not Python floats (which jit sees as weak-typed): the curriculum's float32 weights then
    # have the same type, so a new stage reuses the compiled program
    scale: Any = np.float32(0.5)
    constant: Any = np.float32(2.0)
    termination_penalty: Any = np.float32(0.0)
    position: Any = np.float32(5.0)
    orientation: Any = np.float32(5.0)
    linear_velocity: Any = np.float32(0.01)
    angular_velocity: Any = np.float32(0.0)
    action: Any = np.float32(0.01)
    action_baseline: Any = np.float32(0.334)  # ≈ hover, normalised action 0.33405


@struct.dataclass
class QuadrotorParams(EnvParams):
    """Dynamic (vmappable) task parameters; nested ``dynamics`` and ``reward`` are pytrees too.

    ``randomise_*`` are relative half-widths of per-episode uniform factors (0 turns randomisation off), e.g.
    ``randomise_mass=0.1`` draws the episode's mass from ``m * U(0.9, 1.1)``.
    """

    max_steps_in_episode: int = 500  # 5 s at 100 Hz
    dynamics: dyn.QuadParams = struct.field(default_factory=dyn.crazyflie)
    reward: RewardParams = struct.field(default_factory=RewardParams)
    init_guidance: Any = 0.1  # probability of starting exactly on target and level
    init_max_position: Any = 0.2  # m, per axis
    init_max_angle: Any = 90.0 / 180.0 * 3.14  # rad, written this way in L2F
    init_max_linear_velocity: Any = 1.0  # m/s, per axis
    init_max_angular_velocity: Any = 1.0  # rad/s, per axis
    init_rpm: Any = 0.0  # normalised rotor speed at reset (0 = mid-range, 10,851 RPM)
    force_std: Any = _MASS_G / 20  # N per axis, world frame
    torque_std: Any = _MASS_G / 10000  # N m per axis, body frame
    noise_position: Any = 0.001
    noise_orientation: Any = 0.001  # added to each rotation-matrix entry
    noise_linear_velocity: Any = 0.002
    noise_angular_velocity: Any = 0.002
    position_threshold: Any = 0.6  # m, terminate when any |position error| exceeds it
    linear_velocity_threshold: Any = 1000.0
    angular_velocity_threshold: Any = 1000.0
    randomise_mass: Any = 0.0
    randomise_inertia: Any = 0.0  # independent factor per axis
    randomise_thrust: Any = 0.0  # scales all thrust coefficients
    randomise_torque: Any = 0.0  # scales the yaw-torque coefficient
    randomise_motor: Any = 0.0  # scales the motor time constant


@struct.dataclass
class ModelScale:
    """Per-episode multiplicative factors on the nominal dynamics (all 1 without domain randomisation)."""

    mass: jax.Array
    inertia: tuple
    thrust: jax.Array
    torque: jax.Array
    motor: jax.Array


@struct.dataclass
class QuadrotorState(EnvState):
    """One drone's episode: physics, constant disturbance, action history (oldest first), model factors and
    the reference's time offset (``phase``, seconds; 0 for hover)."""

    time: jax.Array
    quad: dyn.QuadState
    force: tuple  # world frame, N
    torque: tuple  # body frame, N m
    action_history: jax.Array  # (history, 4)
    scale: ModelScale
    phase: jax.Array
