"""Recurrent PPO (algos/ppo_rnn.py): the sequence plumbing, no gradient across episode boundaries, bitwise
resume, and memory: a GRU solves the memory probe that a feed-forward policy cannot."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train
from jaxrl_suite.algos.ppo_rnn import RecurrentTrainer, Sequences
from jaxrl_suite.runtime import train_runs

SMALL = dict(num_envs=8, num_steps=16, update_epochs=2, num_minibatches=2, hidden=(16,), rnn_hidden=16)


@pytest.fixture(scope="module")
def gru():
    env, params = jaxrl_suite.make("CartPole-v1")
    return make_train(PPOConfig(policy="gru", total_timesteps=8 * 16 * 6, **SMALL), env, params)


def test_recurrent_configs_are_checked_before_compiling():
    env, params = jaxrl_suite.make("CartPole-v1")
    with pytest.raises(ValueError, match="unknown policy"):
        make_train(PPOConfig(policy="rnn"), env, params)
    with pytest.raises(ValueError, match="along envs"):
        make_train(PPOConfig(policy="gru", num_envs=6, num_minibatches=4), env, params)
    assert isinstance(make_train(PPOConfig(policy="lstm"), env, params), RecurrentTrainer)


def test_replayed_sequences_reproduce_the_rollout(gru):
    """The update replays each env from its stored start state through the resets: the policy it sees is
    the one that acted (log-probs and values equal the rollout's), for the whole batch and for a minibatch of
    permuted envs."""
    state = gru.init(jax.random.key(0), PPOHparams())
    state, _ = jax.jit(lambda s: gru.run(s, PPOHparams(), 2))(state)  # hidden states that are not zero
    new_state, traj, _ = jax.jit(lambda s, k: gru.collect(s, PPOHparams(), k))(state, jax.random.key(1))
    seqs = gru.advantages(new_state, traj, PPOHparams())
    assert bool(seqs.reset.any()) and not bool(seqs.reset.all()), "the rollout must cross episode starts"
    pi, value = jax.jit(gru.replay)(state.params, seqs)
    from jaxrl_suite.algos import networks as nets

    logp = nets.log_prob(pi, seqs.batch.action.reshape(-1), False)
    np.testing.assert_allclose(logp, seqs.batch.old_log_prob.reshape(-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value, seqs.batch.old_value.reshape(-1), rtol=1e-5, atol=1e-5)
    envs = jnp.array([5, 2, 7])  # a minibatch of permuted envs replays as those envs
    sub = Sequences(
        jax.tree.map(lambda a: a[:, envs], seqs.batch),
        seqs.reset[:, envs],
        jax.tree.map(lambda a: a[envs], seqs.h0),
    )
    pi_sub, _ = jax.jit(gru.replay)(state.params, sub)
    np.testing.assert_allclose(
        pi_sub.reshape(16, 3, -1), pi.reshape(16, 8, -1)[:, envs], rtol=1e-5, atol=1e-6
    )


def test_no_gradient_crosses_an_episode_boundary(gru):
    state = gru.init(jax.random.key(0), PPOHparams())
    net, t_reset = gru.network, 5
    xs = jax.random.normal(jax.random.key(2), (12, 1, 4))
    resets = jnp.zeros((12, 1), bool).at[t_reset, 0].set(True)

    def out_at(xs, t):
        def step(carry, inp):
            return net.apply(state.params, carry, inp[0], inp[1], method=net.step)

        _, hs = jax.lax.scan(step, gru.initial_hidden(1), (xs, resets))
        return net.apply(state.params, hs[t], method=net.policy).sum()

    for t in (t_reset, 9):
        g = jax.grad(out_at)(xs, t)
        assert np.all(np.asarray(g[:t_reset]) == 0.0), "inputs before the reset must not reach later outputs"
        assert np.abs(np.asarray(g[t_reset : t + 1])).sum() > 0
    g = jax.grad(out_at)(xs, t_reset - 1)
    assert np.abs(np.asarray(g[: t_reset - 1])).sum() > 0, "within an episode, gradients flow through time"


def test_recurrent_run_resumes_bit_for_bit(gru, tmp_path):
    keys = jax.random.split(jax.random.key(3), 2)
    kw = dict(chunk_updates=2, progress=False)
    whole = train_runs(gru, keys, PPOHparams(), out_dir=tmp_path / "a", **kw)
    train_runs(gru, keys, PPOHparams(), out_dir=tmp_path / "b", stop_after_chunks=1, **kw)
    resumed = train_runs(gru, keys, PPOHparams(), out_dir=tmp_path / "b", resume=True, **kw)
    for a, b in zip(jax.tree.leaves(whole.state), jax.tree.leaves(resumed.state), strict=True):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(whole.metrics["policy_loss"], resumed.metrics["policy_loss"])
