"""The start-state generator: L2F's initial-state distribution (``init::orientation_biggest_angle``).

With probability ``init_guidance`` the drone starts on the reference and level, else offset by U(±0.2 m)^3
with a uniform random attitude of at most 90°; always v ~U(±1 m/s)^3 about the reference velocity,
ω ~U(±1 rad/s)^3, rotors at the ``init_rpm`` command; a constant random force ~N(0, m g / 20) and torque
~N(0, m g / 1e4) per axis for the episode; optional domain-randomisation factors on the model.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxrl_suite import hashrng
from jaxrl_suite.envs.quadrotor import dynamics as dyn
from jaxrl_suite.envs.quadrotor.types import ModelScale, QuadrotorParams, QuadrotorState
from jaxrl_suite.hashrng import materialize_tree

NUM_DRAWS = 21 + 6 + 18  # 21 uniforms, 6 disturbance and 18 observation-noise normals, in this order


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


def sample_start(key: jax.Array, params: QuadrotorParams, task: Any) -> tuple[QuadrotorState, jax.Array]:
    """A new episode's state around ``task``'s reference, and the 18 standard normals of its first
    observation's noise. ``task`` supplies ``reference``, ``sample_phase``, ``history`` and ``dtype``."""
    dtype = task.dtype
    draw = hashrng.Rand(key, NUM_DRAWS)
    sym = lambda x: 2 * x - 1  # U(0,1) -> U(-1,1)
    uniform = lambda k: draw.open_uniforms(k, dtype)

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
    phase = task.sample_phase(uniform(1)[0], params)
    disturbance = draw.normals(6, dtype)
    obs_noise = draw.normals(18, dtype)
    ref_p, ref_v = task.reference(phase, params)
    nominal = dyn.cast_params(params.dynamics, dtype)
    rpm = dyn.action_to_rpm(nominal, jnp.asarray(params.init_rpm, dtype))
    cast = lambda x: jnp.asarray(x, dtype)
    quad = dyn.QuadState(
        position=tuple(cast(ref_p[i] + offset[i]) for i in range(3)),
        quaternion=tuple(cast(c) for c in quat),
        velocity=tuple(cast(ref_v[i] + dv[i]) for i in range(3)),
        angular_velocity=tuple(cast(c) for c in omega),
        rpm=(cast(rpm),) * 4,
    )
    quad = materialize_tree(quad)
    history = jnp.full((task.history, 4), dyn.rpm_to_action(nominal, rpm), dtype)
    state = QuadrotorState(
        time=jnp.zeros((), jnp.int32),
        quad=quad,
        force=tuple(cast(disturbance[i] * params.force_std) for i in range(3)),
        torque=tuple(cast(disturbance[3 + i] * params.torque_std) for i in range(3)),
        action_history=history,
        scale=jax.tree.map(cast, scale),
        phase=cast(phase),
    )
    return state, obs_noise
