"""The quadrotor tasks: L2F's initial-state distribution, reward, termination, curriculum, observations,
domain randomisation, the figure-eight reference and rendering (float32, small batches)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.envs.quadrotor import dynamics as dyn
from jaxrl_suite.envs.quadrotor import render
from jaxrl_suite.envs.quadrotor.curriculum import apply_curriculum, curriculum_reward, schedule
from jaxrl_suite.envs.quadrotor.generator import sample_rotation_angle
from jaxrl_suite.envs.quadrotor.hover import Hover
from jaxrl_suite.envs.quadrotor.tracking import FigureEight
from jaxrl_suite.envs.quadrotor.types import RewardParams

QUIET = dict(  # a deterministic start: on target, level, at rest, no disturbance, no observation noise
    init_guidance=1.0,
    init_max_linear_velocity=0.0,
    init_max_angular_velocity=0.0,
    force_std=0.0,
    torque_std=0.0,
    noise_position=0.0,
    noise_orientation=0.0,
    noise_linear_velocity=0.0,
    noise_angular_velocity=0.0,
)


@pytest.fixture(scope="module")
def hover():
    return jaxrl_suite.make("Quadrotor-Hover-v0")


@pytest.fixture(scope="module")
def jitted(hover):
    """The hover env's reset, step and reward, compiled once for all tests (params are arguments)."""
    env, _ = hover
    return SimpleNamespace(
        reset=jax.jit(env.reset_env), step=jax.jit(env.step_env), reward=jax.jit(env.reward)
    )


@pytest.fixture(scope="module")
def many_resets(hover):
    env, params = hover
    keys = jax.random.split(jax.random.key(0), 8192)
    return jax.device_get(jax.jit(jax.vmap(env.reset_env, in_axes=(0, None)))(keys, params))


def test_spaces_and_dimensions(hover, jitted):
    env, params = hover
    assert env.observation_space(params).shape == (146,)  # L2F: 3 + 9 + 3 + 3 + 32 x 4
    assert env.action_space(params).shape == (4,)
    assert float(env.action_space(params).low) == -1.0 and float(env.action_space(params).high) == 1.0
    obs, state = jitted.reset(jax.random.key(1), params)
    assert obs.shape == (146,) and obs.dtype == jnp.float32
    assert env.privileged_observation(state, params).shape == (28,)  # L2F's privileged critic input
    tracking, tparams = jaxrl_suite.make("Quadrotor-FigureEight-v0")
    assert tracking.observation_space(tparams).shape == (152,)
    assert Hover(action_history=0).observation_space(params).shape == (18,)


def test_reset_follows_the_l2f_initial_distribution(many_resets):
    _, s = many_resets
    q = np.stack(s.quad.quaternion, -1)
    p = np.stack(s.quad.position, -1)
    guided = np.all(p == 0, axis=1) & (q[:, 0] == 1)
    assert abs(guided.mean() - 0.1) < 0.02
    free = ~guided
    assert np.all(np.abs(p) <= 0.2) and np.abs(p[free]).max() > 0.19
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-6)
    angle = 2 * np.arccos(np.clip(np.abs(q[free, 0]), 0, 1))
    assert angle.max() <= 0.5 * 3.14 + 1e-4 and angle.max() > 1.5
    # uniform rotations conditioned on angle <= m: P(angle <= 45°) = (θ − sin θ) / (m − sin m)
    expected = (math.pi / 4 - math.sin(math.pi / 4)) / (1.57 - math.sin(1.57))
    assert abs(np.mean(angle <= math.pi / 4) - expected) < 0.02
    axis = q[free, 1:] / np.linalg.norm(q[free, 1:], axis=1, keepdims=True)
    assert np.all(np.abs(axis.mean(0)) < 0.05)
    for vec in (s.quad.velocity, s.quad.angular_velocity):
        v = np.stack(vec, -1)
        assert np.all(np.abs(v) <= 1.0) and np.abs(v).max() > 0.99
    np.testing.assert_allclose(np.stack(s.quad.rpm, -1), 21702 / 2)  # normalised command 0
    assert np.all(s.action_history == 0)
    force, torque = np.stack(s.force, -1), np.stack(s.torque, -1)
    assert abs(force.std() / (0.027 * 9.81 / 20) - 1) < 0.05
    assert abs(torque.std() / (0.027 * 9.81 / 1e4) - 1) < 0.05
    assert np.all(s.scale.mass == 1) and np.all(s.time == 0)


def test_rotation_angle_sampler_inverts_the_conditioned_cdf():
    u = jnp.linspace(0.0, 1.0, 101)
    theta = np.asarray(sample_rotation_angle(u, 1.57))
    cdf = (theta - np.sin(theta)) / (1.57 - math.sin(1.57))
    np.testing.assert_allclose(cdf, np.asarray(u), atol=2e-5)
    assert np.all(np.diff(theta) > 0) and theta[-1] == pytest.approx(1.57, abs=1e-5)


def test_reward_is_the_l2f_squared_reward(hover, jitted):
    env, params = hover
    params = params.replace(**QUIET)
    _, state = jitted.reset(jax.random.key(0), params)
    baseline = jnp.full((4,), 0.334)
    assert float(jitted.reward(state, baseline, params)) == pytest.approx(2.0, abs=1e-6)
    assert float(jitted.reward(state, jnp.zeros(4), params)) == pytest.approx(
        2 - 0.5 * 0.01 * 4 * 0.334**2, abs=1e-6
    )
    theta = 0.4
    quad = state.quad.replace(
        position=(jnp.float32(0.1), jnp.float32(-0.2), jnp.float32(0.0)),
        quaternion=(
            jnp.float32(math.cos(theta / 2)),
            jnp.float32(math.sin(theta / 2)),
            jnp.float32(0),
            jnp.float32(0),
        ),
        velocity=(jnp.float32(1.0), jnp.float32(0.0), jnp.float32(0.0)),
    )
    cost = 5 * 0.05 + 5 * (1 - math.cos(theta / 2) ** 2) + 0.01 * 1.0
    got = float(jitted.reward(state.replace(quad=quad), baseline, params))
    assert got == pytest.approx(2 - 0.5 * cost, abs=1e-5)


@pytest.fixture(scope="module")
def quiet_rollout(hover):
    """500 un-reset steps at the hover command from a level start at the hover RPM."""
    env, params = hover
    hover_action = float(dyn.rpm_to_action(params.dynamics, dyn.hover_rpm(params.dynamics)))
    params = params.replace(init_rpm=hover_action, **QUIET)
    _, state = env.reset_env(jax.random.key(0), params)
    action = jnp.full((4,), hover_action, jnp.float32)

    def body(s, k):
        obs, s, reward, term, info = env.step_env(k, s, action, params)
        return s, (obs, reward, term, info["position_error"], s.time, env.is_truncated(s, params))

    final, out = jax.jit(lambda s: jax.lax.scan(body, s, jax.random.split(jax.random.key(1), 500)))(state)
    return env, params, jax.device_get(final), jax.device_get(out), hover_action


def test_hover_command_holds_the_drone_until_truncation(quiet_rollout):
    _, _, final, (obs, reward, term, err, time, trunc), _ = quiet_rollout
    assert not term.any()
    assert err.max() < 1e-3 and np.abs(np.stack(final.quad.velocity)).max() < 1e-3
    np.testing.assert_allclose(reward, 2 - 0.5 * 0.01 * 4 * (0.33405 - 0.334) ** 2, atol=1e-4)
    assert not trunc[:-1].any() and trunc[-1] and time[-1] == 500
    np.testing.assert_allclose(obs[-1, 3:12], np.eye(3).ravel(), atol=1e-5)  # rotation matrix, row-major


def test_action_history_is_oldest_first_and_observed(hover, jitted):
    env, params = hover
    params = params.replace(**QUIET)
    obs, s = jitted.reset(jax.random.key(0), params)
    a1, a2 = jnp.array([0.1, 0.2, 0.3, 0.4]), jnp.array([-0.5, 0.5, 2.0, -3.0])  # the last two get clipped
    _, s, *_ = jitted.step(jax.random.key(1), s, a1, params)
    obs, s, *_ = jitted.step(jax.random.key(2), s, a2, params)
    np.testing.assert_allclose(s.action_history[-2], a1)
    np.testing.assert_allclose(s.action_history[-1], [-0.5, 0.5, 1.0, -1.0])
    assert np.all(np.asarray(s.action_history[:-2]) == 0)
    np.testing.assert_allclose(obs[18:], np.asarray(s.action_history).ravel())


def test_termination_outside_the_box(hover, jitted):
    env, params = hover
    params = params.replace(reward=RewardParams(termination_penalty=-7.0), **QUIET)
    _, s = jitted.reset(jax.random.key(0), params)
    s = s.replace(
        quad=s.quad.replace(
            position=(jnp.float32(0.575), jnp.float32(0), jnp.float32(0)),
            velocity=(jnp.float32(1.0), jnp.float32(0), jnp.float32(0)),
        )
    )
    terminated, rewards = [], []
    for i in range(4):
        _, s, r, term, _ = jitted.step(jax.random.key(i), s, jnp.full((4,), 0.334), params)
        terminated.append(bool(term))
        rewards.append(float(r))
    assert terminated == [False, False, True, True]  # x: 0.585, 0.595, 0.605 (> 0.6), 0.615
    assert rewards[2] == -7.0 and rewards[1] > 0


def test_curriculum_follows_l2f():
    r0 = curriculum_reward(0)
    assert (float(r0.position), float(r0.linear_velocity), float(r0.action)) == pytest.approx((5, 0.01, 0.01))
    r1 = curriculum_reward(250_000)  # two stages
    assert float(r1.position) == pytest.approx(5 * 1.2**2)
    assert float(r1.linear_velocity) == pytest.approx(0.01 * 1.4**2) and float(r1.action) == pytest.approx(
        0.0196
    )
    r_end = jax.jit(curriculum_reward)(jnp.asarray(5_000_000))
    assert (float(r_end.position), float(r_end.linear_velocity), float(r_end.action)) == pytest.approx(
        (40, 1, 1)
    )
    assert float(r_end.orientation) == 5 and float(r_end.scale) == 0.5
    # the per-chunk hook's schedule grows the env's own weights, once its delay has passed
    _, params = jaxrl_suite.make("Quadrotor-Hover-v0")
    params = params.replace(reward=params.reward.replace(termination_penalty=-100.0))
    at = schedule(params, interval=100_000, delay=1_000_000)
    assert at(900_000).reward == params.reward
    late = at(1_250_000).reward
    assert float(late.position) == pytest.approx(5 * 1.2**2) and float(late.termination_penalty) == -100.0
    assert schedule(params, interval=0)(10**9) is params


def test_curriculum_is_a_dynamic_param(hover, jitted):
    """Every curriculum stage is the same compiled program: params of the same types, traced once."""
    env, params = hover
    _, s = jitted.reset(jax.random.key(3), params)
    traces = []

    def reward(state, action, p):
        traces.append(1)
        return env.reward(state, action, p)

    reward = jax.jit(reward)
    action = jnp.zeros(4)
    stages = [params, apply_curriculum(params, 3_000_000), apply_curriculum(params, 6_000_000)]
    values = [float(reward(s, action, p)) for p in stages]
    assert values[2] <= values[1] < values[0]
    assert len(traces) == 1, "a curriculum stage changed the params' types and recompiled the env"


def test_domain_randomisation_scales_the_episode_model(hover, jitted):
    env, params = hover
    params = params.replace(
        randomise_mass=0.2, randomise_inertia=0.1, randomise_thrust=0.05, randomise_motor=0.3
    )
    keys = jax.random.split(jax.random.key(0), 256)
    _, s = jax.jit(jax.vmap(env.reset_env, in_axes=(0, None)))(keys, params)
    for scale, width in (
        (s.scale.mass, 0.2),
        (s.scale.inertia[0], 0.1),
        (s.scale.thrust, 0.05),
        (s.scale.motor, 0.3),
    ):
        scale = np.asarray(scale)
        assert np.all(np.abs(scale - 1) <= width + 1e-6) and np.abs(scale - 1).max() > 0.8 * width
    assert np.all(np.asarray(s.scale.torque) == 1)
    one = jax.tree.map(lambda x: x[0], s)
    nominal = jax.tree.map(jnp.ones_like, one.scale)

    def climb(mass_factor):
        state = one.replace(scale=nominal.replace(mass=jnp.float32(mass_factor)))
        return float(jitted.step(keys[0], state, jnp.full((4,), 0.334), params)[1].quad.velocity[2])

    assert climb(0.8) > climb(1.0) > climb(1.2)


def test_privileged_observation_is_noise_free(hover, jitted):
    env, params = hover
    obs, s = jitted.reset(jax.random.key(5), params)
    priv = np.asarray(env.privileged_observation(s, params))
    q = s.quad
    expected = np.concatenate(
        [
            np.stack(q.position),
            np.stack(dyn.rotation_matrix(q.quaternion)),
            np.stack(q.velocity),
            np.stack(q.angular_velocity),
        ]
    )
    np.testing.assert_allclose(priv[:18], expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(priv[18:21], np.stack(s.force) / 0.027, rtol=1e-5)  # as accelerations
    np.testing.assert_allclose(
        priv[21:24], np.stack(s.torque) / np.asarray(params.dynamics.inertia), rtol=1e-5
    )
    np.testing.assert_allclose(priv[24:28], 0.0, atol=1e-6)  # rotors at the normalised command 0
    noise = np.asarray(obs[:18]) - priv[:18]
    assert 0 < np.abs(noise).max() < 0.02 and np.all(noise != 0)


def test_figure_eight_reference_and_observation():
    env, params = jaxrl_suite.make("Quadrotor-FigureEight-v0", **QUIET)
    obs, s = jax.jit(env.reset_env)(jax.random.key(2), params)
    t = float(s.phase)
    assert 0 <= t < 5.0
    w = 2 * math.pi / 5.0
    ref_p = np.array([0.3 * math.sin(w * t), 0.15 * math.sin(2 * w * t), 0.0])
    ref_v = np.array([0.3 * w * math.cos(w * t), 0.3 * w * math.cos(2 * w * t), 0.0])
    np.testing.assert_allclose(obs[-6:-3], ref_p, atol=1e-6)
    np.testing.assert_allclose(obs[-3:], ref_v, atol=1e-6)
    np.testing.assert_allclose(np.stack(s.quad.position), ref_p, atol=1e-6)  # guided start on the reference
    np.testing.assert_allclose(obs[:3], 0.0, atol=1e-6)  # the observation holds the position error
    _, s2, reward, term, info = jax.jit(env.step_env)(jax.random.key(3), s, jnp.full((4,), 0.334), params)
    err = np.stack(s2.quad.position) - np.array(
        [0.3 * math.sin(w * (t + 0.01)), 0.15 * math.sin(2 * w * (t + 0.01)), 0]
    )
    assert float(info["position_error"]) == pytest.approx(np.linalg.norm(err), abs=1e-6)
    assert not bool(term)
    fixed = jaxrl_suite.make("Quadrotor-FigureEight-v0", random_phase=False)
    assert float(fixed[0].reset_env(jax.random.key(2), fixed[1])[1].phase) == 0.0
    assert isinstance(env, FigureEight)


def test_render_frames_gif_and_trajectory_plot(quiet_rollout, tmp_path):
    env, params, final, _, _ = quiet_rollout
    draw = jax.jit(env.render)
    frame = np.asarray(draw(final, params))
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8
    moved = final.replace(
        quad=final.quad.replace(position=(np.float32(0.3), np.float32(0.2), np.float32(0.3)))
    )
    assert np.mean(np.asarray(draw(moved, params)) != frame) > 0.001
    states = jax.tree.map(lambda a, b: np.stack([a, b]), final, moved)
    images = render.frames(env, states, params)
    assert images.shape == (2, 128, 128, 3)
    import imageio.v2 as imageio

    gif = render.save_gif(images, str(tmp_path / "flight.gif"))
    assert len(imageio.mimread(gif)) == 2
    positions = np.random.default_rng(0).uniform(-0.3, 0.3, (50, 3))
    render.plot_trajectory(positions, references=positions * 0.5, path=str(tmp_path / "traj.png"))
    assert (tmp_path / "traj.png").stat().st_size > 1000


def test_bad_configuration_is_rejected():
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="action_history"):
            Hover(action_history=bad)
    with pytest.raises(ValueError, match="dtype"):
        Hover(dtype=jnp.int32)
    if not jax.config.jax_enable_x64:
        with pytest.raises(ValueError, match="enable_x64"):
            Hover(dtype=jnp.float64)


def test_float64_env_under_x64(hover, jitted):
    """The float64 env flies the same flight as the float32 one (same draws, same physics), in float64."""
    _, params = hover
    action = jnp.full(4, 0.2)
    with jax.enable_x64(True):
        env = Hover(dtype=jnp.float64)
        obs, s = jax.jit(env.reset)(jax.random.key(0), params)
        obs, s, reward, *_ = jax.jit(env.step_env)(jax.random.key(1), s, action, params)
        assert obs.dtype == jnp.float64 and s.quad.position[0].dtype == jnp.float64
        obs64, pos64 = np.asarray(obs), np.asarray(s.quad.position)
    obs32, s32 = jitted.reset(jax.random.key(0), params)
    obs32, s32, *_ = jitted.step(jax.random.key(1), s32, action, params)
    np.testing.assert_allclose(pos64, np.asarray(s32.quad.position), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(obs64, np.asarray(obs32), rtol=1e-4, atol=1e-5)


def _pd_controller(params):
    """Cascaded PD on the privileged observation, disturbance fed forward, motor lag compensated."""
    d = params.dynamics
    m, g = float(d.mass), float(d.gravity)
    inertia = jnp.asarray(np.asarray(d.inertia), jnp.float32)
    rx, ry, spin = np.asarray(d.rotor_x), np.asarray(d.rotor_y), np.asarray(d.rotor_direction)
    mixer_inv = jnp.asarray(
        np.linalg.inv(np.stack([np.ones(4), ry, -rx, float(d.torque_coefficient) * spin]))
    )

    def act(priv):
        p, rot, v, w = priv[0:3], priv[3:12].reshape(3, 3), priv[12:15], priv[15:18]
        force_acc, torque_acc, rotors = priv[18:21], priv[21:24], priv[24:28]
        acc = -6 * p - 4 * v + jnp.array([0.0, 0.0, g]) - force_acc
        tilt = jnp.cross(jnp.array([0.0, 0.0, 1.0]), rot.T @ (acc / jnp.linalg.norm(acc)))
        thrust = m * jnp.maximum(acc @ rot[:, 2], 0.0)
        torque = inertia * (200 * tilt - 20 * w - torque_acc)
        per_rotor = mixer_inv @ jnp.concatenate([thrust[None], torque])
        rpm_goal = jnp.sqrt(jnp.clip(per_rotor, 0.0, None) / float(d.thrust_coefficients[2]))
        rpm_now = dyn.action_to_rpm(d, rotors)
        return dyn.rpm_to_action(d, rpm_goal + 4 * (rpm_goal - rpm_now))

    return act


def test_a_state_feedback_controller_recovers_from_the_paper_distribution(hover):
    """End-to-end check of the frames, mixer, action scale and privileged observation (its disturbance terms
    cancel the random force and torque exactly): survivors of the L2F start distribution end on target."""
    env, params = hover
    controller = _pd_controller(params)
    n = 256

    def run(key):
        _, s = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(key, n), params)

        def body(carry, k):
            s, alive = carry
            action = jax.vmap(controller)(jax.vmap(env.privileged_observation, in_axes=(0, None))(s, params))
            _, s, _, term, info = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))(
                jax.random.split(k, n), s, action, params
            )
            return (s, alive & ~term), info["position_error"]

        (_, alive), err = jax.lax.scan(body, (s, jnp.ones(n, bool)), jax.random.split(key, 500))
        return alive, err[-1]

    alive, err = jax.device_get(jax.jit(run)(jax.random.key(0)))
    assert alive.mean() > 0.6  # the rest start too close to the 0.6 m bound, tilted up to 90° at up to 1 m/s
    assert err[alive].max() < 1e-3
