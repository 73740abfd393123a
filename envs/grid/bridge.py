"""BRIDGE semantics for grid MDPs (Laidlaw et al. 2023, "Bridging RL Theory and Practice with the Effective
Horizon"; the MiniGrid part of its BRIDGE dataset) and the exact tables of such an MDP.

A BRIDGE grid MDP is one fixed start state (a level by seed, or loaded from MiniGrid's encoding), any
positive reward counted as 1 (no time penalty: the step count restarts every step), MiniGrid's "done"
action removed (6 actions: left, right, forward, pickup, drop, toggle; 3 navigation-only actions for the
Empty family) and a horizon T. ``Bridge`` is that MDP as an environment (fully observable, as the BRIDGE
wrapper: the grid encoding with the agent drawn in it); ``enumerate_mdp`` lists its reachable states into
``transitions``/``rewards`` tables for ``algos/tabular.py`` (breadth-first, the steps batched in one jitted
call per depth, states told apart on the host by their bytes).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_suite.env import Environment, EnvParams
from jaxrl_suite.envs.grid import constants
from jaxrl_suite.spaces import Box, Discrete

ACTIONS = {
    6: (
        constants.LEFT,
        constants.RIGHT,
        constants.FORWARD,
        constants.PICKUP,
        constants.DROP,
        constants.TOGGLE,
    ),
    3: (constants.LEFT, constants.RIGHT, constants.FORWARD),
}


def action_table(num_actions: int) -> np.ndarray:
    if num_actions not in ACTIONS:
        raise ValueError(f"BRIDGE grid MDPs have 6 actions (3 for the Empty family), got {num_actions}")
    return np.asarray(ACTIONS[num_actions], np.int32)


def default_actions(env_id: str) -> int:
    """3 for MiniGrid's Empty family (navigation only), else 6."""
    return 3 if "Empty" in env_id else 6


def _bridge_step(env: Any, params: Any, state: Any, action: jax.Array):
    """One deterministic step from ``state`` with the step count at 0: ``(state, reward 0/1, terminated)``."""
    state = state.replace(time=jnp.zeros_like(state.time))
    _, nxt, reward, terminated, _ = env.step_env(jax.random.key(0), state, action, params)
    return nxt.replace(time=jnp.zeros_like(nxt.time)), (reward > 0).astype(jnp.float32), terminated


@struct.dataclass
class BridgeState:
    env_state: Any
    time: jax.Array


class Bridge(Environment):
    """A grid env from one fixed ``start`` state, with BRIDGE's actions, rewards and horizon."""

    def __init__(self, env: Any, start: Any, num_actions: int = 6, horizon: int = 100):
        if getattr(env, "stochastic_step", False):
            raise ValueError(f"{env.name} steps stochastically: BRIDGE MDPs are deterministic")
        self.env, self.start = env, start
        self.actions = action_table(num_actions)
        self.horizon = int(horizon)
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")

    @property
    def name(self) -> str:
        return f"Bridge({self.env.name})"

    @property
    def default_params(self) -> EnvParams:
        return EnvParams(max_steps_in_episode=self.horizon)

    def action_space(self, params=None) -> Discrete:
        return Discrete(len(self.actions))

    def observation_space(self, params=None) -> Box:
        return Box(0, 255, tuple(np.shape(self.start.grid)), jnp.uint8)

    def observe(self, state: Any) -> jax.Array:
        """MiniGrid's FullyObsWrapper image: the grid encoding with the agent as (agent, red, direction)."""
        x, y = state.agent_pos[0], state.agent_pos[1]
        agent = jnp.stack(
            [jnp.uint8(constants.AGENT), jnp.uint8(constants.RED), state.agent_dir.astype(jnp.uint8)]
        )
        return state.grid.at[y, x].set(agent)

    def reset_env(self, key, params):
        return self.observe(self.start), BridgeState(self.start, jnp.zeros((), jnp.int32))

    def step_env(self, key, state, action, params):
        inner_params = self.env.default_params
        action = jnp.asarray(self.actions)[action]
        nxt, reward, terminated = _bridge_step(self.env, inner_params, state.env_state, action)
        state = BridgeState(nxt, state.time + 1)
        return self.observe(nxt), state, reward, terminated, {}


def _key(tree: Any) -> list[bytes]:
    """Per row of a batch of states: the bytes of every leaf but the step count."""
    leaves = [np.asarray(x) for name, x in _fields(tree) if name != "time"]
    n = leaves[0].shape[0]
    return [b"".join(leaf[i].tobytes() for leaf in leaves) for i in range(n)]


def _fields(state: Any) -> list[tuple[str, Any]]:
    return [(name, getattr(state, name)) for name in state.__dataclass_fields__]


def _pad_pow2(batch: Any, n: int) -> Any:
    """A batch of ``n`` rows padded (with copies of row 0) to a power of two: few distinct compiles."""
    size = 1 << max(0, (n - 1).bit_length())
    return jax.tree.map(lambda x: np.concatenate([x, np.repeat(x[:1], size - n, 0)]), batch)


def enumerate_mdp(env: Any, start: Any, num_actions: int = 6, params: Any = None, max_states: int = 200_000):
    """``(TabularMDP, states)``: every state reachable from ``start`` (index 0) under BRIDGE semantics, with
    ``transitions[s, a]`` (terminal transitions lead to the absorbing last state) and ``rewards[s, a]``
    (0 or 1); ``states`` stacks the enumerated states (the absorbing one excluded)."""
    from jaxrl_suite.algos.tabular import TabularMDP

    if getattr(env, "stochastic_step", False):
        raise ValueError(f"{env.name} steps stochastically: cannot tabulate it")
    params = env.default_params if params is None else params
    actions = jnp.asarray(action_table(num_actions))
    step = jax.jit(
        jax.vmap(jax.vmap(lambda s, a: _bridge_step(env, params, s, a), in_axes=(None, 0)), in_axes=(0, None))
    )
    start = start.replace(time=jnp.zeros_like(start.time))
    index: dict[bytes, int] = {_key(jax.tree.map(lambda x: x[None], start))[0]: 0}
    stored = [jax.tree.map(lambda x: np.asarray(x)[None], start)]
    frontier = stored[0]
    rows_t, rows_r = [], []  # per enumerated state, in index order
    while frontier is not None:
        n = jax.tree.leaves(frontier)[0].shape[0]
        nxt, reward, term = jax.device_get(step(_pad_pow2(frontier, n), actions))
        rows = jax.tree.leaves(nxt)[0].shape[0] * num_actions
        keys = _key(jax.tree.map(lambda x, rows=rows: x.reshape((rows,) + x.shape[2:]), nxt))
        new_rows = []
        for i in range(n):
            t_row, r_row = [], []
            for a in range(num_actions):
                j = i * num_actions + a
                if term[i, a]:
                    t_row.append(-1)
                else:
                    k = keys[j]
                    if k not in index:
                        index[k] = len(index)
                        new_rows.append((i, a))
                        if len(index) > max_states:
                            raise ValueError(f"more than max_states={max_states} reachable states")
                    t_row.append(index[k])
                r_row.append(float(reward[i, a]))
            rows_t.append(t_row)
            rows_r.append(r_row)
        if new_rows:
            pick = np.array([i for i, _ in new_rows]), np.array([a for _, a in new_rows])
            frontier = jax.tree.map(lambda x, pick=pick: x[pick], nxt)
            stored.append(frontier)
        else:
            frontier = None
    S = len(index)
    transitions = np.asarray(rows_t, np.int32)
    transitions = np.where(transitions < 0, S, transitions)
    transitions = np.concatenate([transitions, np.full((1, num_actions), S, np.int32)])
    rewards = np.concatenate([np.asarray(rows_r, np.float32), np.zeros((1, num_actions), np.float32)])
    states = jax.tree.map(lambda *xs: np.concatenate(xs), *stored)
    return TabularMDP(transitions, rewards), states


__all__ = ["ACTIONS", "Bridge", "BridgeState", "action_table", "default_actions", "enumerate_mdp"]
