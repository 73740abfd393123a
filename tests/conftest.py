"""Shared test setup: CPU only, compiled with LLVM optimisation off (see tests/subprocesses.py), deterministic,
no preallocation surprises; one tiny CartPole PPO trainer whose compiled chunks (cached on it) every runtime
test shares."""

import os

from subprocesses import with_fast_compile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["XLA_FLAGS"] = with_fast_compile(os.environ.get("XLA_FLAGS", ""))
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# CLI calls compile afresh (no persistent cache shared with a user's runs); test_runtime turns it on on purpose
os.environ["JAXRL_SUITE_COMPILE_CACHE"] = "0"

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_trainer():
    import jaxrl_suite
    from jaxrl_suite.algos.ppo import PPOConfig, make_train

    cfg = PPOConfig(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 12, update_epochs=2, num_minibatches=2)
    env, params = jaxrl_suite.make("CartPole-v1")
    return make_train(cfg, env, params)
