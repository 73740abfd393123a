"""The partially observable envs: the memory probe's cue/delay/reward semantics and masked CartPole's parity
with gymnax CartPole-v1."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite


def probe_episode(env, params, key, actions):
    """Observations, rewards and flags of one episode (no auto-reset in the way: steps via step_env)."""
    obs, state = env.reset(key, params)
    out = {"obs": [obs], "reward": [], "terminated": []}
    for a in actions:
        obs, state, reward, term, _ = env.step_env(key, state, jnp.int32(a), params)
        out["obs"].append(obs)
        out["reward"].append(float(reward))
        out["terminated"].append(bool(term))
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize("delay", [None, 1, 6])
def test_memory_probe_cue_delay_and_reward(delay):
    env, params = jaxrl_suite.make("Probe-memory-discrete-v0")
    assert params.delay == 4 and params.max_steps_in_episode >= params.delay + 2
    if delay is not None:
        params = params.replace(delay=delay)
    d = int(params.delay)
    assert env.observation_space(params).shape == (2,)
    seen = set()
    for seed in range(6):
        for act in (0, 1):
            ep = probe_episode(env, params, jax.random.key(seed), [act] * (d + 2))
            cue = ep["obs"][0, 0]
            seen.add(float(cue))
            assert cue in (-1.0, 1.0) and ep["obs"][0, 1] == 0.0
            np.testing.assert_array_equal(ep["obs"][1:, 0], 0.0)  # the cue appears only in the first obs
            flag = np.zeros(d + 3)
            flag[d + 1] = 1.0  # obs_{delay+1} is the decision step
            np.testing.assert_array_equal(ep["obs"][:, 1], flag)
            expected = np.zeros(d + 2)
            expected[d + 1] = 1.0 if act == (cue > 0) else -1.0
            np.testing.assert_array_equal(ep["reward"], expected)
            terminated = np.zeros(d + 2, bool)
            terminated[d + 1] = True  # after delay + 2 steps
            np.testing.assert_array_equal(ep["terminated"], terminated)
    assert seen == {-1.0, 1.0}


def test_memory_probe_auto_reset_terminates_not_truncates():
    env, params = jaxrl_suite.make("Probe-memory-discrete-v0", delay=2)
    obs, state = env.reset(jax.random.key(0), params)
    for t in range(4):
        obs, state, reward, term, trunc, info = jax.jit(env.step)(jax.random.key(t), state, 1, params)
        assert bool(term) == (t == 3) and not bool(trunc)
    assert int(state.time) == 0 and obs[0] != 0.0  # a fresh episode shows its cue


def test_memory_probe_memoryless_return_is_zero():
    """Any fixed mapping from the (blank) decision observation to an action earns 0 in expectation; acting on
    the remembered cue earns 1."""
    env, params = jaxrl_suite.make("Probe-memory-discrete-v0")
    n = int(params.delay) + 2

    def episode_return(key, policy):  # policy 0/1: fixed action; 2: the cue's action
        obs, state = env.reset(key, params)
        cue_action = (obs[0] > 0).astype(jnp.int32)
        action = jnp.where(policy == 2, cue_action, policy)

        def body(carry, _):
            state, ret = carry
            _, state, reward, _, _ = env.step_env(key, state, action, params)
            return (state, ret + reward), None

        (_, ret), _ = jax.lax.scan(body, (state, jnp.float32(0.0)), None, length=n)
        return ret

    keys = jax.random.split(jax.random.key(1), 2000)
    returns = jax.jit(jax.vmap(jax.vmap(episode_return, (0, None)), (None, 0)))(keys, jnp.arange(3))
    means = np.asarray(returns.mean(axis=1))
    assert abs(means[0]) < 0.1 and abs(means[1]) < 0.1, means
    assert means[2] == 1.0


def test_masked_cartpole_matches_gymnax_cartpole():
    import gymnax

    masked, params = jaxrl_suite.make("CartPole-masked-v1")
    full, full_params = gymnax.make("CartPole-v1")
    assert params == full_params
    params = params.replace(max_steps_in_episode=25)  # random play reaches the time limit too
    space = masked.observation_space(params)
    assert space.shape == (2,)

    def rollout(env, key):
        k_reset, k_steps = jax.random.split(key)
        obs0, state = env.reset(k_reset, params)

        def body(state, k):
            ka, ks = jax.random.split(k)
            action = jax.random.randint(ka, (), 0, 2)
            obs, state, reward, term, trunc, info = env.step(ks, state, action, params)
            return state, (obs, reward, term, trunc, info["final_observation"])

        _, traj = jax.lax.scan(body, state, jax.random.split(k_steps, 300))
        return obs0, traj

    key = jax.random.key(3)
    m0, (m_obs, m_rew, m_term, m_trunc, m_final) = jax.device_get(jax.jit(lambda k: rollout(masked, k))(key))
    f0, (f_obs, f_rew, f_term, f_trunc, f_final) = jax.device_get(jax.jit(lambda k: rollout(full, k))(key))
    np.testing.assert_array_equal(m0, f0[[0, 2]])
    np.testing.assert_array_equal(m_obs, f_obs[:, [0, 2]])
    np.testing.assert_array_equal(m_final, f_final[:, [0, 2]])
    np.testing.assert_array_equal(m_rew, f_rew)
    np.testing.assert_array_equal(m_term, f_term)
    np.testing.assert_array_equal(m_trunc, f_trunc)
    assert m_term.any() and m_trunc.any()
    assert bool(jnp.all(jax.vmap(space.contains)(jnp.asarray(m_final))))
