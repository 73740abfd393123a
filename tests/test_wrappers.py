"""Wrappers: episode statistics, time limit, action clipping/rescaling, frame stacking, normalisation,
the pooled reset mode of VecEnv, and the gymnasium bridge."""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

import jaxrl_suite
from jaxrl_suite.env import Environment, EnvParams
from jaxrl_suite.spaces import Box
from jaxrl_suite.vector import VecEnv
from jaxrl_suite.wrappers import (
    ClipAction,
    EpisodeStatistics,
    FrameStack,
    NormalizeObservation,
    RescaleAction,
    RunningMeanStd,
    TimeLimit,
    mean_finished,
    to_gymnasium,
)


@struct.dataclass
class EchoState:
    last: jax.Array
    start: jax.Array
    time: jax.Array


class EchoEnv(Environment):
    """Observation = [last action, start value, time]; reward = time; terminates after ``length`` steps."""

    def __init__(self, length: int = 5):
        self.length = length

    @property
    def default_params(self):
        return EnvParams(max_steps_in_episode=100)

    def observation_space(self, params):
        return Box(-jnp.inf, jnp.inf, (3,))

    def action_space(self, params):
        return Box(-2.0, 3.0, (1,))

    def _obs(self, s):
        return jnp.stack([s.last, s.start, s.time.astype(jnp.float32)])

    def reset_env(self, key, params):
        s = EchoState(jnp.float32(0.0), jax.random.uniform(key), jnp.int32(0))
        return self._obs(s), s

    def step_env(self, key, state, action, params):
        s = EchoState(jnp.asarray(action, jnp.float32).reshape(()), state.start, state.time + 1)
        return self._obs(s), s, s.time.astype(jnp.float32), s.time >= self.length, {}


def rollout(env, params, actions, key=0):
    obs, state = env.reset(jax.random.key(key), params)
    outs = []
    for i, a in enumerate(actions):
        obs, state, r, term, trunc, info = env.step(jax.random.key(100 + i), state, jnp.asarray(a), params)
        outs.append((obs, r, term, trunc, info))
    return outs


def test_episode_statistics_sums_rewards_and_flags_done():
    env = EpisodeStatistics(EchoEnv(length=3))
    outs = rollout(env, env.default_params, [[0.0]] * 7)
    dones = [bool(o[4]["episode"]["done"]) for o in outs]
    assert dones == [False, False, True, False, False, True, False]
    assert float(outs[2][4]["episode"]["return"]) == 1 + 2 + 3
    assert int(outs[2][4]["episode"]["length"]) == 3
    assert int(outs[3][4]["episode"]["length"]) == 1  # counters restart with the new episode


def test_mean_finished_has_no_ambiguous_zero():
    none_done = {"done": jnp.array([False, False]), "return": jnp.zeros(2), "length": jnp.zeros(2, jnp.int32)}
    ret, length, count = mean_finished(none_done)
    assert np.isnan(ret) and np.isnan(length) and count == 0
    some = {
        "done": jnp.array([True, False, True]),
        "return": jnp.array([2.0, 99.0, 4.0]),
        "length": jnp.array([1, 9, 3]),
    }
    ret, length, count = mean_finished(some)
    assert float(ret) == 3.0 and float(length) == 2.0 and count == 2


def test_time_limit_truncates_and_stats_see_it():
    env = EpisodeStatistics(TimeLimit(EchoEnv(length=50), max_steps=4))
    outs = rollout(env, env.default_params, [[0.0]] * 9)
    trunc = [bool(o[3]) for o in outs]
    assert trunc == [False, False, False, True, False, False, False, True, False]
    assert not any(bool(o[2]) for o in outs)
    assert bool(outs[3][4]["episode"]["done"]) and int(outs[3][4]["episode"]["length"]) == 4
    with pytest.raises(ValueError):
        TimeLimit(EchoEnv(), 0)


def test_final_observation_is_the_pre_reset_observation():
    env = EchoEnv(length=2)
    outs = rollout(env, env.default_params, [[1.0], [2.0], [0.5]])
    obs, _, term, _, info = outs[1]
    assert bool(term)
    assert float(info["final_observation"][2]) == 2.0  # time 2 at the end of the episode
    assert float(obs[2]) == 0.0  # returned obs belongs to the fresh episode
    assert float(info["final_observation"][0]) == 2.0


def test_clip_and_rescale_actions():
    clipped = ClipAction(EchoEnv())
    outs = rollout(clipped, clipped.default_params, [[10.0], [-10.0]])
    assert float(outs[0][0][0]) == 3.0 and float(outs[1][0][0]) == -2.0
    rescaled = RescaleAction(EchoEnv())
    space = rescaled.action_space(rescaled.default_params)
    assert float(space.low) == -1.0 and float(space.high) == 1.0
    outs = rollout(rescaled, rescaled.default_params, [[-1.0], [1.0], [0.0]])
    assert [float(o[0][0]) for o in outs] == [-2.0, 3.0, 0.5]
    env, _ = jaxrl_suite.make("CartPole-v1")
    with pytest.raises(TypeError, match="Box actions"):
        ClipAction(env)


def test_frame_stack_shifts_and_restarts():
    env = FrameStack(EchoEnv(length=3), k=3)
    obs, state = env.reset(jax.random.key(0), env.default_params)
    assert obs.shape == (3, 3) and np.all(obs == obs[0])
    assert env.observation_space(env.default_params).shape == (3, 3)
    outs = rollout(env, env.default_params, [[1.0], [2.0], [5.0]])
    np.testing.assert_array_equal(outs[1][0][:, 0], [0.0, 1.0, 2.0])
    final = outs[2][4]["final_observation"]
    np.testing.assert_array_equal(final[:, 0], [1.0, 2.0, 5.0])
    assert np.all(outs[2][0] == outs[2][0][0])  # new episode: k copies of its first obs


def test_running_mean_std_matches_numpy():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 2)).astype(np.float32) for n in (5, 17, 64)]
    rms = RunningMeanStd.zeros((2,))
    for b in batches:
        rms = rms.update(jnp.asarray(b))
    full = np.concatenate(batches)
    np.testing.assert_allclose(rms.mean, full.mean(0), rtol=1e-3)
    np.testing.assert_allclose(rms.var, full.var(0), rtol=1e-3)


def test_normalize_observation_standardises_a_rollout():
    env, params = jaxrl_suite.make("Pendulum-v1")
    venv = NormalizeObservation(VecEnv(env, 16))
    obs, state = venv.reset(jax.random.key(0), params)

    def body(carry, key):
        state = carry
        a = jax.random.uniform(key, (16, 1), minval=-2, maxval=2)
        obs, state, *_, info = venv.step(key, state, a, params)
        return state, (obs, info["final_observation"])

    state, (all_obs, finals) = jax.jit(
        lambda s: jax.lax.scan(body, s, jax.random.split(jax.random.key(1), 300))
    )(state)
    late = np.asarray(all_obs[100:]).reshape(-1, 3)
    assert np.all(np.abs(late.mean(0)) < 0.3) and np.all(np.abs(late.std(0) - 1.0) < 0.3)
    assert np.all(np.abs(np.asarray(finals)) <= 10.0)
    with pytest.raises(TypeError, match="Box observations"):
        NormalizeObservation(VecEnv(_DictObsEnv(), 2))


class _DictObsEnv(EchoEnv):
    def observation_space(self, params):
        return jaxrl_suite.spaces.Dict({"a": Box(0, 1, (1,))})


def test_pooled_reset_hands_out_distinct_fresh_episodes():
    env = EchoEnv(length=1)  # every env finishes on every step
    venv = VecEnv(env, num_envs=6, reset_mode="pooled", pool_size=2)
    obs, state = venv.reset(jax.random.key(0), env.default_params)
    obs, state, _, term, _, info = jax.jit(venv.step)(
        jax.random.key(1), state, jnp.zeros((6, 1)), env.default_params
    )
    assert bool(term.all())
    starts = np.asarray(state.start)
    assert starts[0] != starts[1]  # the first pool_size finished envs get distinct episodes
    np.testing.assert_array_equal(starts[0::2], starts[0])  # then the pool is reused in order
    np.testing.assert_array_equal(starts[1::2], starts[1])
    np.testing.assert_array_equal(np.asarray(state.time), 0)
    np.testing.assert_array_equal(np.asarray(info["final_observation"])[:, 2], 1.0)
    with pytest.raises(ValueError):
        VecEnv(env, 4, reset_mode="pooled", pool_size=5)
    with pytest.raises(ValueError):
        VecEnv(env, 4, reset_mode="sometimes")


def test_pooled_and_always_agree_when_nothing_ends():
    env = EchoEnv(length=100)
    a = VecEnv(env, 4)
    b = VecEnv(env, 4, reset_mode="pooled", pool_size=1)
    _, sa = a.reset(jax.random.key(0))
    _, sb = b.reset(jax.random.key(0))
    act = jnp.ones((4, 1))
    oa = a.step(jax.random.key(1), sa, act)
    ob = b.step(jax.random.key(1), sb, act)
    for x, y in zip(jax.tree.leaves(oa), jax.tree.leaves(ob), strict=True):
        np.testing.assert_array_equal(x, y)


def test_gymnasium_env_passes_gymnasium_checker():
    from gymnasium.utils.env_checker import check_env

    env, params = jaxrl_suite.make("CartPole-v1")
    genv = to_gymnasium(env, params=params, seed=1)
    check_env(genv, skip_render_check=True)
    obs, _ = genv.reset(seed=3)
    total, steps, done = 0.0, 0, False
    while not done:
        obs, r, term, trunc, _ = genv.step(genv.action_space.sample())
        total, steps, done = total + r, steps + 1, term or trunc
    assert genv.observation_space.contains(obs) and total == steps


def test_gymnasium_vector_env_autoresets_same_step():
    env, params = jaxrl_suite.make("Probe-constant-discrete-v0")
    venv = to_gymnasium(env, num_envs=3, params=params)
    assert isinstance(venv, gymnasium.vector.VectorEnv)
    obs, _ = venv.reset(seed=0)
    obs, rew, term, trunc, info = venv.step(np.zeros(3, dtype=np.int32))
    assert obs.shape == (3, 1) and np.all(rew == 1.0) and np.all(term)
    assert info["final_obs"].shape == (3, 1) and info["_final_obs"].all()
