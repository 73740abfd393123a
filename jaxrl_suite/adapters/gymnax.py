"""gymnax's environments, registered under their own ids; gymnax >= 1.0 already speaks our API.

gymnax 1.0.1 declares observation spaces that three environments violate (found by our conformance suite);
for those we wrap the env with a corrected, truthful space and change nothing else. Every other gymnax env is
wrapped in ``GymnaxEnv``, which runs gymnax's own (jitted) ``step`` and ``reset`` unchanged but first checks
the action's shape, as every env of ours does (``jaxrl_suite.env.check_action``): a Pendulum action of shape
(3,) is a one-line ``ValueError``, not a reshape error from inside gymnax.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.adapters.ids import GYMNAX_ENVS  # noqa: F401  (re-exported)
from jaxrl_suite.env import check_action
from jaxrl_suite.spaces import Box
from jaxrl_suite.wrappers.base import Wrapper


def _memory_chain_space(env, params):
    # obs = [1 - t/L (goes below 0 at the last step), query in [0, num_bits), context bits in {-1, 0, 1}]
    return Box(-1.0, float(max(env.num_bits, 1)), (env.num_bits + 2,))


def _umbrella_chain_space(env, params):
    # obs[2] = 1 - t/L is negative on the final step
    return Box(-1.0, 1.0, (3 + env.n_distractor,))


def _gaussian_bandit_space(env, params):
    # obs = [last (Gaussian, unbounded) reward, one-hot action, normalised time (starts at -1)]
    low = jnp.array([-jnp.inf, 0.0, 0.0, -1.0], jnp.float32)
    high = jnp.array([jnp.inf, 1.0, 1.0, jnp.inf], jnp.float32)
    return Box(low, high, (4,))


SPACE_FIXES = {
    "MemoryChain-bsuite": _memory_chain_space,
    "UmbrellaChain-bsuite": _umbrella_chain_space,
    "GaussianBandit-misc": _gaussian_bandit_space,
}


class GymnaxEnv(Wrapper):
    """A gymnax env as it is (gymnax's ``step``/``reset``, its spaces and attributes), with the action's shape
    checked at trace time."""

    def step(self, key, state, action, params=None):
        check_action(self, action)
        return self.env.step(key, state, action, params)

    def reset(self, key, params=None):
        return self.env.reset(key, params)

    def __repr__(self) -> str:
        return f"{self.name}()"


class ObservationSpaceFix(Wrapper):
    """A gymnax env with a corrected observation space (dynamics untouched)."""

    def __init__(self, env, space_fn):
        super().__init__(env)
        self._space_fn = space_fn

    def observation_space(self, params):
        return self._space_fn(self.env, params)


def make_gymnax(env_id: str, **kwargs):
    import gymnax

    env, _ = gymnax.make(env_id, **kwargs)
    fix = SPACE_FIXES.get(env_id)
    return ObservationSpaceFix(env, fix) if fix else GymnaxEnv(env)
