"""Crazyflie 2.1 rigid-body and rotor dynamics of "Learning to Fly in Seconds" (L2F): pure physics, RK4 step.

Model (L2F ``operations_generic.h``, ``parameters/dynamics/crazy_flie.h``): rotor thrust
``T_i = c0 + c1 rpm_i + c2 rpm_i^2`` along body +z from rotors at (±0.028, ±0.028, 0) m; yaw torque
``dir_i * 0.005964552 * T_i``; ``v' = R(q) (0, 0, sum T) / m − g e_z + f_ext / m``; ``q' = q ⊗ (0, ω) / 2``;
``ω' = J^-1 (τ + τ_ext − ω × Jω)``; motor lag ``rpm' = (cmd − rpm) / 0.15 s``. One step is classical
RK4 over the whole 17-number state at dt = 0.01 s, then the quaternion is renormalised and the RPMs clamped
to [0, 21702] (L2F ``post_integration``). Hover is 14,475.8 RPM = normalised action 0.33405.

Layout (structure of arrays): every vector in the state is a *tuple of per-component arrays*, e.g.
``position = (x, y, z)`` with each of ``x, y, z`` a scalar for one drone or shape ``(N,)`` for ``N`` drones
(``jax.vmap`` over scalar leaves gives the same). XLA then compiles the step into loops over contiguous
component arrays; on ``(N, 3)`` arrays it writes each stacked output with a per-element kernel that branches
on the component (no vectorisation) and recomputes the shared RK4 stages (README, Benchmarks). Anything
indexable by component (a tuple or an array with the components on axis 0) is accepted as an input vector;
``stack`` and ``unstack`` convert. All arithmetic follows the state's dtype (float32 by default; float64
under ``jax.enable_x64`` for tests); parameters are cast to it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

GRAVITY = 9.81  # m/s^2, L2F's value (GPD uses 9.8)


@struct.dataclass
class QuadParams:
    """Physical constants of one multirotor (a pytree: randomise or vmap any leaf).

    ``inertia`` is the diagonal of J (L2F's J is diagonal). Rotor ``i`` sits at
    ``(rotor_x[i], rotor_y[i], 0)`` in the body frame, thrusts along body +z and spins in direction
    ``rotor_direction[i]`` (its yaw sign).
    """

    mass: Any  # kg
    inertia: Any  # (3,) kg m^2, diagonal of J
    thrust_coefficients: Any  # (3,) thrust = c0 + c1 rpm + c2 rpm^2 in N
    torque_coefficient: Any  # m: yaw torque per newton of thrust
    rotor_x: Any  # (4,) m
    rotor_y: Any  # (4,) m
    rotor_direction: Any  # (4,) ±1
    motor_time_constant: Any  # s
    rpm_min: Any
    rpm_max: Any
    gravity: Any  # m/s^2, acts along world -z
    dt: Any  # s, one integration step


def crazyflie() -> QuadParams:
    """The L2F Crazyflie 2.1: m 0.027 kg, J diag(3.85e-6, 3.85e-6, 5.9675e-6), kf 3.16e-10 N/RPM^2, 100 Hz."""
    f64 = lambda *v: np.asarray(v, dtype=np.float64)
    return QuadParams(
        mass=np.float64(0.027),
        inertia=f64(3.85e-6, 3.85e-6, 5.9675e-6),
        thrust_coefficients=f64(0.0, 0.0, 3.16e-10),
        torque_coefficient=np.float64(0.005964552),
        rotor_x=f64(0.028, -0.028, -0.028, 0.028),
        rotor_y=f64(-0.028, -0.028, 0.028, 0.028),
        rotor_direction=f64(-1.0, 1.0, -1.0, 1.0),
        motor_time_constant=np.float64(0.15),
        rpm_min=np.float64(0.0),
        rpm_max=np.float64(21702.0),
        gravity=np.float64(GRAVITY),
        dt=np.float64(0.01),
    )


@struct.dataclass
class QuadState:
    """Physical state, 17 numbers per drone, each vector a tuple of components: world position, body-to-world
    quaternion (w, x, y, z), world linear velocity, body angular velocity, four rotor speeds (RPM)."""

    position: tuple
    quaternion: tuple
    velocity: tuple
    angular_velocity: tuple
    rpm: tuple


def unstack(v: Any, n: int | None = None) -> tuple:
    """Components of a vector (array with components on axis 0, or already a tuple) as a tuple."""
    if isinstance(v, tuple):
        return v
    v = jnp.asarray(v)
    return tuple(v[i] for i in range(v.shape[0] if n is None else n))


def stack(v: tuple, axis: int = 0) -> jax.Array:
    """A tuple of components as one array (components on ``axis``; -1 gives ``(..., n)`` per drone)."""
    return jnp.stack(v, axis=axis)


def make_state(position, quaternion, velocity, angular_velocity, rpm) -> QuadState:
    """A state from arrays with the components on axis 0 (or tuples)."""
    return QuadState(
        unstack(position, 3),
        unstack(quaternion, 4),
        unstack(velocity, 3),
        unstack(angular_velocity, 3),
        unstack(rpm, 4),
    )


def cast_params(params: QuadParams, dtype) -> QuadParams:
    """``params`` with every leaf as an array of ``dtype`` (so arithmetic follows the state's dtype)."""
    return jax.tree.map(lambda x: jnp.asarray(x, dtype=dtype), params)


def state_dtype(state: QuadState):
    return jnp.result_type(state.position[0])


def hover_rpm(params: QuadParams) -> jax.Array:
    """RPM at which four rotors carry the weight: root of ``c2 r^2 + c1 r + c0 = m g / 4`` (L2F: 14,475.8)."""
    c = params.thrust_coefficients
    c0, c1, c2 = c[0], c[1], c[2]
    rhs = params.mass * params.gravity / 4 - c0
    return (-c1 + jnp.sqrt(c1 * c1 + 4 * c2 * rhs)) / (2 * c2)


def action_to_rpm(params: QuadParams, action: jax.Array) -> jax.Array:
    """Normalised action in [-1, 1] (clipped, as L2F) to commanded RPM, linearly onto [rpm_min, rpm_max]."""
    action = jnp.clip(action, -1.0, 1.0)
    half = (params.rpm_max - params.rpm_min) / 2
    return params.rpm_min + half + action * half


def rpm_to_action(params: QuadParams, rpm: jax.Array) -> jax.Array:
    """Inverse of ``action_to_rpm``: RPM on the normalised [-1, 1] scale (L2F's rotor-speed observation)."""
    return (rpm - params.rpm_min) / (params.rpm_max - params.rpm_min) * 2 - 1


def rotation_matrix(q: Any) -> tuple:
    """Body-to-world rotation of a unit quaternion (w, x, y, z): its 9 entries row-major, as a tuple."""
    w, x, y, z = unstack(q, 4)
    return (
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    )  # fmt: skip


class _Constants:
    """Per-step quantities derived from the params once, outside the four RK4 stages."""

    def __init__(self, p: QuadParams):
        c = p.thrust_coefficients
        self.c0, self.c1, self.c2 = c[0], c[1], c[2]
        self.rx = [p.rotor_x[i] for i in range(4)]
        self.ry = [p.rotor_y[i] for i in range(4)]
        self.kyaw = [p.rotor_direction[i] * p.torque_coefficient for i in range(4)]
        self.lever_sums = (sum(self.ry), -sum(self.rx), sum(self.kyaw))  # all 0 for the L2F layout
        self.inv_mass = 1 / p.mass
        jx, jy, jz = p.inertia[0], p.inertia[1], p.inertia[2]
        self.inv_j = (1 / jx, 1 / jy, 1 / jz)
        # (ω × Jω)_k / J_k = gyro_k * (product of the other two rates)
        self.gyro = ((jz - jy) / jx, (jx - jz) / jy, (jy - jx) / jz)
        self.inv_tau = 1 / p.motor_time_constant
        self.gravity = p.gravity


def _derivative(k: _Constants, s: QuadState, cmd: tuple, ext: tuple | None) -> QuadState:
    """Time derivative; ``ext`` = (world force, body torque) component tuples or None."""
    qw, qx, qy, qz = s.quaternion
    a, b, c = s.angular_velocity
    r = s.rpm
    thrust = [k.c0 + r[i] * (k.c1 + k.c2 * r[i]) for i in range(4)]
    total = (thrust[0] + thrust[1]) + (thrust[2] + thrust[3])
    acc = total * k.inv_mass
    dv = [
        acc * (2 * (qx * qz + qw * qy)),
        acc * (2 * (qy * qz - qw * qx)),
        acc * (1 - 2 * (qx * qx + qy * qy)) - k.gravity,
    ]
    # Torques from the deviations from the mean thrust (plus the mean times the lever sums): equal thrusts
    # then give exactly zero torque whatever fused multiply-adds the compiler picks (hover holds exactly).
    mean = total * 0.25
    dev = [t - mean for t in thrust]
    tau = [
        sum(k.ry[i] * dev[i] for i in range(4)) + k.lever_sums[0] * mean,
        -sum(k.rx[i] * dev[i] for i in range(4)) + k.lever_sums[1] * mean,
        sum(k.kyaw[i] * dev[i] for i in range(4)) + k.lever_sums[2] * mean,
    ]
    if ext is not None:
        f, t = ext
        dv = [dv[i] + f[i] * k.inv_mass for i in range(3)]
        tau = [tau[i] + t[i] for i in range(3)]
    dw = (
        tau[0] * k.inv_j[0] - k.gyro[0] * (b * c),
        tau[1] * k.inv_j[1] - k.gyro[1] * (c * a),
        tau[2] * k.inv_j[2] - k.gyro[2] * (a * b),
    )
    dq = (
        0.5 * (-qx * a - qy * b - qz * c),
        0.5 * (qw * a + qy * c - qz * b),
        0.5 * (qw * b + qz * a - qx * c),
        0.5 * (qw * c + qx * b - qy * a),
    )
    dr = tuple((cmd[i] - r[i]) * k.inv_tau for i in range(4))
    return QuadState(tuple(s.velocity), dq, tuple(dv), dw, dr)


def _axpy(h, ds: QuadState, s: QuadState) -> QuadState:
    """``s + h * ds`` component-wise."""
    return jax.tree.map(lambda x, dx: x + h * dx, s, ds)


def _external(force, torque, like):
    if force is None and torque is None:
        return None
    zero = (jnp.zeros_like(like),) * 3
    force = zero if force is None else unstack(force, 3)
    torque = zero if torque is None else unstack(torque, 3)
    return force, torque


def derivative(params: QuadParams, state: QuadState, rpm_command, force=None, torque=None) -> QuadState:
    """``d state / dt`` for commanded RPM (4 components); optional external world-frame ``force`` (N) and
    body-frame ``torque`` (N m), 3 components each (L2F's per-episode disturbance)."""
    params = cast_params(params, state_dtype(state))
    ext = _external(force, torque, state.position[0])
    return _derivative(_Constants(params), state, unstack(rpm_command, 4), ext)


def integrate(params: QuadParams, state: QuadState, rpm_command, force=None, torque=None) -> QuadState:
    """One classical RK4 step of ``params.dt`` with the command and disturbance held, no post-processing."""
    params = cast_params(params, state_dtype(state))
    k = _Constants(params)
    cmd = unstack(rpm_command, 4)
    ext = _external(force, torque, state.position[0])
    h = params.dt
    k1 = _derivative(k, state, cmd, ext)
    k2 = _derivative(k, _axpy(h / 2, k1, state), cmd, ext)
    k3 = _derivative(k, _axpy(h / 2, k2, state), cmd, ext)
    k4 = _derivative(k, _axpy(h, k3, state), cmd, ext)
    return jax.tree.map(
        lambda x, d1, d2, d3, d4: x + (h / 6) * (d1 + 2 * (d2 + d3) + d4), state, k1, k2, k3, k4
    )


def post_integration(params: QuadParams, state: QuadState) -> QuadState:
    """L2F's post-step fix-up: renormalise the quaternion and clamp RPMs to [rpm_min, rpm_max]."""
    params = cast_params(params, state_dtype(state))
    q = state.quaternion
    inv_norm = jax.lax.rsqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    rpm = tuple(jnp.clip(r, params.rpm_min, params.rpm_max) for r in state.rpm)
    return state.replace(quaternion=tuple(c * inv_norm for c in q), rpm=rpm)


def step(params: QuadParams, state: QuadState, rpm_command, force=None, torque=None) -> QuadState:
    """The simulator step: RK4 over ``params.dt``, then ``post_integration`` (as L2F's ``step``)."""
    return post_integration(params, integrate(params, state, rpm_command, force, torque))


def hover_state(params: QuadParams, shape: tuple[int, ...] = (), dtype=jnp.float32) -> QuadState:
    """At rest at the origin, level, rotors at hover RPM; every component has ``shape`` (the batch)."""
    zero = jnp.zeros(shape, dtype)
    one = jnp.ones(shape, dtype)
    rpm = jnp.broadcast_to(hover_rpm(cast_params(params, dtype)), shape).astype(dtype)
    return QuadState((zero,) * 3, (one, zero, zero, zero), (zero,) * 3, (zero,) * 3, (rpm,) * 4)
