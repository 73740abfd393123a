"""Evaluating a policy and rolling it out: pure, jit-able functions of ``(env, params, act, key)``.

``act(obs, key) -> action`` maps a batch of observations (leading axis) to a batch of actions: a trainer's
policy is ``trainer.acting(state)``, a loaded one ``jaxrl_suite.load_policy(run_dir).act`` (a ``RecurrentAct``
for a recurrent policy: its hidden state is carried through each episode).
``env``, ``params`` and the counts set shapes: close over them when jitting, pass the policy's arrays as
arguments (``jax.jit(lambda act, k: evaluate(env, params, act, k, 32))(policy.act, key)``).

One module for the CLI (``eval``, ``render``), the learners' ``evaluate``/``rollout_states`` and the
experiment scripts, so that they all measure the same thing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_suite import autoreset
from jaxrl_suite.vector import VecEnv
from jaxrl_suite.wrappers import EpisodeStatistics

Act = Callable[[Any, jax.Array], jax.Array]  # (batch of observations, key) -> batch of actions


@struct.dataclass
class RecurrentAct:
    """A policy with memory: ``act(carry, obs, key, reset) -> (action, carry)`` on a batch, ``reset`` marking
    the envs whose episode starts with ``obs``; ``initial(n)`` is the carry of ``n`` fresh envs. A pytree
    over ``state``, so a jitted evaluation takes its arrays as arguments."""

    state: Any
    step_fn: Callable = struct.field(pytree_node=False)  # (state, carry, reset, obs, key, greedy)
    initial_fn: Callable = struct.field(pytree_node=False)  # n -> carry
    greedy: bool = struct.field(pytree_node=False, default=True)

    def initial(self, n: int) -> Any:
        return self.initial_fn(n)

    def __call__(self, carry: Any, obs: Any, key: jax.Array, reset: jax.Array):
        return self.step_fn(self.state, carry, reset, obs, key, self.greedy)


def with_greedy(act: Any, greedy: bool) -> Any:
    """``act`` acting greedily or not: a plain policy takes ``greedy=`` as a keyword, a ``RecurrentAct`` keeps
    it as a field."""
    if isinstance(act, RecurrentAct):
        return act.replace(greedy=greedy)
    return functools.partial(act, greedy=greedy)


@struct.dataclass
class Episodes:
    """Per-episode results of ``evaluate``, each ``[num_episodes]``; unfinished episodes have return and
    length 0 and ``finished`` False."""

    returns: jax.Array
    lengths: jax.Array
    finished: jax.Array


@struct.dataclass
class Rollout:
    """Episodes stepped without auto-reset; the leading axis is time, then ``[num_episodes]`` for a batch.

    ``states[0]`` is the reset state and ``states[t + 1]`` the state after step t (None when a ``record``
    replaced them); ``ended[i]`` marks states after the episode's end (held, or stepped past it); ``info[t]``
    is ``record(state, info)`` after step t (None without ``record``); ``finished``: the episode ended within
    the rollout (its last step included); ``start``: the reset state (kept with ``record`` too, so a study
    can relate outcomes to where each episode began).
    """

    states: Any
    ended: jax.Array
    finished: jax.Array
    info: Any = None
    start: Any = None


def evaluate(env: Any, params: Any, act: Act, key: jax.Array, num_episodes: int) -> Episodes:
    """Return and length of ``num_episodes`` fresh episodes, one per parallel env, each run to its end (at
    most the episode step limit)."""
    num_episodes = int(num_episodes)
    venv = VecEnv(EpisodeStatistics(env), num_episodes)
    horizon = int(params.max_steps_in_episode) + 1
    k_reset, k_run = jax.random.split(key)
    obs, env_state = venv.reset(k_reset, params)
    zeros = jnp.zeros((num_episodes,))
    recurrent = isinstance(act, RecurrentAct)
    memory = (act.initial(num_episodes), jnp.ones((num_episodes,), bool)) if recurrent else None

    def body(carry, k):
        env_state, obs, finished, returns, lengths, memory = carry
        k_act, k_env = jax.random.split(k)
        if recurrent:  # the hidden state is carried, and zeroed where an episode starts
            action, hidden = act(memory[0], obs, k_act, memory[1])
        else:
            action = act(obs, k_act)
        obs, env_state, _, _, _, info = venv.step(k_env, env_state, action, params)
        ep = info["episode"]
        new = ep["done"] & ~finished
        returns = jnp.where(new, ep["return"], returns)
        lengths = jnp.where(new, ep["length"], lengths)
        memory = (hidden, ep["done"]) if recurrent else None
        return (env_state, obs, finished | ep["done"], returns, lengths, memory), None

    init = (env_state, obs, jnp.zeros((num_episodes,), bool), zeros, zeros, memory)
    (_, _, finished, returns, lengths, _), _ = jax.lax.scan(body, init, jax.random.split(k_run, horizon))
    return Episodes(returns=returns, lengths=lengths, finished=finished)


def rollout(
    env: Any,
    params: Any,
    act: Act,
    key: jax.Array,
    steps: int | None = None,
    *,
    num_episodes: int | None = None,
    hold: bool = True,
    record: Callable[[Any, dict], Any] | None = None,
) -> Rollout:
    """``steps`` steps (default: the episode step limit) of one episode, or of a batch of ``num_episodes``,
    without auto-reset (``step_env`` + ``is_truncated``), so the state that ended an episode (the agent on the
    goal, the crash) is kept.

    ``hold=True`` holds the last state after the end (for rendering: ``states[:argmax(ended)]``, all of them
    when none is marked, is the episode from reset to its last state); ``hold=False`` keeps stepping it.
    ``record(state, info)`` keeps that per step instead of the states (e.g. one error per step of long
    flights). Keys: one episode splits each step's key into the action's and the env's; a batch gives each
    step's key to ``act`` and its ``num_episodes``-way split to the envs (the layouts the published figures
    were made with).
    """
    steps = int(params.max_steps_in_episode) if steps is None else int(steps)
    batch = num_episodes is not None
    step_env, truncated = env.step_env, env.is_truncated
    if batch:
        step_env = jax.vmap(step_env, in_axes=(0, 0, 0, None))
        truncated = jax.vmap(truncated, in_axes=(0, None))
    k_reset, k_run = jax.random.split(key)
    if batch:
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(k_reset, num_episodes), params
        )
    else:
        obs, env_state = env.reset(k_reset, params)
    ended0 = jnp.zeros((num_episodes,) if batch else (), bool)
    recurrent = isinstance(act, RecurrentAct)
    n = num_episodes if batch else 1
    memory0 = (act.initial(n), jnp.ones((n,), bool)) if recurrent else None

    def policy(obs, k, memory):
        if not recurrent:
            return act(obs, k), None
        action, hidden = act(memory[0], obs, k, memory[1])
        return action, (hidden, jnp.zeros((n,), bool))  # one episode per env: no reset after the first step

    def body(carry, k):
        env_state, obs, ended, memory = carry
        if batch:
            k_act, k_env = k, jax.random.split(k, num_episodes)
            action, memory = policy(obs, k_act, memory)
        else:
            k_act, k_env = jax.random.split(k)
            action, memory = policy(jax.tree.map(lambda x: x[None], obs), k_act, memory)
            action = action[0]
        nxt_obs, nxt, _, term, info = step_env(k_env, env_state, action, params)
        finished = jnp.asarray(term, bool) | jnp.asarray(truncated(nxt, params), bool)
        if hold:
            nxt, nxt_obs = autoreset.select(ended, (env_state, obs), (nxt, nxt_obs))  # per-row flags
        out = nxt if record is None else record(nxt, info)
        return (nxt, nxt_obs, ended | finished, memory), (out, ended)

    start = env_state
    (_, _, finished, _), (out, ended) = jax.lax.scan(
        body, (env_state, obs, ended0, memory0), jax.random.split(k_run, steps)
    )
    ended = jnp.concatenate([ended0[None], ended])
    if record is not None:
        return Rollout(states=None, ended=ended, finished=finished, info=out, start=start)
    states = jax.tree.map(lambda s0, s: jnp.concatenate([s0[None], s]), env_state, out)
    return Rollout(states=states, ended=ended, finished=finished, start=start)


def episode_frames(env: Any, params: Any, ro: Rollout, max_frames: int | None = None) -> np.ndarray:
    """RGB frames ``[n, H, W, 3]`` of a one-episode rollout, from the reset state to the state that ended the
    episode (at most ``max_frames``, at least one)."""
    ended = np.asarray(ro.ended)
    n = int(np.argmax(ended)) if ended.any() else int(ended.shape[0])
    n = max(1, min(n, max_frames or n))
    render = jax.jit(jax.vmap(env.render, in_axes=(0, None)))
    return np.asarray(render(jax.tree.map(lambda x: x[:n], ro.states), params))
