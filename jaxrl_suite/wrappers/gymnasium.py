"""Expose any jaxrl-suite (or gymnax) environment to gymnasium and stable-baselines3 (SB3).

What is supported (tested in ``tests/test_bad_input.py`` and ``tests/test_wrappers.py``):

* ``to_gymnasium(env)`` is a ``gymnasium.Env``. It passes gymnasium's and SB3's ``check_env`` (tested on
  gymnax CartPole, a MiniGrid world, a probe and the quadrotor; Brax's inverted_pendulum passed by hand,
  left out of the tests for its minute-long compile), and SB3 trains on it as on any
  ``gymnasium.Env``. A discrete part of an observation comes back as a NumPy integer scalar, as gymnasium's
  own spaces return it.
* ``to_gymnasium(env, num_envs=n)`` is a same-step auto-resetting ``gymnasium.vector.VectorEnv`` (the
  finished episodes' last observations in ``info["final_obs"]``), for gymnasium's vector tools. SB3 does not
  take gymnasium's ``VectorEnv`` (it has its own ``VecEnv`` API): for SB3 use
* ``to_sb3_vec_env(env, num_envs=n)``, an SB3 ``VecEnv`` whose ``n`` copies step in one jitted call, with
  ``infos[i]["terminal_observation"]`` and ``infos[i]["TimeLimit.truncated"]`` as SB3's own vec envs report
  them (wrap it in SB3's ``VecMonitor`` for episode statistics). Needs stable-baselines3 (``make bench``).
* ``flatten_obs=True`` (all three) observes one float32 vector instead: gymnasium's ``flatten`` (Box parts
  raveled, discrete parts one-hot, Dict keys in sorted order), computed inside the jitted step. The grid
  worlds observe a Dict with a small uint8 image (7x7x3 by default); SB3's ``MultiInputPolicy`` sends every
  uint8 image to its NatureCNN, which needs at least 36x36 pixels and fails on it, so with SB3 use
  ``flatten_obs=True`` and ``MlpPolicy`` (or ``MultiInputPolicy`` with a features extractor of your own).

Actions cross the boundary as NumPy, so they are checked in full: a wrong shape, a discrete action that is not
an integer in [0, n), or a non-finite Box action is a one-line ``ValueError``. A finite Box action outside its
bounds is passed on (SB3 clips its own; our envs clip or not, env by env). Rendering: ``GymnasiumEnv`` only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces as gs
from gymnasium.vector import AutoresetMode

from jaxrl_suite.spaces import to_gymnasium_space
from jaxrl_suite.vector import VecEnv


def _np(tree: Any) -> Any:
    return jax.tree.map(np.asarray, tree)


def _flattener(space: gs.Space) -> Callable[[Any], jax.Array]:
    """A JAX function equal to ``gymnasium.spaces.flatten(space, obs)`` for one observation, as float32."""
    if isinstance(space, gs.Dict):
        parts = [(k, _flattener(s)) for k, s in space.spaces.items()]
        return lambda obs: jnp.concatenate([f(obs[k]) for k, f in parts])
    if isinstance(space, gs.Discrete):
        return lambda obs: jax.nn.one_hot(
            jnp.asarray(obs) - int(space.start), int(space.n), dtype=jnp.float32
        )
    if isinstance(space, gs.Box):
        return lambda obs: jnp.reshape(jnp.asarray(obs), (-1,)).astype(jnp.float32)
    raise TypeError(f"cannot flatten {space!r}")


class _Spaces:
    """The single env's gymnasium spaces and the observation transform (identity, or flatten)."""

    def __init__(self, env: Any, params: Any, flatten_obs: bool):
        native = to_gymnasium_space(env.observation_space(params))
        self.action = to_gymnasium_space(env.action_space(params))
        self.name = getattr(env, "name", type(env).__name__)
        if flatten_obs:
            flat = gs.flatten_space(native)
            self.obs = gs.Box(
                flat.low.astype(np.float32), flat.high.astype(np.float32), flat.shape, np.float32
            )
            self.transform = _flattener(native)
        else:
            self.obs = native
            self.transform = lambda obs: obs

    def to_numpy(self, obs: Any, space: gs.Space | None = None) -> Any:
        """Host arrays of the declared dtypes; a single discrete value as a NumPy integer scalar."""
        space = self.obs if space is None else space
        if isinstance(space, gs.Dict):
            return {k: self.to_numpy(obs[k], s) for k, s in space.spaces.items()}
        if isinstance(space, gs.Discrete):
            return space.dtype.type(np.asarray(obs).item())
        return np.array(obs, dtype=space.dtype)  # a writable copy (torch warns on read-only arrays)

    def rows(self, batch: Any, i: int, space: gs.Space | None = None) -> Any:
        """Row ``i`` of a batched (host) observation, as the single env returns it."""
        space = self.obs if space is None else space
        if isinstance(space, gs.Dict):
            return {k: self.rows(batch[k], i, s) for k, s in space.spaces.items()}
        return self.to_numpy(np.asarray(batch)[i], space)

    def batch_to_numpy(self, obs: Any, space: gs.Space | None = None) -> Any:
        space = self.obs if space is None else space
        if isinstance(space, gs.Dict):
            return {k: self.batch_to_numpy(obs[k], s) for k, s in space.spaces.items()}
        return np.array(obs, dtype=space.dtype)  # a writable copy (torch warns on read-only arrays)

    def check_action(self, action: Any, batch: tuple[int, ...] = ()) -> np.ndarray:
        """The action as a NumPy array of the space's dtype; ``ValueError`` (one line) if it cannot be one."""
        a = np.asarray(action)
        space = self.action
        want = tuple(batch) + tuple(space.shape or ())
        if a.shape != want:
            raise ValueError(
                f"{self.name}: action has shape {a.shape}, expected {want}: the action space is {space}"
            )
        if isinstance(space, gs.Discrete):
            lo, hi = int(space.start), int(space.start) + int(space.n)
            integral = np.issubdtype(a.dtype, np.integer) or (
                np.issubdtype(a.dtype, np.floating) and np.all(np.floor(a) == a)
            )
            if not integral or np.any(a < lo) or np.any(a >= hi):
                raise ValueError(
                    f"{self.name}: discrete action {a.tolist()} is not an integer in [{lo}, {hi})"
                )
            return a.astype(np.int32)
        if isinstance(space, gs.Box):
            if np.issubdtype(a.dtype, np.number) and not np.all(np.isfinite(a)):
                raise ValueError(f"{self.name}: Box action {a.tolist()} is not finite")
            return a.astype(space.dtype)
        return a


class GymnasiumEnv(gymnasium.Env):
    """One environment; episodes end as in gymnasium (call ``reset`` after terminated or truncated)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        env: Any,
        params: Any = None,
        seed: int = 0,
        render_mode: str | None = None,
        flatten_obs: bool = False,
    ):
        self._env = env
        self._params = env.default_params if params is None else params
        self._spaces = _Spaces(env, self._params, flatten_obs)
        self.observation_space = self._spaces.obs
        self.action_space = self._spaces.action
        self.render_mode = render_mode
        self._key = jax.random.key(seed)
        transform = self._spaces.transform

        def reset(key, params):
            obs, state = env.reset_env(key, params)
            return transform(obs), state

        def step(key, state, action, params):
            obs, state, reward, terminated, info = env.step_env(key, state, action, params)
            return transform(obs), state, reward, terminated, env.is_truncated(state, params), info

        self._reset = jax.jit(reset)
        self._step = jax.jit(step)
        self._state = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._key = jax.random.key(seed)
        self._key, key = jax.random.split(self._key)
        obs, self._state = self._reset(key, self._params)
        return self._spaces.to_numpy(obs), {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = self._spaces.check_action(action)
        self._key, key = jax.random.split(self._key)
        obs, self._state, reward, terminated, truncated, info = self._step(
            key, self._state, action, self._params
        )
        return self._spaces.to_numpy(obs), float(reward), bool(terminated), bool(truncated), _np(info)

    def render(self):
        if self._state is None:
            raise RuntimeError("call reset() before render()")
        return np.asarray(self._env.render(self._state, self._params))


class _Batch:
    """``num_envs`` copies in one jitted ``VecEnv`` step, observations transformed inside the jit."""

    def __init__(self, env: Any, num_envs: int, params: Any, seed: int, flatten_obs: bool):
        self.venv = VecEnv(env, num_envs)
        self.num_envs = self.venv.num_envs
        self.params = env.default_params if params is None else params
        self.spaces = _Spaces(env, self.params, flatten_obs)
        self.key = jax.random.key(seed)
        batched = jax.vmap(self.spaces.transform)

        def reset(key, params):
            obs, state = self.venv.reset(key, params)
            return batched(obs), state

        def step(key, state, action, params):
            obs, state, reward, terminated, truncated, info = self.venv.step(key, state, action, params)
            info = dict(info)
            info["final_observation"] = batched(info["final_observation"])
            return batched(obs), state, reward, terminated, truncated, info

        self._reset = jax.jit(reset)
        self._step = jax.jit(step)
        self.state = None

    def reset(self, seed: int | None = None):
        if seed is not None:
            self.key = jax.random.key(seed)
        self.key, key = jax.random.split(self.key)
        obs, self.state = self._reset(key, self.params)
        return self.spaces.batch_to_numpy(obs)

    def step(self, actions):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        actions = self.spaces.check_action(actions, batch=(self.num_envs,))
        self.key, key = jax.random.split(self.key)
        obs, self.state, reward, terminated, truncated, info = self._step(
            key, self.state, actions, self.params
        )
        info = _np(info)
        final = self.spaces.batch_to_numpy(info.pop("final_observation"))
        obs = self.spaces.batch_to_numpy(obs)
        return obs, np.asarray(reward), np.asarray(terminated), np.asarray(truncated), final, info


class GymnasiumVectorEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` environments, auto-reset in the same step; final observations in ``info["final_obs"]``."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, env: Any, num_envs: int, params: Any = None, seed: int = 0, flatten_obs: bool = False):
        self._batch = _Batch(env, num_envs, params, seed, flatten_obs)
        self._params = self._batch.params
        self.num_envs = self._batch.num_envs
        self.single_observation_space = self._batch.spaces.obs
        self.single_action_space = self._batch.spaces.action
        self.observation_space = gymnasium.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gymnasium.vector.utils.batch_space(self.single_action_space, num_envs)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        return self._batch.reset(seed), {}

    def step(self, actions):
        obs, reward, terminated, truncated, final, info = self._batch.step(actions)
        info["final_obs"] = final
        info["_final_obs"] = np.logical_or(terminated, truncated)
        return obs, reward, terminated, truncated, info


@functools.cache
def _sb3_vec_env_class() -> type:
    from stable_baselines3.common.vec_env import VecEnv as SB3VecEnv

    class SB3VectorEnv(SB3VecEnv):
        """A stable-baselines3 ``VecEnv`` over ``jaxrl_suite.VecEnv`` (see the module docstring)."""

        def __init__(
            self, env: Any, num_envs: int, params: Any = None, seed: int = 0, flatten_obs: bool = False
        ):
            self._env = env
            self._batch = _Batch(env, num_envs, params, seed, flatten_obs)
            self._actions = None
            super().__init__(self._batch.num_envs, self._batch.spaces.obs, self._batch.spaces.action)

        def reset(self):
            seed = self._seeds[0]
            self._reset_seeds()
            self._reset_options()
            return self._batch.reset(seed)

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = actions

        def step_wait(self):
            obs, reward, terminated, truncated, final, _ = self._batch.step(self._actions)
            done = np.logical_or(terminated, truncated)
            infos: list[dict] = [{} for _ in range(self.num_envs)]
            for i in np.flatnonzero(done):
                infos[i]["terminal_observation"] = self._batch.spaces.rows(final, int(i))
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            return obs, reward.astype(np.float32), done, infos

        def close(self) -> None:
            pass

        def get_attr(self, attr_name: str, indices=None) -> list[Any]:
            value = None if attr_name == "render_mode" else getattr(self._env, attr_name)
            return [value for _ in self._get_indices(indices)]

        def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
            raise NotImplementedError("the copies share one immutable jaxrl-suite env: pass params instead")

        def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
            method = getattr(self._env, method_name)
            return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

        def env_is_wrapped(self, wrapper_class: type, indices=None) -> list[bool]:
            return [False for _ in self._get_indices(indices)]

    return SB3VectorEnv


def to_gymnasium(
    env: Any,
    num_envs: int | None = None,
    params: Any = None,
    seed: int = 0,
    flatten_obs: bool = False,
    **kwargs,
):
    """A ``gymnasium.Env`` (``num_envs=None``) or a same-step auto-resetting gymnasium ``VectorEnv`` over
    ``env`` (for stable-baselines3's vectorised training use ``to_sb3_vec_env``: SB3 does not take gymnasium's
    ``VectorEnv``)."""
    if num_envs is None:
        return GymnasiumEnv(env, params=params, seed=seed, flatten_obs=flatten_obs, **kwargs)
    return GymnasiumVectorEnv(env, int(num_envs), params=params, seed=seed, flatten_obs=flatten_obs)


def to_sb3_vec_env(env: Any, num_envs: int, params: Any = None, seed: int = 0, flatten_obs: bool = False):
    """A stable-baselines3 ``VecEnv`` of ``num_envs`` copies of ``env`` stepped in one jitted call (needs
    stable-baselines3). For the grid worlds pass ``flatten_obs=True`` and use ``MlpPolicy``."""
    return _sb3_vec_env_class()(env, int(num_envs), params=params, seed=seed, flatten_obs=flatten_obs)
