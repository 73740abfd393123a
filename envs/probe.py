"""Probe environments for debugging learners (after Andy Jones's "Debugging RL, Without the Agonizing Pain").

Each isolates one thing a learner must get right; a learner that fails one has a bug in that part:

* ``constant``: one step, reward 1. The value of the start state is 1 (value fitting).
* ``obs``: one step, observation +-1, reward = observation (the value must depend on the observation).
* ``two_step``: reward 1 on the second step only; V(first state) = gamma (discounting, bootstrapping).
* ``action``: one step; discrete reward = action in {0, 1}, continuous reward = clip(a, -1, 1) (policy gradient).
* ``obs_action``: one step, observation +-1; discrete reward 1 for the action matching the sign, continuous
  reward = -(a - obs)^2 (policy and value must use the observation).
* ``continuing``: reward 1 every step, never terminates, only truncated by the time limit; with truncation
  handled correctly V = 1 / (1 - gamma) everywhere (treating truncation as termination gives much less).
* ``privileged``: one step, observation 0, reward +-1 revealed only by ``privileged_observation`` (the
  asymmetric critic's input): only a critic reading it can predict the value.
* ``memory`` (discrete only): obs = [cue, decision flag]. obs_0 = [+-1 cue, 0], obs_1..obs_delay = [0, 0],
  obs_{delay+1} = [0, 1]; acting there earns +1 if the action matches the cue (1 for +1, 0 for -1), else -1,
  and terminates: delay + 2 steps. Earlier actions are ignored (reward 0). A memoryless policy's best expected
  return is 0; one that remembers the cue (recurrent state, or a stack of delay + 2 frames) gets 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite.env import Environment, EnvParams
from jaxrl_suite.envs import PROBE_KINDS as KINDS
from jaxrl_suite.spaces import Box, Discrete


@struct.dataclass
class ProbeState:
    obs: jax.Array
    time: jax.Array
    hidden: jax.Array  # the +-1 draw of this episode (the privileged probe's reward)


@struct.dataclass
class ProbeParams(EnvParams):
    max_steps_in_episode: int = 10


class ProbeEnv(Environment):
    """One probe (``kind``) with Discrete(2) or Box([-1, 1]) actions."""

    def __init__(self, kind: str = "constant", continuous: bool = False):
        if kind not in KINDS:
            raise ValueError(f"unknown probe kind {kind!r}; choose from {KINDS}")
        self.kind, self.continuous = kind, bool(continuous)

    @property
    def name(self) -> str:
        return f"Probe-{self.kind}-{'continuous' if self.continuous else 'discrete'}"

    @property
    def default_params(self) -> ProbeParams:
        return ProbeParams()

    def observation_space(self, params):
        return Box(-1.0, 1.0, (1,))

    def action_space(self, params):
        return Box(-1.0, 1.0, (1,)) if self.continuous else Discrete(2)

    def reset_env(self, key, params):
        random_sign = jnp.where(jax.random.bernoulli(key), 1.0, -1.0)
        hidden = jnp.full((1,), random_sign, jnp.float32)
        obs = hidden if self.kind in ("obs", "obs_action") else jnp.zeros((1,), jnp.float32)
        return obs, ProbeState(obs, jnp.zeros((), jnp.int32), hidden)

    def _reward(self, state: ProbeState, action) -> jax.Array:
        o = state.obs[0]
        if self.kind in ("constant", "continuing"):
            return jnp.float32(1.0)
        if self.kind == "privileged":
            return state.hidden[0]
        if self.kind == "obs":
            return o
        if self.kind == "two_step":
            return jnp.where(state.time == 1, 1.0, 0.0)
        a = jnp.clip(jnp.asarray(action, jnp.float32).reshape(-1)[0], -1.0, 1.0)
        if self.kind == "action":
            return a
        if self.continuous:
            return -((a - o) ** 2)
        return jnp.where(a == jnp.where(o > 0, 1.0, 0.0), 1.0, 0.0)

    def step_env(self, key, state, action, params):
        reward = self._reward(state, action).astype(jnp.float32)
        time = state.time + 1
        length = {"two_step": 2, "continuing": jnp.iinfo(jnp.int32).max}.get(self.kind, 1)
        terminated = time >= length
        obs = jnp.where(self.kind == "two_step", jnp.ones((1,)), state.obs).astype(jnp.float32)
        return obs, ProbeState(obs, time, state.hidden), reward, terminated, {}


class PrivilegedProbeEnv(ProbeEnv):
    """The ``privileged`` probe: exposes the hidden reward sign to an asymmetric critic."""

    def privileged_observation(self, state: ProbeState, params) -> jax.Array:
        return state.hidden


@struct.dataclass
class MemoryProbeParams(ProbeParams):
    delay: int = 4  # blank steps between cue and decision (>= 0); episodes last delay + 2 steps
    # keep >= delay + 2, or the time limit cuts the episode before the decision
    max_steps_in_episode: int = 64


class MemoryProbeEnv(ProbeEnv):
    """The ``memory`` probe (Discrete(2) actions): recall a cue seen ``delay + 1`` steps earlier."""

    def __init__(self):
        self.kind, self.continuous = "memory", False

    @property
    def default_params(self) -> MemoryProbeParams:
        return MemoryProbeParams()

    def observation_space(self, params):
        return Box(jnp.array([-1.0, 0.0]), jnp.array([1.0, 1.0]), (2,))

    def reset_env(self, key, params):
        cue = jnp.where(jax.random.bernoulli(key), 1.0, -1.0)
        obs = jnp.stack([cue, 0.0]).astype(jnp.float32)
        return obs, ProbeState(obs, jnp.zeros((), jnp.int32), cue.reshape(1).astype(jnp.float32))

    def step_env(self, key, state, action, params):
        decide = state.time == params.delay + 1
        match = jnp.asarray(action).reshape(()).astype(jnp.int32) == (state.hidden[0] > 0).astype(jnp.int32)
        reward = jnp.where(decide, jnp.where(match, 1.0, -1.0), 0.0).astype(jnp.float32)
        time = state.time + 1
        obs = jnp.stack([0.0, jnp.where(time == params.delay + 1, 1.0, 0.0)]).astype(jnp.float32)
        return obs, ProbeState(obs, time, state.hidden), reward, decide, {}
