"""The quadrotor environment shared by every task: step, observation, reward and termination.

Follows "Learning to Fly in Seconds" (L2F, ``src/parameters.h``, ``operations_generic.h``,
``reward_functions/squared.h``): normalised RPM actions in [-1, 1] through the RK4 simulator of
``dynamics.py``; starts from ``generator.py``; observation noise (0.001, 0.001, 0.002, 0.002); the squared
reward scored on the pre-step state; termination when any |position error| > 0.6 m (or |v|, |ω| > 1000). A
task subclass chooses the reference (``reference``) and what the observation adds about it
(``target_features``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl_suite import hashrng, spaces
from jaxrl_suite.env import Environment
from jaxrl_suite.envs.quadrotor import dynamics as dyn
from jaxrl_suite.envs.quadrotor import generator
from jaxrl_suite.envs.quadrotor import render as rnd
from jaxrl_suite.envs.quadrotor.types import ModelScale, QuadrotorParams, QuadrotorState
from jaxrl_suite.hashrng import materialize, materialize_tree


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

    def sample_phase(self, u: jax.Array, params: QuadrotorParams) -> jax.Array:
        """Start time of the reference for a new episode from u ~ U(0, 1) (0 unless a task randomises it)."""
        return jnp.zeros((), self.dtype)

    # --- API ---------------------------------------------------------------------------------------
    @property
    def default_params(self) -> QuadrotorParams:
        return QuadrotorParams()

    @property
    def obs_dim(self) -> int:
        return 18 + 4 * self.history + self.num_target_features

    def observation_space(self, params: Any) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (self.obs_dim,), self.dtype)

    def action_space(self, params: Any) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (4,), self.dtype)

    def time_of(self, state: QuadrotorState, params: QuadrotorParams) -> jax.Array:
        """Seconds since the reference's start at this state."""
        return state.phase + state.time.astype(self.dtype) * jnp.asarray(params.dynamics.dt, self.dtype)

    def reset_env(self, key: jax.Array, params: QuadrotorParams):
        state, obs_noise = generator.sample_start(key, params, self)
        return self.observe(obs_noise, state, params), state

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
