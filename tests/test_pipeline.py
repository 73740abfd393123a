"""One environment pipeline: every auto-resetting step goes through ``jaxrl_suite.autoreset.step``, and PPO's
observation/reward normalisation and episode statistics are the wrappers' own."""

import jax
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite import autoreset
from jaxrl_suite.envs.grid.base import GridEnv
from jaxrl_suite.vector import VecEnv


@pytest.mark.parametrize(
    "make_step",
    [
        pytest.param(lambda: jaxrl_suite.make("Probe-privileged-discrete-v0"), id="plain-env"),
        pytest.param(lambda: jaxrl_suite.make("MiniGrid-DoorKey-5x5-v0"), id="grid-env"),
        pytest.param(
            lambda: (VecEnv(jaxrl_suite.make("CartPole-v1")[0], 3, "pooled", 2), None), id="vecenv-pooled"
        ),
        pytest.param(lambda: (VecEnv(jaxrl_suite.make("CartPole-v1")[0], 3), None), id="vecenv-always"),
    ],
)
def test_every_autoresetting_step_goes_through_the_shared_function(monkeypatch, make_step):
    env, params = make_step()
    params = env.default_params if params is None else params
    calls = []
    shared = autoreset.step

    def spy(*args, **kwargs):
        calls.append(kwargs.get("observe"))
        return shared(*args, **kwargs)

    monkeypatch.setattr(autoreset, "step", spy)
    key = jax.random.key(0)
    _, state = jax.eval_shape(env.reset, key, params)
    action = jax.eval_shape(env.action_space(params).sample, key)
    if isinstance(env, VecEnv):
        action = jax.ShapeDtypeStruct((env.num_envs,) + action.shape, action.dtype)
    out = jax.eval_shape(lambda s, a: env.step(key, s, a, params), state, action)
    assert len(calls) == 1
    assert set(out[-1]) >= {"final_observation", "terminated", "truncated"}
    if isinstance(env, GridEnv):  # the grid's fast path: obs built from the state
        assert calls[0] is not None


def test_observe_path_equals_the_step_env_path():
    """Building the observation from the selected state gives what selecting step_env/reset_env obs gives."""
    env, params = jaxrl_suite.make("MiniGrid-DoorKey-5x5-v0", max_steps_in_episode=2)
    _, state = env.reset(jax.random.key(0), params)

    def both(key, state, action):
        plain = autoreset.step(
            env.step_env,
            lambda k, p, d: env.reset_env(k, p),
            env.is_truncated,
            key,
            key,
            state,
            action,
            params,
        )
        return plain, env.step(key, state, action, params)

    both = jax.jit(both)
    for t in range(4):  # a reset on every other step
        plain, fast = both(jax.random.key(t), state, t % 3)
        for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(fast), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        state = fast[1]
    assert bool(plain[4]) or bool(plain[3])


def test_ppo_normalisation_equals_the_wrappers():
    """PPO's normalised inputs, bootstrap inputs and rewards over a rollout equal NormalizeReward(
    NormalizeObservation(VecEnv)) stepped with the same keys and actions from PPO's state."""
    from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train
    from jaxrl_suite.wrappers import EpisodeStatistics, NormalizeObservation, NormalizeReward, mean_finished
    from jaxrl_suite.wrappers.normalize import NormalizeObsState, NormalizeRewardState

    env, params = jaxrl_suite.make("CartPole-v1")
    cfg = PPOConfig(num_envs=4, num_steps=64, total_timesteps=256, normalize_obs=True, normalize_reward=True)
    trainer, hp = make_train(cfg, env, params), PPOHparams(gamma=0.9)
    wrapped = NormalizeReward(NormalizeObservation(VecEnv(EpisodeStatistics(env), cfg.num_envs)), gamma=0.9)
    key = jax.random.key(1)

    def both(key):
        state = trainer.init(key, hp)
        inner = NormalizeObsState(state.env_state, state.obs_rms)
        wstate = NormalizeRewardState(inner, state.discounted_return, state.ret_rms)
        x0 = wrapped.venv.normalize(state.obs, state.obs_rms)  # the wrapper's view of the current obs
        _, traj, episodes = trainer.collect(state, hp, key)
        keys = jax.random.split(key, cfg.num_steps * 2).reshape(cfg.num_steps, 2)[:, 1]

        def body(ws, xs):
            k, action = xs
            obs, ws, reward, _, _, info = wrapped.step(k, ws, action, params)
            return ws, (obs, info["final_observation"], reward)

        _, (obs, final, reward) = jax.lax.scan(body, wstate, (keys, traj.action))
        return traj, episodes, x0, obs, final, reward

    traj, episodes, x0, obs, final, reward = jax.jit(both)(key)
    np.testing.assert_array_equal(traj.x[0], x0)
    np.testing.assert_array_equal(traj.x[1:], obs[:-1])
    np.testing.assert_array_equal(traj.final_critic_x, final)
    np.testing.assert_array_equal(traj.reward, reward)
    assert bool(traj.done.any())  # episodes ended and restarted the discounted returns
    assert not np.allclose(reward, 1.0)  # CartPole's reward 1 was rescaled
    ret, length, count = mean_finished(episodes)  # what PPO's "return"/"length"/"episodes" metrics are
    assert int(count) == int(np.asarray(episodes["done"]).sum()) > 0
    np.testing.assert_allclose(ret, length)  # CartPole: return == length
