"""Stochastic variants of any environment, one source of noise per wrapper, each set by its own dynamic
parameter (a field added to the env's params, so a sweep can vmap over it):

* ``StickyActions`` (``sticky_prob``, default 0.25): with that probability the previously *executed* action
  is executed again instead of the agent's; never on an episode's first step (Machado et al. 2018,
  "Revisiting the Arcade Learning Environment"; the stochastic setting of Laidlaw et al. 2024, "The
  Effective Horizon Explains Deep RL Performance in Stochastic Environments").
* ``RandomInitialState`` (``init_random_steps``): each episode starts after a uniform number (0 to the
  parameter) of uniformly random actions; the prefix stops early rather than end the episode, and the
  step counter restarts after it.
* ``ObservationNoise`` (``obs_noise_std``): Gaussian noise added to every floating-point observation leaf.
* ``SlipperyTransitions`` (``slip_prob``): with that probability the action slides: it is applied twice in
  one step (rewards summed; the second application is skipped if the first ended the episode).
* ``ActionCorruption`` (``corrupt_prob``): with that probability the agent's action is replaced by a
  uniformly random one from the action space.
* ``RewardNoise`` (``reward_noise_std``): Gaussian noise added to every reward.

``info["executed_action"]`` reports what the environment actually received, where a wrapper changes it.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces as gx

from jaxrl_suite.wrappers.base import StatefulWrapper, Wrapper


@functools.cache
def _extended(params_cls: type, field: str, default: float) -> type:
    """``params_cls`` with one more (dynamic) field; one class per (params class, field)."""
    ns = {"__annotations__": {field: Any}, field: default, "__module__": __name__}
    return struct.dataclass(type(f"{params_cls.__name__}_{field}", (params_cls,), ns))


def _with_field(params: Any, field: str, value: float) -> Any:
    cls = _extended(type(params), field, value)
    names = [f for f in params.__dataclass_fields__]
    return cls(**{n: getattr(params, n) for n in names}, **{field: value})


class _ParamWrapper(Wrapper):
    """A wrapper whose parameter ``FIELD`` rides in the env's params (validated on concrete values)."""

    FIELD = ""
    LOW, HIGH = 0.0, float("inf")

    def __init__(self, env: Any, value: float):
        super().__init__(env)
        v = float(value)
        if not (self.LOW <= v <= self.HIGH):
            raise ValueError(f"{type(self).__name__}: {self.FIELD}={value} outside [{self.LOW}, {self.HIGH}]")
        self.value = v

    @property
    def default_params(self) -> Any:
        return _with_field(self.env.default_params, self.FIELD, self.value)

    def _p(self, params: Any) -> jax.Array:
        return jnp.asarray(getattr(params, self.FIELD, self.value), jnp.float32)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r}, {self.FIELD}={self.value})"


def _random_action(space: Any, key: jax.Array) -> jax.Array:
    if isinstance(space, gx.Discrete):
        return jax.random.randint(key, (), 0, space.n)
    if isinstance(space, gx.Box):
        return jax.random.uniform(key, space.shape, jnp.float32, space.low, space.high)
    raise TypeError(f"no uniform random action for {space!r}")


# ---------------------------------------------------------------------------------------------- actions
@struct.dataclass
class StickyState:
    env_state: Any
    prev_action: jax.Array  # the last executed action
    first: jax.Array  # bool: the next step is the episode's first


class StickyActions(StatefulWrapper, _ParamWrapper):
    """With probability ``sticky_prob`` the previously executed action runs again (never on step one)."""

    FIELD, HIGH = "sticky_prob", 1.0

    def __init__(self, env: Any, sticky_prob: float = 0.25):
        _ParamWrapper.__init__(self, env, sticky_prob)

    def reset_env(self, key, params):
        obs, env_state = self.env.reset_env(key, params)
        space = self.env.action_space(params)
        zero = jnp.zeros(getattr(space, "shape", ()), getattr(space, "dtype", jnp.int32))
        return obs, StickyState(env_state, zero, jnp.bool_(True))

    def step_env(self, key, state, action, params):
        k_stick, k_env = jax.random.split(key)
        sticky = ~state.first & (jax.random.uniform(k_stick) < self._p(params))
        executed = jnp.where(sticky, state.prev_action, jnp.asarray(action, state.prev_action.dtype))
        obs, env_state, reward, terminated, info = self.env.step_env(k_env, state.env_state, executed, params)
        info = {**info, "executed_action": executed, "sticky": sticky}
        return obs, StickyState(env_state, executed, jnp.bool_(False)), reward, terminated, info


class ActionCorruption(_ParamWrapper):
    """With probability ``corrupt_prob`` a uniformly random action replaces the agent's."""

    FIELD, HIGH = "corrupt_prob", 1.0

    def __init__(self, env: Any, corrupt_prob: float = 0.1):
        super().__init__(env, corrupt_prob)

    def step_env(self, key, state, action, params):
        k_coin, k_act, k_env = jax.random.split(key, 3)
        random = _random_action(self.env.action_space(params), k_act)
        action = jnp.asarray(action)
        executed = jnp.where(
            jax.random.uniform(k_coin) < self._p(params), random.astype(action.dtype), action
        )
        obs, state, reward, terminated, info = self.env.step_env(k_env, state, executed, params)
        return obs, state, reward, terminated, {**info, "executed_action": executed}


class SlipperyTransitions(_ParamWrapper):
    """With probability ``slip_prob`` the action is applied twice in one step (the agent slides on)."""

    FIELD, HIGH = "slip_prob", 1.0

    def __init__(self, env: Any, slip_prob: float = 0.1):
        super().__init__(env, slip_prob)

    def step_env(self, key, state, action, params):
        k_coin, k1, k2 = jax.random.split(key, 3)
        obs, s1, r1, term1, info = self.env.step_env(k1, state, action, params)
        obs2, s2, r2, term2, _ = self.env.step_env(k2, s1, action, params)
        slide = (jax.random.uniform(k_coin) < self._p(params)) & ~jnp.asarray(term1, bool)
        pick = lambda a, b: jax.tree.map(lambda x, y: jnp.where(slide, y, x), a, b)  # noqa: E731
        reward = jnp.where(slide, r1 + r2, r1)
        terminated = jnp.where(slide, term2, term1)
        return pick(obs, obs2), pick(s1, s2), reward, terminated, {**info, "slipped": slide}


# ---------------------------------------------------------------------------------- starts, observations
class RandomInitialState(_ParamWrapper):
    """Episodes start after ``U{0..init_random_steps}`` uniformly random actions. ``max_steps`` (default:
    ``init_random_steps``) is a static bound on the parameter: every reset runs that many inner steps, masked,
    so keep it small (an auto-reset computes a reset on every step)."""

    FIELD = "init_random_steps"

    def __init__(self, env: Any, init_random_steps: int = 8, max_steps: int | None = None):
        max_steps = int(init_random_steps) if max_steps is None else int(max_steps)
        if not 0 <= int(init_random_steps) <= max_steps:
            raise ValueError(f"init_random_steps={init_random_steps} must lie in [0, max_steps={max_steps}]")
        super().__init__(env, int(init_random_steps))
        self.max_steps = max_steps

    def reset_env(self, key, params):
        k_reset, k_n, k_run = jax.random.split(key, 3)
        obs, state = self.env.reset_env(k_reset, params)
        limit = jnp.minimum(jnp.asarray(self._p(params), jnp.int32), self.max_steps)
        n = jax.random.randint(k_n, (), 0, limit + 1)
        space = self.env.action_space(params)

        def body(i, carry):
            obs, state, going = carry
            k_act, k_env = jax.random.split(jax.random.fold_in(k_run, i))
            o2, s2, _, term, _ = self.env.step_env(k_env, state, _random_action(space, k_act), params)
            take = going & (i < n) & ~jnp.asarray(term, bool)  # an episode never starts terminated
            pick = lambda a, b: jax.tree.map(lambda x, y: jnp.where(take, y, x), a, b)  # noqa: E731
            return pick(obs, o2), pick(state, s2), going & take

        obs, state, _ = jax.lax.fori_loop(0, self.max_steps, body, (obs, state, jnp.bool_(True)))
        if hasattr(state, "time"):  # the step limit counts from here
            state = state.replace(time=jnp.zeros_like(state.time))
        return obs, state


class ObservationNoise(_ParamWrapper):
    """Gaussian noise (``obs_noise_std``) on every floating-point observation leaf."""

    FIELD = "obs_noise_std"

    def __init__(self, env: Any, obs_noise_std: float = 0.1):
        super().__init__(env, obs_noise_std)

    def _noisy(self, key, obs, params):
        leaves, tree = jax.tree.flatten(obs)
        keys = jax.random.split(key, max(1, len(leaves)))
        std = self._p(params)
        out = [
            x + std * jax.random.normal(k, jnp.shape(x), jnp.asarray(x).dtype)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)
            else x
            for x, k in zip(leaves, keys, strict=False)
        ]
        return jax.tree.unflatten(tree, out)

    def reset_env(self, key, params):
        k_env, k_noise = jax.random.split(key)
        obs, state = self.env.reset_env(k_env, params)
        return self._noisy(k_noise, obs, params), state

    def step_env(self, key, state, action, params):
        k_env, k_noise = jax.random.split(key)
        obs, state, reward, terminated, info = self.env.step_env(k_env, state, action, params)
        return self._noisy(k_noise, obs, params), state, reward, terminated, info


class RewardNoise(_ParamWrapper):
    """Gaussian noise (``reward_noise_std``) on every reward."""

    FIELD = "reward_noise_std"

    def __init__(self, env: Any, reward_noise_std: float = 0.1):
        super().__init__(env, reward_noise_std)

    def step_env(self, key, state, action, params):
        k_env, k_noise = jax.random.split(key)
        obs, state, reward, terminated, info = self.env.step_env(k_env, state, action, params)
        noisy = jnp.asarray(reward, jnp.float32) + self._p(params) * jax.random.normal(
            k_noise, jnp.shape(reward)
        )
        return obs, state, noisy, terminated, info


__all__ = [
    "ActionCorruption",
    "ObservationNoise",
    "RandomInitialState",
    "RewardNoise",
    "SlipperyTransitions",
    "StickyActions",
    "StickyState",
]
