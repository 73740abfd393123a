"""Physics checks of the Crazyflie simulator in float64 (invariants and closed forms of the L2F model).

Reference figures (measured in float64 with the L2F parameters): hover holds to
1e-13 over 10 s; ballistic flight matches the parabola to 1e-15; a torque-free axisymmetric top matches its
closed form to 1.3e-5 over 10 s; motor lag gives 1 − e^-1 after one time constant; +500 RPM on rotors 1 and 3
gives pure yaw 9.3 rad/s², on rotors 2 and 3 pure roll 67.7 rad/s²; RK4 error ratios approach 16.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl_suite.envs.quadrotor import dynamics as dyn


@pytest.fixture(scope="module", autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


@functools.partial(jax.jit, static_argnames="n")
def trajectory(p, s, cmd, force, torque, n):
    """All ``n`` states after each step (stacked on a leading time axis)."""

    def body(s, _):
        s = dyn.step(p, s, cmd, force, torque)
        return s, s

    return jax.lax.scan(body, s, None, length=n)[1]


@jax.jit
def final(p, s, cmd, force, torque, n):
    """The state after ``n`` steps (``n`` traced, so one compile serves every step count)."""
    return jax.lax.fori_loop(0, n, lambda _, s: dyn.step(p, s, cmd, force, torque), s)


def f64(*v):
    return jnp.asarray(v, jnp.float64)


def state(position=(0, 0, 0), quaternion=(1, 0, 0, 0), velocity=(0, 0, 0), omega=(0, 0, 0), rpm=(0, 0, 0, 0)):
    return dyn.make_state(f64(*position), f64(*quaternion), f64(*velocity), f64(*omega), f64(*rpm))


def zero3():
    return f64(0, 0, 0)


def as_np(tree_vec):
    return np.stack([np.asarray(c) for c in tree_vec], axis=-1)


def test_hover_rpm_is_the_papers():
    p = dyn.crazyflie()
    rpm = float(dyn.hover_rpm(dyn.cast_params(p, jnp.float64)))
    assert rpm == pytest.approx(14475.8, abs=0.05)
    assert float(dyn.rpm_to_action(p, rpm)) == pytest.approx(0.33405, abs=1e-5)
    assert float(dyn.action_to_rpm(p, dyn.rpm_to_action(p, rpm))) == pytest.approx(rpm, rel=1e-12)


def test_hover_rpm_gives_zero_acceleration_and_holds_for_10_s():
    p = dyn.crazyflie()
    s0 = dyn.hover_state(p, dtype=jnp.float64)
    d = dyn.derivative(p, s0, s0.rpm)
    assert max(abs(float(a)) for a in d.velocity + d.angular_velocity + d.rpm) < 1e-12
    s = final(p, s0, s0.rpm, zero3(), zero3(), 1000)
    assert np.max(np.abs(as_np(s.position))) < 1e-12
    assert np.max(np.abs(as_np(s.velocity))) < 1e-12
    assert np.max(np.abs(as_np(s.angular_velocity))) == 0.0
    np.testing.assert_allclose(as_np(s.quaternion), [1, 0, 0, 0], atol=1e-15)


def test_free_fall_matches_the_parabola():
    p = dyn.crazyflie()
    p0, v0 = np.array([0.1, -0.2, 0.3]), np.array([1.0, -0.5, 2.0])
    s0 = state(position=p0, velocity=v0, omega=(0.3, -0.2, 0.5))  # spinning does not matter without thrust
    traj = trajectory(p, s0, f64(0, 0, 0, 0), zero3(), zero3(), n=100)
    t = 0.01 * np.arange(1, 101)[:, None]
    gravity = np.array([0, 0, -9.81])
    np.testing.assert_allclose(as_np(traj.position), p0 + v0 * t + 0.5 * gravity * t**2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(as_np(traj.velocity), v0 + gravity * t, rtol=0, atol=1e-12)


def test_torque_free_spin_conserves_energy_and_momentum_and_matches_closed_form():
    p = dyn.crazyflie()  # J = diag(Jx, Jx, Jz): an axisymmetric top
    jx, _, jz = np.asarray(p.inertia)
    w0 = np.array([1.0, -0.5, 10.0])  # precession rate λ = 5.5 rad/s
    s0 = state(quaternion=(math.cos(0.3), math.sin(0.3), 0, 0), omega=w0)
    traj = trajectory(p, s0, f64(0, 0, 0, 0), zero3(), zero3(), n=1000)
    w = as_np(traj.angular_velocity)
    t = 0.01 * np.arange(1, 1001)
    lam = (jz - jx) / jx * w0[2]
    closed = (w0[0] + 1j * w0[1]) * np.exp(1j * lam * t)
    # RK4's phase error is ~(λ dt)^5 / 120 per step: ~5e-6 after 10 s; a sign error gives ~1
    assert np.max(np.abs(w[:, 0] + 1j * w[:, 1] - closed)) < 2e-5
    np.testing.assert_allclose(w[:, 2], w0[2], rtol=1e-12)
    inertia = np.array([jx, jx, jz])
    energy = 0.5 * np.sum(inertia * w**2, axis=1)
    assert np.max(np.abs(energy / energy[0] - 1)) < 1e-7
    rot = np.stack([np.asarray(c) for c in dyn.rotation_matrix(traj.quaternion)], -1).reshape(-1, 3, 3)
    momentum = np.einsum("tij,tj->ti", rot, inertia * w)
    momentum0 = np.asarray(jnp.stack(dyn.rotation_matrix(s0.quaternion)).reshape(3, 3)) @ (inertia * w0)
    assert np.max(np.linalg.norm(momentum - momentum0, axis=1)) / np.linalg.norm(momentum0) < 1e-6
    np.testing.assert_allclose(np.linalg.norm(as_np(traj.quaternion), axis=1), 1.0, atol=1e-14)


def test_motor_lag_matches_the_exponential():
    p = dyn.crazyflie()
    cmd = f64(20000, 12000, 5000, 21702)
    s0 = state()
    z = -0.01 / 0.15  # dt over the time constant
    rk4_factor = 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24  # RK4's exact amplification on a linear decay
    for steps in (7, 15, 30):  # 15 steps = one time constant
        rpm = as_np(final(p, s0, cmd, zero3(), zero3(), steps).rpm) / np.asarray(cmd)
        np.testing.assert_allclose(rpm, 1 - rk4_factor**steps, rtol=1e-12)
        np.testing.assert_allclose(rpm, 1 - math.exp(z * steps), rtol=2e-7)


def test_rpms_are_clamped_and_quaternion_renormalised_after_a_step():
    p = dyn.crazyflie()
    s = state(quaternion=(2, 0, 0, 0), rpm=(25000, -5, 100, 21702))
    out = dyn.post_integration(p, s)
    assert [float(r) for r in out.rpm] == [21702.0, 0.0, 100.0, 21702.0]
    assert [float(c) for c in out.quaternion] == [1.0, 0.0, 0.0, 0.0]
    assert float(dyn.action_to_rpm(p, 3.0)) == 21702.0 and float(dyn.action_to_rpm(p, -3.0)) == 0.0


def _angular_acceleration(extra_rpm):
    p = dyn.crazyflie()
    hover = float(dyn.hover_rpm(dyn.cast_params(p, jnp.float64)))
    s = state(rpm=tuple(hover + d for d in extra_rpm))
    d = dyn.derivative(p, s, s.rpm)
    return np.array([float(c) for c in d.angular_velocity]), np.array([float(c) for c in d.velocity])


def test_rotor_signs_give_pure_roll_pitch_yaw_and_climb():
    yaw, _ = _angular_acceleration((0, 500, 0, 500))  # rotors 1, 3 spin +1: pure +yaw
    assert yaw[2] == pytest.approx(9.30, abs=0.01) and np.all(np.abs(yaw[:2]) < 1e-9)
    roll, _ = _angular_acceleration((0, 0, 500, 500))  # rotors 2, 3 at y > 0: pure +roll
    assert roll[0] == pytest.approx(67.7, abs=0.05) and np.all(np.abs(roll[1:]) < 1e-9)
    pitch, _ = _angular_acceleration((0, 500, 500, 0))  # rotors 1, 2 at x < 0: pure +pitch
    assert pitch[1] == pytest.approx(67.7, abs=0.05) and abs(pitch[0]) < 1e-9 and abs(pitch[2]) < 1e-9
    spin, climb = _angular_acceleration((500, 500, 500, 500))
    assert np.all(np.abs(spin) < 1e-9) and climb[2] > 0 and np.all(np.abs(climb[:2]) < 1e-12)


def test_rk4_error_shrinks_at_fourth_order():
    p = dyn.crazyflie()
    s0 = state(
        position=(0.1, -0.1, 0.05),
        quaternion=(math.cos(0.4), 0.6 * math.sin(0.4), 0.8 * math.sin(0.4), 0),
        velocity=(0.5, -0.3, 0.2),
        omega=(3.0, -2.0, 1.0),
        rpm=(12000, 16000, 14000, 15000),
    )
    cmd, force, torque = f64(21000, 9000, 17000, 13000), f64(0.01, -0.02, 0.005), f64(2e-5, -1e-5, 3e-5)

    def flat(dt):
        s = final(p.replace(dt=dt), s0, cmd, force, torque, round(0.2 / dt))
        return np.concatenate([as_np(x) for x in (s.position, s.quaternion, s.velocity, s.angular_velocity)])

    reference = flat(5e-4)
    errors = [np.max(np.abs(flat(dt) - reference)) for dt in (0.01, 0.005, 0.0025)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert errors[0] > 1e-9  # well above rounding, so the ratios measure truncation error
    assert all(12 < r < 20 for r in ratios), (errors, ratios)


def test_float32_tracks_float64():
    p = dyn.crazyflie()
    s64 = state(quaternion=(math.cos(0.2), math.sin(0.2), 0, 0), omega=(1, -1, 0.5), rpm=(14000,) * 4)
    cmd = f64(15000, 14000, 14500, 14200)
    s32 = jax.tree.map(lambda x: x.astype(jnp.float32), s64)
    out64 = final(p, s64, cmd, zero3(), zero3(), 50)
    z32 = zero3().astype(jnp.float32)
    out32 = final(p, s32, cmd.astype(jnp.float32), z32, z32, 50)
    assert out32.position[0].dtype == jnp.float32 and out64.position[0].dtype == jnp.float64
    for a, b in zip(jax.tree.leaves(out32), jax.tree.leaves(out64), strict=True):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b), rtol=1e-4, atol=1e-4)


def test_structure_of_arrays_batch_and_per_drone_params_match_single_drones():
    p = dyn.crazyflie()
    masses = np.array([0.027, 0.03, 0.024])
    omega = [[0.5, 0, -1], [0, 1, 0], [2, 0, 0]]
    quat = np.tile([[1.0], [0], [0], [0]], 3)
    batch = dyn.make_state(np.zeros((3, 3)), quat, np.zeros((3, 3)), omega, np.full((4, 3), 14000.0))
    cmd = np.array([[15000.0, 13000, 14000]] * 4)
    out = dyn.step(p.replace(mass=masses), jax.tree.map(jnp.asarray, batch), cmd)
    for i in range(3):
        one = jax.tree.map(lambda x, i=i: jnp.asarray(x)[i], batch)
        single = dyn.step(p.replace(mass=masses[i]), one, cmd[:, i])
        for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(single), strict=True):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-12, atol=1e-12)
    assert float(out.velocity[2][1]) < float(out.velocity[2][2])  # the heaviest drone sinks fastest
