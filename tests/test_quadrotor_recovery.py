"""``envs.quadrotor.recovery``: an open-loop optimiser saves a start that only needs thrust, and cannot save
one already falling through the floor of the box faster than any thrust can stop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl_suite.envs.quadrotor.hover import Hover
from jaxrl_suite.envs.quadrotor.recovery import recoverable

QUIET = dict(init_guidance=1.0, init_max_linear_velocity=0.0, init_max_angular_velocity=0.0)
QUIET |= dict(force_std=0.0, torque_std=0.0)


def test_a_sinking_start_is_saved_and_one_through_the_floor_is_not():
    env = Hover()
    params = env.default_params.replace(**QUIET)
    _, start = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(jax.random.key(0), 3), params)
    quad = start.quad
    # 0: level at the origin, sinking at 1 m/s with the rotors at mid-range (a policy that does nothing
    #    crashes: 0.56 g of thrust); 1: the same at 0.25 m up; 2: 1 cm above the floor, falling at 4 m/s
    z = jnp.array([0.0, 0.25, -0.59], jnp.float32)
    vz = jnp.array([-1.0, -1.0, -4.0], jnp.float32)
    quad = quad.replace(position=(*quad.position[:2], z), velocity=(*quad.velocity[:2], vz))
    starts = start.replace(quad=quad)
    r = recoverable(starts, params, seconds=0.5, iterations=40)
    assert r["saved"].tolist() == [True, True, False]
    assert r["by"][0] is not None and r["by"][2] is None
    assert r["worst_m"][2] > params.position_threshold  # through the floor whatever the rotors do
    assert np.all(r["worst_m"][:2] < params.position_threshold)


def test_bad_settings_are_refused_before_anything_compiles():
    env = Hover()
    params = env.default_params
    _, start = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(jax.random.key(0), 2), params)
    with pytest.raises(ValueError, match="iterations"):
        recoverable(start, params, iterations=0)
    with pytest.raises(ValueError, match="seconds"):
        recoverable(start, params, seconds=0.001)
    empty = jax.tree.map(lambda x: x[:0], start)
    assert recoverable(empty, params)["saved"].shape == (0,)
