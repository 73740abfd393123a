"""Stochasticity wrappers: each noise source does what it says at its parameter's rate, is off at 0, and its
parameter vmaps like any env param."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.vector import VecEnv
from jaxrl_suite.wrappers import (
    ActionCorruption,
    EpisodeStatistics,
    ObservationNoise,
    RandomInitialState,
    RewardNoise,
    SlipperyTransitions,
    StickyActions,
)

N, T = 512, 24


def rollout(env, params, key, n=N, steps=T, params_axis=None):
    """Random actions in ``n`` envs for ``steps`` steps: stacked (obs, reward, done, info, actions)."""
    return rollout_fn(env, n, steps, params_axis)(key, params)


def rollout_fn(env, n=N, steps=T, params_axis=None):
    """The jitted rollout ``(key, params) -> (obs, reward, done, info, actions)``."""
    venv = VecEnv(EpisodeStatistics(env), n, params_axis=params_axis)
    space = env.action_space(env.default_params)

    def run(key, params):
        k0, k1 = jax.random.split(key)
        obs, state = venv.reset(k0, params)

        def step(state, k):
            ka, ks = jax.random.split(k)
            action = jax.random.randint(ka, (n,), 0, space.n)
            obs, state, reward, term, trunc, info = venv.step(ks, state, action, params)
            return state, (obs, reward, term | trunc, info, action)

        return jax.lax.scan(step, state, jax.random.split(k1, steps))[1]

    return jax.jit(run)


@pytest.fixture(scope="module")
def cartpole():
    return jaxrl_suite.make("CartPole-v1")


def test_sticky_actions_repeat_the_executed_action_at_rate_p_and_never_on_a_first_step(cartpole):
    env = StickyActions(cartpole[0], 0.25)
    params = env.default_params
    assert float(params.sticky_prob) == 0.25
    _, _, done, info, action = rollout(env, params, jax.random.key(0))
    sticky, executed = np.asarray(info["sticky"]), np.asarray(info["executed_action"])
    first = np.concatenate([np.ones((1, N), bool), np.asarray(done)[:-1]])  # the step after a reset
    assert not sticky[first].any(), "never sticky on an episode's first step"
    rate = sticky[~first].mean()
    assert abs(rate - 0.25) < 4 * np.sqrt(0.25 * 0.75 / (~first).sum()), rate
    np.testing.assert_array_equal(executed[~sticky], np.asarray(action)[~sticky])
    prev = np.concatenate([np.zeros((1, N), executed.dtype), executed[:-1]])
    np.testing.assert_array_equal(executed[sticky], prev[sticky])


def test_a_wrapper_parameter_vmaps_per_env_and_the_wrapper_survives_the_grid_fast_path():
    """Half the envs at p = 0, half at p = 0.5, in one batch; on a grid env (whose VecEnv fast path
    steps the bare engine) the wrapper still acts."""
    env, params = jaxrl_suite.make("MiniGrid-Empty-5x5-v0")
    env = StickyActions(env, 0.5)
    base = env.default_params
    p = jnp.where(jnp.arange(N) < N // 2, 0.0, 0.5)
    batched = jax.tree.map(lambda x: jnp.broadcast_to(x, (N,) + jnp.shape(x)), base).replace(sticky_prob=p)
    _, _, _, info, _ = rollout(env, batched, jax.random.key(1), params_axis=0)
    sticky = np.asarray(info["sticky"])[1:]
    assert not sticky[:, : N // 2].any() and 0.4 < sticky[:, N // 2 :].mean() < 0.6


def test_every_wrapper_is_off_at_zero_and_deterministic_under_a_key(cartpole):
    env, _ = cartpole
    plain = rollout(env, env.default_params, jax.random.key(2))
    for wrapper in (StickyActions(env, 0.0), ActionCorruption(env, 0.0), SlipperyTransitions(env, 0.0),
                    ObservationNoise(env, 0.0), RewardNoise(env, 0.0)):  # fmt: skip
        run = rollout_fn(wrapper)  # one compile, run twice
        out = run(jax.random.key(2), wrapper.default_params)
        again = run(jax.random.key(2), wrapper.default_params)
        for a, b in zip(jax.tree.leaves(out[:3]), jax.tree.leaves(again[:3]), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        # CartPole's steps are deterministic: at 0 only the reset draws (keys split alike) could differ
        np.testing.assert_allclose(np.asarray(out[1]), np.asarray(plain[1]), err_msg=repr(wrapper))


def test_noise_levels_and_rates_are_the_parameters(cartpole):
    env, _ = cartpole
    quiet = ObservationNoise(env, 0.0)  # the same key splits: the same states, without the noise
    obs0 = rollout(quiet, quiet.default_params, jax.random.key(3))[0]
    noisy = rollout(ObservationNoise(env, 0.5), ObservationNoise(env, 0.5).default_params, jax.random.key(3))
    assert 0.45 < float(np.std(np.asarray(noisy[0]) - np.asarray(obs0))) < 0.55
    rewards = np.asarray(
        rollout(RewardNoise(env, 2.0), RewardNoise(env, 2.0).default_params, jax.random.key(4))[1]
    )
    assert abs(rewards.mean() - 1.0) < 0.1 and 1.9 < rewards.std() < 2.1
    wrapped = ActionCorruption(env, 0.5)
    _, _, _, info, action = rollout(wrapped, wrapped.default_params, jax.random.key(5))
    changed = (np.asarray(info["executed_action"]) != np.asarray(action)).mean()
    assert 0.2 < changed < 0.3, "half the actions redrawn, half of those differ"
    slippery = SlipperyTransitions(env, 1.0)
    _, _, _, info, _ = rollout(slippery, slippery.default_params, jax.random.key(6))
    assert np.asarray(info["slipped"]).mean() > 0.9


def test_a_slide_is_the_action_applied_twice(cartpole):
    env, params = cartpole
    slippery = SlipperyTransitions(env, 1.0)
    _, state = env.reset(jax.random.key(0), params)
    _, twice, r2, _, _ = slippery.step_env(jax.random.key(1), state, 1, slippery.default_params)
    _, once, r1, _, _ = env.step_env(jax.random.key(1), state, 1, params)
    _, again, _, _, _ = env.step_env(jax.random.key(1), once, 1, params)
    np.testing.assert_allclose(np.asarray(twice.x_dot), np.asarray(again.x_dot))
    assert float(r2) == 2 * float(r1)


def test_random_initial_states_start_elsewhere_with_the_clock_at_zero(cartpole):
    env, params = cartpole
    wrapped = RandomInitialState(env, 16)
    keys = jax.random.split(jax.random.key(7), 256)
    obs, state = jax.vmap(lambda k: wrapped.reset(k, wrapped.default_params))(keys)
    plain, _ = jax.vmap(lambda k: env.reset(k, params))(keys)
    assert (np.asarray(state.time) == 0).all()
    assert np.abs(np.asarray(obs)[:, 1]).max() > 4 * np.abs(np.asarray(plain)[:, 1]).max(), (
        "velocities spread"
    )
    with pytest.raises(ValueError, match="max_steps"):
        RandomInitialState(env, 8, max_steps=4)
    with pytest.raises(ValueError, match="sticky_prob"):
        StickyActions(env, 1.5)
