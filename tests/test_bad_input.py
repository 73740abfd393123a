"""Environments and bridges refuse bad input with one clear line (issue 13, item 6).

Wrong-shape actions are caught at trace time (``jax.eval_shape``: nothing is compiled); the gymnasium bridge
checks concrete actions on the host, passes ``check_env`` for one env of each family, and stable-baselines3
trains on a vectorised grid world through it. Brax is left out: its compile alone takes about a minute.
"""

from __future__ import annotations

import importlib.util
import warnings

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.vector import VecEnv
from jaxrl_suite.wrappers.gymnasium import to_gymnasium

KEY = jax.random.key(0)


def _refuses(env_id: str, bad_shape: tuple[int, ...], expected: int) -> None:
    """``env.step`` and ``VecEnv.step`` (2 envs) raise a ValueError naming the expected shape, at trace time."""
    env, params = jaxrl_suite.make(env_id)
    _, state = jax.eval_shape(env.reset, KEY, params)
    with pytest.raises(ValueError, match=rf"action has shape \({bad_shape[0]},\), expected \({expected},\)"):
        jax.eval_shape(env.step, KEY, state, jnp.zeros(bad_shape), params)
    venv = VecEnv(env, 2)
    _, vstate = jax.eval_shape(venv.reset, KEY, params)
    with pytest.raises(ValueError, match=rf"expected \(2, {expected}\)"):
        jax.eval_shape(venv.step, KEY, vstate, jnp.zeros((2, *bad_shape)), params)


def test_pendulum_refuses_a_wrong_shape_box_action():
    _refuses("Pendulum-v1", (3,), 1)
    env, params = jaxrl_suite.make("Pendulum-v1")  # the right shape still steps (gymnax's own step)
    obs, state = env.reset(KEY, params)
    assert env.step(KEY, state, jnp.zeros((1,)), params)[0].shape == obs.shape


def test_quadrotor_refuses_a_wrong_shape_box_action():
    _refuses("Quadrotor-Hover-v0", (3,), 4)


def test_probe_refuses_a_wrong_shape_action():
    _refuses("Probe-action-continuous-v0", (5,), 1)
    env, params = jaxrl_suite.make("Probe-action-discrete-v0")  # Discrete: one scalar per env
    _, state = jax.eval_shape(env.reset, KEY, params)
    with pytest.raises(ValueError, match=r"expected \(\): the action space is Discrete\(2\)"):
        jax.eval_shape(env.step, KEY, state, jnp.zeros((2,), jnp.int32), params)


BRIDGE_IDS = ["CartPole-v1", "MiniGrid-Empty-5x5-v0", "Probe-obs_action-continuous-v0", "Quadrotor-Hover-v0"]
_BRIDGES: dict[str, gymnasium.Env] = {}


def _bridge(env_id: str) -> gymnasium.Env:
    if env_id not in _BRIDGES:  # one compile per env across the tests of this file
        env, params = jaxrl_suite.make(env_id)
        _BRIDGES[env_id] = to_gymnasium(env, params=params, seed=0)
    return _BRIDGES[env_id]


@pytest.mark.parametrize("env_id", BRIDGE_IDS)
def test_bridge_passes_check_env(env_id):
    from gymnasium.utils.env_checker import check_env

    genv = _bridge(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # advice only (unbounded Box, small image, ...)
        check_env(genv, skip_render_check=True)
        if importlib.util.find_spec("stable_baselines3") is not None:
            from stable_baselines3.common.env_checker import check_env as sb3_check_env

            sb3_check_env(genv)
    obs, _ = genv.reset(seed=1)
    if isinstance(obs, dict):  # SB3's test for a discrete observation: a NumPy integer, not a 0-d array
        assert np.issubdtype(type(obs["direction"]), np.integer)


def test_bridge_refuses_bad_actions():
    cart = _bridge("CartPole-v1")
    cart.reset(seed=0)
    with pytest.raises(ValueError, match=r"discrete action 2 is not an integer in \[0, 2\)"):
        cart.step(2)
    with pytest.raises(ValueError, match=r"action has shape \(1,\), expected \(\)"):
        cart.step(np.array([1]))
    probe = _bridge("Probe-obs_action-continuous-v0")
    probe.reset(seed=0)
    with pytest.raises(ValueError, match=r"action has shape \(5,\), expected \(1,\)"):
        probe.step(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="not finite"):
        probe.step(np.array([np.nan], np.float32))


def test_sb3_trains_on_a_vectorised_grid_world():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    from jaxrl_suite.wrappers.gymnasium import to_sb3_vec_env

    env, params = jaxrl_suite.make("MiniGrid-Empty-5x5-v0", max_steps_in_episode=16)
    venv = to_sb3_vec_env(env, num_envs=4, params=params, flatten_obs=True)
    obs = venv.reset()
    assert obs.shape == (4, *venv.observation_space.shape) and obs.dtype == np.float32
    model = PPO("MlpPolicy", VecMonitor(venv), n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    assert model.num_timesteps >= 256 and len(model.ep_info_buffer) > 0  # episodes ended and were counted
