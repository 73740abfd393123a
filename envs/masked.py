"""Partially observable variants of fully observed envs, made by hiding observation components.

``CartPole-masked-v1`` is gymnax CartPole-v1 observing only cart position and pole angle (indices 0 and 2), as in
POPGym's stateless CartPole (Morad et al. 2023): the velocities must be inferred from the observation history.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.adapters.gymnax import make_gymnax
from jaxrl_suite.spaces import Box
from jaxrl_suite.wrappers.base import Wrapper


class MaskObservation(Wrapper):
    """Keeps only the observation components ``keep`` of a flat Box observation; dynamics untouched."""

    def __init__(self, env, keep: tuple[int, ...]):
        super().__init__(env)
        self.keep = tuple(int(i) for i in keep)

    def _mask(self, obs):
        return obs[jnp.array(self.keep)]

    def observation_space(self, params):
        inner = self.env.observation_space(params)
        idx = jnp.array(self.keep)
        low = jnp.broadcast_to(jnp.asarray(inner.low, jnp.float32), inner.shape)[idx]
        high = jnp.broadcast_to(jnp.asarray(inner.high, jnp.float32), inner.shape)[idx]
        return Box(low, high, (len(self.keep),))

    def reset_env(self, key, params):
        obs, state = self.env.reset_env(key, params)
        return self._mask(obs), state

    def step_env(self, key, state, action, params):
        obs, state, reward, terminated, info = self.env.step_env(key, state, action, params)
        return self._mask(obs), state, reward, terminated, info


class MaskedCartPole(MaskObservation):
    """gymnax CartPole-v1 without cart velocity and pole angular velocity (observation: [x, theta])."""

    def __init__(self):
        super().__init__(make_gymnax("CartPole-v1"), keep=(0, 2))

    @property
    def name(self) -> str:
        return "CartPole-masked-v1"
