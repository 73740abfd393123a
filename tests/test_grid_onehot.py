"""``envs.grid.onehot``: one-hot cells carry exactly the codes, and the wrapped env steps as the plain one."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.envs.grid.onehot import SIZES, OneHotCells, onehot_image
from jaxrl_suite.vector import VecEnv


def test_onehot_image_recovers_every_code():
    highs = np.array(SIZES)
    codes = np.stack([np.random.default_rng(i).integers(0, h, (5, 7, 7)) for i, h in enumerate(highs)], -1)
    enc = np.asarray(onehot_image(jnp.asarray(codes, jnp.uint8)))
    assert enc.shape == (5, 7, 7, sum(SIZES)) and enc.dtype == np.float32
    blocks = np.split(enc, np.cumsum(highs)[:-1], axis=-1)
    for i, block in enumerate(blocks):
        assert (block.sum(-1) == 1).all()
        np.testing.assert_array_equal(block.argmax(-1), codes[..., i])


def test_wrapped_memory_env_steps_as_the_plain_one_with_encoded_images():
    env, params = jaxrl_suite.make("MiniGrid-MemoryS7-v0")
    wrapped = OneHotCells(env)
    space = wrapped.observation_space(params)
    assert space.spaces["image"].shape == (7, 7, sum(SIZES))
    n, steps = 4, 30
    plain, hot = VecEnv(env, n), VecEnv(wrapped, n)
    assert plain.lean and hot.lean  # the wrapper keeps the grid's state-only stepping

    def rollout(venv, key):
        obs, state = venv.reset(key, params)

        def step(state, k):
            ka, ks = jax.random.split(k)
            action = jax.random.randint(ka, (n,), 0, 7)
            obs, state, reward, term, trunc, _ = venv.step(ks, state, action, params)
            return state, (obs, reward, term | trunc)

        return obs, jax.lax.scan(step, state, jax.random.split(key, steps))[1]

    key = jax.random.key(3)
    obs0, (obs, reward, done) = jax.jit(lambda k: rollout(plain, k))(key)
    hot0, (hot_obs, hot_reward, hot_done) = jax.jit(lambda k: rollout(hot, k))(key)
    np.testing.assert_array_equal(hot0["image"], onehot_image(obs0["image"]))
    np.testing.assert_array_equal(hot_obs["image"], onehot_image(obs["image"]))
    np.testing.assert_array_equal(hot_obs["direction"], obs["direction"])
    np.testing.assert_array_equal(hot_reward, reward)
    np.testing.assert_array_equal(hot_done, done)
    assert space.contains(jax.tree.map(lambda x: x[0, 0], hot_obs))
    assert len(np.unique(np.asarray(obs["image"][..., 0]))) > 3  # the rollout saw walls, floor, key/ball


def test_onehot_needs_an_image_observation():
    env, _ = jaxrl_suite.make("CartPole-v1")
    with pytest.raises(ValueError, match="image"):
        OneHotCells(env)
