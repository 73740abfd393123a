"""Demonstrations from the in-graph expert, behaviour cloning and concurrent imitation (algos/imitation.py)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite import evaluation
from jaxrl_suite.algos import imitation
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train
from jaxrl_suite.envs.grid import solve


@pytest.fixture(scope="module")
def small():
    """A fully observed 7x7 maze (no aliasing: cloning can be exact) and 4 expert trajectories on it."""
    env, params = jaxrl_suite.make("Maze-v0", size=7, fully_observable=True, max_steps=60)
    demos = jax.jit(lambda k: imitation.expert_demos(env, params, k, 4, 40))(jax.random.key(0))
    return env, params, demos


def test_expert_demos_are_optimal(small):
    env, params, demos = small
    shortest = np.asarray(jax.vmap(solve.shortest_path)(demos.levels))
    np.testing.assert_array_equal(np.asarray(demos.mask).sum(axis=1), shortest)
    want = jax.vmap(solve.optimal_return, in_axes=(0, None))(demos.levels, params.max_steps_in_episode)
    np.testing.assert_allclose(demos.returns, want, rtol=1e-6)
    assert (np.asarray(demos.returns) > 0).all()


def test_behaviour_cloning_reaches_the_experts_return_on_its_levels(small):
    env, params, demos = small
    trainer = make_train(PPOConfig(hidden=(64, 64), num_envs=4), env, params)
    state = trainer.init(jax.random.key(1), PPOHparams())
    cloned, losses = jax.jit(lambda s: imitation.pretrain(trainer, s, demos, 400, 3e-3))(state)
    assert float(losses[-1]) < 0.05 < float(losses[0])

    def on_level(state, level, key):
        ep = evaluation.evaluate(env, params.replace(level=level), trainer.acting(state), key, 1)
        return ep.returns[0]

    keys = jax.random.split(jax.random.key(2), 4)
    returns = jax.jit(jax.vmap(on_level, in_axes=(None, 0, 0)))(cloned, demos.levels, keys)
    np.testing.assert_allclose(returns, demos.returns, rtol=1e-6)


def test_concurrent_imitation_adds_the_cloning_term_to_ppo(small):
    env, params, demos = small
    cfg = PPOConfig(hidden=(32,), num_envs=4, num_steps=32, total_timesteps=4 * 32 * 6)
    trainer = imitation.ImitationTrainer(cfg, env, demos, params)
    hp = imitation.ImitationHparams(bc_coef=1.0, lr=3e-3)
    init = trainer.init(jax.random.key(3), hp)
    res = jax.jit(trainer)(jax.random.key(3), hp)
    before = float(imitation.bc_loss(trainer, init.params, demos, None))
    after = float(imitation.bc_loss(trainer, res.state.params, demos, None))
    assert after < 0.7 * before
    with pytest.raises(ValueError, match="feed-forward"):
        imitation.ImitationTrainer(PPOConfig(policy="gru"), env, demos, params)
