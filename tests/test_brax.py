"""Brax through the adapter: a short PPO smoke training on the cheapest env (CPU is for smoke tests only)."""

from __future__ import annotations

import jax
import numpy as np

import jaxrl_suite
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train


def test_ppo_smoke_trains_on_brax_inverted_pendulum():
    env, params = jaxrl_suite.make("brax/inverted_pendulum", backend="spring", max_steps_in_episode=200)
    assert env.action_space(params).shape == (1,) and float(env.action_space(params).high) == 1.0
    cfg = PPOConfig(
        num_envs=16,
        num_steps=32,
        total_timesteps=16 * 32 * 4,
        update_epochs=2,
        num_minibatches=4,
        normalize_obs=True,
    )
    out = jax.jit(make_train(cfg, env, params))(jax.random.key(0), PPOHparams(lr=3e-4))
    m = jax.device_get(out.metrics)
    assert np.all(np.isfinite(m["value_loss"])) and np.all(np.isfinite(m["policy_loss"]))
    assert np.nansum(m["episodes"]) > 0 and np.all(np.asarray(m["return"])[np.isfinite(m["return"])] > 0)
    assert out.state.obs_rms.count > 16 * 32 * 4 and np.all(np.isfinite(out.state.obs_rms.var))
