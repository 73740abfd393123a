"""DQN: the Q-values it learns on probe environments are the true ones (observation dependence, bootstrapping
through a truncation), double DQN evaluates the online network's choice with the target network, bad settings
fail before compiling, and the CLI trains it."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.algos.dqn import DQNConfig, DQNHparams, make_train

SMALL = dict(num_envs=8, buffer_size=4096, minibatch_size=64, learning_starts=256, train_frequency=8,
             gradient_steps=8, hidden=(32,))  # fmt: skip


def q_values(trainer, state, obs):
    return np.asarray(trainer.network.apply(state.params, jnp.asarray(obs, jnp.float32)))


def test_q_values_depend_on_the_observation_as_the_rewards_do():
    """One step, observation +-1, reward 1 for the action matching its sign: Q = 1 there, 0 elsewhere."""
    env, params = jaxrl_suite.make("Probe-obs_action-discrete-v0")
    trainer = make_train(DQNConfig(total_timesteps=6_000, **SMALL), env, params)
    res = jax.jit(trainer)(jax.random.key(0), DQNHparams(lr=3e-3, exploration_fraction=0.3))
    q = q_values(trainer, res.state, [[1.0], [-1.0]])
    np.testing.assert_allclose(q, [[0.0, 1.0], [1.0, 0.0]], atol=0.1)


def test_a_truncated_episode_bootstraps_from_its_final_observation():
    """Reward 1 forever, cut by a 10-step limit: with the truncation bootstrapped, Q = 1 / (1 - gamma) = 5 at
    gamma 0.8 everywhere; treating the cut as a termination would give 1 at the last step and ~4.2 on
    average."""
    env, params = jaxrl_suite.make("Probe-continuing-discrete-v0")
    params = params.replace(max_steps_in_episode=10)
    trainer = make_train(DQNConfig(total_timesteps=24_000, **{**SMALL, "gradient_steps": 24}), env, params)
    res = jax.jit(trainer)(jax.random.key(1), DQNHparams(lr=3e-3, gamma=0.8))
    q = q_values(trainer, res.state, [[0.0]])
    assert abs(q.max() - 5.0) < 0.25, q  # the greedy action's value (the other is seldom tried)


def test_double_dqn_values_the_online_choice_with_the_target_network():
    env, params = jaxrl_suite.make("Probe-obs-discrete-v0")
    single = make_train(DQNConfig(total_timesteps=512, **SMALL), env, params)
    double = make_train(DQNConfig(total_timesteps=512, double_dqn=True, **SMALL), env, params)
    state = single.init(jax.random.key(0), DQNHparams())
    online = state.params
    head = jax.tree.map(lambda p: -p, online["params"]["Dense_0"])  # the target's Q is minus the online Q
    target = {"params": {**online["params"], "Dense_0": head}}
    batch = (jnp.zeros((4, 1)), jnp.zeros(4, jnp.int32), jnp.zeros(4), jnp.ones((4, 1)), jnp.zeros(4))
    hp = DQNHparams(gamma=1.0)
    q_next_online = single.network.apply(online, batch[3])
    q_next_target = single.network.apply(target, batch[3])
    want_single = q_next_target.max(-1)
    want_double = jnp.take_along_axis(q_next_target, q_next_online.argmax(-1)[:, None], 1)[:, 0]
    q_taken = single.network.apply(online, batch[0])[:, 0]
    for trainer, want in ((single, want_single), (double, want_double)):
        loss, _ = trainer.loss(online, target, batch, hp)
        expected = jnp.where(
            jnp.abs(q_taken - want) <= 1, 0.5 * (q_taken - want) ** 2, jnp.abs(q_taken - want) - 0.5
        )
        np.testing.assert_allclose(float(loss), float(expected.mean()), rtol=1e-5)
    assert not np.allclose(want_single, want_double)


def test_the_td_loss_is_huber_or_squared_error_as_configured():
    """TD errors near 5 (reward 5, terminal): Huber (SB3's smooth L1) is |e| - 1/2, ``loss="mse"`` is e^2 / 2."""
    env, params = jaxrl_suite.make("Probe-obs-discrete-v0")
    huber = make_train(DQNConfig(total_timesteps=512, **SMALL), env, params)
    mse = make_train(DQNConfig(total_timesteps=512, loss="mse", **SMALL), env, params)
    state = huber.init(jax.random.key(0), DQNHparams())
    batch = (jnp.zeros((4, 1)), jnp.zeros(4, jnp.int32), jnp.full(4, 5.0), jnp.ones((4, 1)), jnp.ones(4))
    error = np.asarray(huber.network.apply(state.params, batch[0])[:, 0]) - 5.0
    assert np.all(np.abs(error) > 1)
    got = [float(t.loss(state.params, state.params, batch, DQNHparams())[0]) for t in (huber, mse)]
    np.testing.assert_allclose(got, [np.mean(np.abs(error) - 0.5), np.mean(0.5 * error**2)], rtol=1e-5)


def test_bad_dqn_settings_fail_before_compiling():
    env, params = jaxrl_suite.make("CartPole-v1")
    with pytest.raises(ValueError, match="less than one update"):
        make_train(DQNConfig(total_timesteps=8, **SMALL), env, params)
    with pytest.raises(ValueError, match="exceeds buffer_size"):
        make_train(DQNConfig(**{**SMALL, "minibatch_size": 8192}), env, params)
    with pytest.raises(ValueError, match="Discrete"):
        make_train(DQNConfig(**SMALL), *jaxrl_suite.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="gamma"):
        make_train(DQNConfig(**SMALL), env, params)(jax.random.key(0), DQNHparams(gamma=1.5))
    with pytest.raises(ValueError, match="unknown DQN loss 'l1'"):
        make_train(DQNConfig(**{**SMALL, "loss": "l1"}), env, params)


def test_train_dqn_from_the_cli(tmp_path, capsys):
    from jaxrl_suite.cli import main

    argv = ["train", "dqn", "--env", "CartPole-v1", "--total-steps", "2048", "--num-envs", "4",
            "--train-frequency", "16", "--gradient-steps", "4", "--learning-starts", "128", "--hidden", "16",
            "--out", str(tmp_path / "run"), "--json"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["status"] == "finished" and out["total_steps"] == 2048 and out["algo"] == "dqn"


@pytest.mark.slow
def test_dqn_solves_cartpole():
    """CleanRL's CartPole settings (``dqn.cleanrl_cartpole``: 500 k steps, squared TD error), 4 seeds in one
    vmapped program: the greedy policy averages >= 475 over 100 fresh episodes on at least 3 of them, and
    every seed learns (>= 300; a random policy gets ~22). Measured: 7 of 8 seeds at 500, the other 321; with
    the Huber loss at this learning rate the Q-values diverge, and rl-zoo's settings solve about half the
    seeds. About a minute and a half on 2 cores."""
    from jaxrl_suite.algos import dqn

    env, params = jaxrl_suite.make("CartPole-v1")
    config, hp = dqn.cleanrl_cartpole()
    trainer = make_train(config, env, params)
    res = jax.jit(jax.vmap(trainer, in_axes=(0, None)))(jax.random.split(jax.random.key(0), 4), hp)
    greedy = jax.vmap(lambda s, k: dqn.evaluate(trainer, s, k, 100)["return"].mean())
    returns = np.asarray(jax.jit(greedy)(res.state, jax.random.split(jax.random.key(1), 4)))
    assert (returns >= 475).sum() >= 3 and (returns >= 300).all(), returns
