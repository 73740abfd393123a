"""The L2F quadrotor MDP shared by the hover and tracking tasks: params, state, reset, step, observations.

Follows "Learning to Fly in Seconds" (L2F, ``src/parameters.h``, ``operations_generic.h``,
``reward_functions/squared.h``): normalised RPM actions in [-1, 1] through the RK4 simulator of
``dynamics.py``; the initial-state distribution ``init::orientation_biggest_angle`` (w.p. 0.1 on target and
level, else position ~U(±0.2 m)^3 and a uniform random attitude of at most 90°; always v ~U(±1 m/s)^3,
ω ~U(±1 rad/s)^3, rotors at the mid-range command); a constant random force ~N(0, m g / 20) and torque
~N(0, m g / 1e4) per axis and episode; observation noise (0.001, 0.001, 0.002, 0.002); the squared reward
scored on the pre-step state; termination when any |position error| > 0.6 m (or |v|, |ω| > 1000). A task
subclass chooses the reference (``reference``) and what the observation adds about it (``target_features``).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite import hashrng, spaces
from jaxrl_suite.env import Environment, EnvParams, EnvState
from jaxrl_suite.envs.quadrotor import dynamics as dyn
from jaxrl_suite.envs.quadrotor import render as rnd
from jaxrl_suite.hashrng import materialize, materialize_tree

_MASS_G = 0.027 * 9.81  # L2F writes its disturbance scales as fractions of the Crazyflie's weight


@struct.dataclass
class RewardParams:
    """L2F's squared reward: ``constant − scale (w_p |e_p|² + w_q (1 − q_w²) + w_v |e_v|² + w_ω |ω|² +
    w_a |a − baseline|²)``, or ``termination_penalty`` on the terminating step. Defaults: the initial weights
    (``reward_squared_position_only_torque``)."""

    scale: Any = 0.5
    constant: Any = 2.0
    termination_penalty: Any = 0.0
    position: Any = 5.0
    orientation: Any = 5.0
    linear_velocity: Any = 0.01
    angular_velocity: Any = 0.0
    action: Any = 0.01
    action_baseline: Any = 0.334  # ≈ hover, normalised action 0.33405


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


def episode_dynamics(params: QuadrotorParams, scale: ModelScale) -> dyn.QuadParams:
    """The nominal dynamics with an episode's randomisation factors applied."""
    p = params.dynamics
    return p.replace(
        mass=p.mass * scale.mass,
        inertia=jnp.asarray(p.inertia) * jnp.stack(scale.inertia),
        thrust_coefficients=jnp.asarray(p.thrust_coefficients) * scale.thrust,
        torque_coefficient=p.torque_coefficient * scale.torque,
        motor_time_constant=p.motor_time_constant * scale.motor,
    )


def _theta_minus_sin(t: jax.Array) -> jax.Array:
    """``t − sin t`` without cancellation for small ``t`` (series below 0.5 rad)."""
    t2 = t * t
    series = t * t2 * (1 / 6 - t2 * (1 / 120 - t2 * (1 / 5040 - t2 / 362880)))
    return jnp.where(t < 0.5, series, t - jnp.sin(t))


def sample_rotation_angle(u: jax.Array, max_angle: jax.Array) -> jax.Array:
    """Rotation angle of a uniform random rotation conditioned on angle <= ``max_angle``, from u ~ U(0, 1).

    The angle of a uniform (Haar) rotation has density (1 − cos θ)/π, so conditioning gives the CDF
    (θ − sin θ)/(m − sin m); we invert it with Newton's method. Same distribution as L2F's rejection loop,
    at a fixed cost (a rejection loop under ``vmap`` runs until the slowest env accepts).
    """
    max_angle = jnp.clip(max_angle, 1e-6, math.pi)
    y = u * _theta_minus_sin(max_angle)
    theta = jnp.minimum(jnp.cbrt(6 * y), max_angle)  # from below: f(θ) <= θ³/6
    for _ in range(4):  # quadratic convergence: 3 reach float32 precision
        slope = 2 * jnp.sin(theta / 2) ** 2  # 1 − cos θ, without cancellation
        step = (_theta_minus_sin(theta) - y) / jnp.maximum(slope, 1e-30)
        theta = jnp.clip(theta - step, 0.0, max_angle)
    return theta


class QuadrotorTask(Environment):
    """Base of the quadrotor tasks; subclasses set the reference trajectory and the target features."""

    num_target_features = 0

    def __init__(self, action_history: int = 32, dtype: Any = jnp.float32):
        if isinstance(action_history, bool) or not isinstance(action_history, int) or action_history < 0:
            raise ValueError(f"action_history must be an int >= 0, got {action_history!r}")
        if jnp.dtype(dtype) not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        if jnp.dtype(dtype) == jnp.dtype(jnp.float64) and not jax.config.jax_enable_x64:
            raise ValueError("dtype float64 needs jax_enable_x64 (e.g. `with jax.enable_x64():`)")
        self.history = action_history
        self.dtype = jnp.dtype(dtype)

    # --- what a task defines -------------------------------------------------------------------------
    def reference(self, t: jax.Array, params: QuadrotorParams) -> tuple[tuple, tuple]:
        """Reference position and velocity (component tuples) at time ``t`` seconds."""
        raise NotImplementedError

    def target_features(self, ref_p: tuple, ref_v: tuple, params: QuadrotorParams) -> tuple:
        """Extra observation entries describing the reference (none for hover)."""
        return ()

    # --- API ---------------------------------------------------------------------------------------
    @property
    def default_params(self) -> QuadrotorParams:
        return QuadrotorParams()

    @property
    def obs_dim(self) -> int:
        return 18 + 4 * self.history + self.num_target_features

    @property
    def privileged_dim(self) -> int:
        return 28 + self.num_target_features

    def observation_space(self, params: Any) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (self.obs_dim,), self.dtype)

    def action_space(self, params: Any) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (4,), self.dtype)

    def time_of(self, state: QuadrotorState, params: QuadrotorParams) -> jax.Array:
        """Seconds since the reference's start at this state."""
        return state.phase + state.time.astype(self.dtype) * jnp.asarray(params.dynamics.dt, self.dtype)

    def reset_env(self, key: jax.Array, params: QuadrotorParams):
        draw = hashrng.Rand(key, 21 + 6 + 18)  # 21 uniforms, 6 disturbance and 18 noise normals, in order
        sym = lambda x: 2 * x - 1  # U(0,1) -> U(-1,1)
        uniform = lambda k: draw.open_uniforms(k, self.dtype)

        guided = uniform(1)[0] < params.init_guidance
        offset = jnp.where(guided, 0.0, sym(uniform(3)) * params.init_max_position)
        # uniform axis on the sphere, angle from the conditioned Haar distribution
        axis_z, axis_phi, angle = uniform(3)
        z = sym(axis_z)
        phi = 2 * jnp.pi * axis_phi
        rho = jnp.sqrt(jnp.maximum(1 - z * z, 0.0))
        theta = jnp.where(guided, 0.0, sample_rotation_angle(angle, params.init_max_angle))
        half_sin = jnp.sin(theta / 2)
        quat = (
            jnp.cos(theta / 2),
            half_sin * rho * jnp.cos(phi),
            half_sin * rho * jnp.sin(phi),
            half_sin * z,
        )
        dv = sym(uniform(3)) * params.init_max_linear_velocity
        omega = sym(uniform(3)) * params.init_max_angular_velocity

        mass, ix, iy, iz, thrust, torque, motor = sym(uniform(7))
        scale = ModelScale(
            mass=1 + mass * params.randomise_mass,
            inertia=tuple(1 + i * params.randomise_inertia for i in (ix, iy, iz)),
            thrust=1 + thrust * params.randomise_thrust,
            torque=1 + torque * params.randomise_torque,
            motor=1 + motor * params.randomise_motor,
        )
        phase = self.sample_phase(uniform(1)[0], params)
        disturbance = draw.normals(6, self.dtype)
        obs_noise = draw.normals(18, self.dtype)
        ref_p, ref_v = self.reference(phase, params)
        nominal = dyn.cast_params(params.dynamics, self.dtype)
        rpm = dyn.action_to_rpm(nominal, jnp.asarray(params.init_rpm, self.dtype))
        cast = lambda x: jnp.asarray(x, self.dtype)
        quad = dyn.QuadState(
            position=tuple(cast(ref_p[i] + offset[i]) for i in range(3)),
            quaternion=tuple(cast(c) for c in quat),
            velocity=tuple(cast(ref_v[i] + dv[i]) for i in range(3)),
            angular_velocity=tuple(cast(c) for c in omega),
            rpm=(cast(rpm),) * 4,
        )
        quad = materialize_tree(quad)
        history = jnp.full((self.history, 4), dyn.rpm_to_action(nominal, rpm), self.dtype)
        state = QuadrotorState(
            time=jnp.zeros((), jnp.int32),
            quad=quad,
            force=tuple(cast(disturbance[i] * params.force_std) for i in range(3)),
            torque=tuple(cast(disturbance[3 + i] * params.torque_std) for i in range(3)),
            action_history=history,
            scale=jax.tree.map(cast, scale),
            phase=cast(phase),
        )
        return self.observe(obs_noise, state, params), state

    def sample_phase(self, u: jax.Array, params: QuadrotorParams) -> jax.Array:
        """Start time of the reference for a new episode (0 unless a task randomises it)."""
        return jnp.zeros((), self.dtype)

    def step_env(self, key: jax.Array, state: QuadrotorState, action: jax.Array, params: QuadrotorParams):
        action = jnp.clip(jnp.asarray(action, self.dtype), -1.0, 1.0)
        model = episode_dynamics(params, state.scale)
        cmd = dyn.action_to_rpm(dyn.cast_params(model, self.dtype), action)
        quad = dyn.step(model, state.quad, dyn.unstack(cmd, 4), state.force, state.torque)
        quad = materialize_tree(quad)  # read by obs, reward, termination, selects: compute once

        reward = self.reward(state, action, params)
        if self.history > 0:
            history = jnp.concatenate([state.action_history[1:], action[None]], axis=0)
        else:
            history = state.action_history
        next_state = state.replace(time=state.time + 1, quad=quad, action_history=history)
        ref_p, _ = self.reference(self.time_of(next_state, params), params)
        err = [quad.position[i] - ref_p[i] for i in range(3)]
        too_far = [jnp.abs(e) > params.position_threshold for e in err]
        too_fast = [jnp.abs(v) > params.linear_velocity_threshold for v in quad.velocity]
        spinning = [jnp.abs(w) > params.angular_velocity_threshold for w in quad.angular_velocity]
        terminated = jnp.any(jnp.stack(too_far + too_fast + spinning))
        reward = jnp.where(terminated, params.reward.termination_penalty, reward)
        distance = jnp.sqrt(err[0] ** 2 + err[1] ** 2 + err[2] ** 2)
        info = {"position_error": distance.astype(jnp.float32)}
        obs = self.observe(materialize(hashrng.normals(key, 18, self.dtype)), next_state, params)
        return obs, next_state, reward.astype(jnp.float32), terminated, info

    def reward(self, state: QuadrotorState, action: jax.Array, params: QuadrotorParams) -> jax.Array:
        """L2F's squared reward on the pre-step state (errors relative to the reference) and the clipped
        action."""
        w = params.reward
        q = state.quad
        ref_p, ref_v = self.reference(self.time_of(state, params), params)
        sq = lambda xs: xs[0] * xs[0] + xs[1] * xs[1] + xs[2] * xs[2]
        pos = sq([q.position[i] - ref_p[i] for i in range(3)])
        vel = sq([q.velocity[i] - ref_v[i] for i in range(3)])
        ang = sq(q.angular_velocity)
        ori = 1 - q.quaternion[0] * q.quaternion[0]
        act = jnp.sum((action - w.action_baseline) ** 2)
        cost = w.position * pos + w.orientation * ori + w.linear_velocity * vel + w.angular_velocity * ang
        return w.constant - w.scale * (cost + w.action * act)

    def observe(self, noise: jax.Array, state: QuadrotorState, params: QuadrotorParams) -> jax.Array:
        """Actor observation: position error, rotation matrix (row-major), velocity error, body rates, each
        plus ``noise`` (18 standard normals) times its std; then the action history (oldest first) and the
        task's target features."""
        q = state.quad
        ref_p, ref_v = self.reference(self.time_of(state, params), params)
        std = jnp.concatenate(
            [
                jnp.full((3,), params.noise_position, self.dtype),
                jnp.full((9,), params.noise_orientation, self.dtype),
                jnp.full((3,), params.noise_linear_velocity, self.dtype),
                jnp.full((3,), params.noise_angular_velocity, self.dtype),
            ]
        )
        base = self._base_features(q, ref_p, ref_v) + std * noise
        parts = [base, state.action_history.reshape(-1)]
        feats = self.target_features(ref_p, ref_v, params)
        if feats:
            parts.append(jnp.stack([jnp.asarray(f, self.dtype) for f in feats]))
        return jnp.concatenate(parts)

    def _base_features(self, q: dyn.QuadState, ref_p: tuple, ref_v: tuple) -> jax.Array:
        err_p = [q.position[i] - ref_p[i] for i in range(3)]
        err_v = [q.velocity[i] - ref_v[i] for i in range(3)]
        entries = err_p + list(dyn.rotation_matrix(q.quaternion)) + err_v + list(q.angular_velocity)
        return jnp.stack([jnp.asarray(e, self.dtype) for e in entries])

    def privileged_observation(self, state: QuadrotorState, params: QuadrotorParams) -> jax.Array:
        """Noise-free critic observation (L2F ``OBSERVATION_TYPE_PRIVILEGED``): position error, rotation
        matrix, velocity error, body rates, the disturbance as accelerations (force / m in m/s², torque / J
        in rad/s²; L2F feeds raw N and N m, of order 1e-2 and 1e-5), normalised rotor speeds, target
        features."""
        q = state.quad
        model = dyn.cast_params(episode_dynamics(params, state.scale), self.dtype)
        ref_p, ref_v = self.reference(self.time_of(state, params), params)
        force = [f / model.mass for f in state.force]
        torque = [state.torque[i] / model.inertia[i] for i in range(3)]
        rotors = [dyn.rpm_to_action(model, r) for r in q.rpm]
        extra = force + torque + rotors + list(self.target_features(ref_p, ref_v, params))
        tail = jnp.stack([jnp.asarray(e, self.dtype) for e in extra])
        return jnp.concatenate([self._base_features(q, ref_p, ref_v), tail])

    def render(self, state: QuadrotorState, params: QuadrotorParams) -> jax.Array:
        """An RGB frame ``uint8[H, W, 3]`` (pure JAX, jittable): oblique view of the drone and reference."""
        ref_p, _ = self.reference(self.time_of(state, params), params)
        return rnd.draw_frame(
            dyn.stack(state.quad.position),
            dyn.stack(state.quad.quaternion),
            dyn.stack(ref_p),
            params.dynamics,
        )
