"""Batched environments: ``num_envs`` copies stepped in lock-step under ``vmap``, with a choice of reset mode.

``reset_mode="always"`` computes a fresh reset for every env on every step and keeps it where an episode ended
(gymnax's behaviour; exact). ``reset_mode="pooled"`` computes only ``pool_size`` resets per step and hands them
to the envs that finished, in order: the first ``pool_size`` finished envs each get a distinct fresh episode,
further ones share (each still a correctly distributed episode). For environments whose reset is expensive
(procedural level generation) this saves most of the reset cost at the price of occasional duplicates.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl_suite import autoreset
from jaxrl_suite.env import check_action, has_privileged_observation


class VecEnv:
    """``num_envs`` environments sharing one params pytree (or, with ``params_axis=0``, each its own: every
    params leaf then carries the env axis, as a curriculum that pins each env to a level needs); arrays carry
    a leading batch axis."""

    def __init__(
        self,
        env: Any,
        num_envs: int,
        reset_mode: str = "always",
        pool_size: int | None = None,
        params_axis: int | None = None,
    ):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if reset_mode not in ("always", "pooled"):
            raise ValueError(f"reset_mode must be 'always' or 'pooled', got {reset_mode!r}")
        self.env = env
        self.num_envs = int(num_envs)
        self.reset_mode = reset_mode
        if reset_mode == "pooled":
            pool_size = max(1, self.num_envs // 8) if pool_size is None else int(pool_size)
            if not 1 <= pool_size <= self.num_envs:
                raise ValueError(f"pool_size must be in [1, num_envs={self.num_envs}], got {pool_size}")
        self.pool_size = pool_size
        if params_axis not in (None, 0):
            raise ValueError(f"params_axis must be None (shared) or 0 (per env), got {params_axis!r}")
        if params_axis == 0 and reset_mode != "always":
            raise ValueError("per-env params need reset_mode='always' (a pooled reset shares episodes)")
        self.params_axis = params_axis
        #: the env steps and resets states and observes once (``GridEnv``'s state-only protocol)
        self.lean = all(hasattr(env, n) for n in ("observe_state", "step_state", "reset_state"))

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def observation_space(self, params: Any):
        """The space of one env's observation (the batch adds a leading axis)."""
        return self.env.observation_space(params)

    def action_space(self, params: Any):
        return self.env.action_space(params)

    @property
    def has_privileged_observation(self) -> bool:
        return has_privileged_observation(self.env)

    def privileged_observation(self, state: Any, params: Any) -> jax.Array:
        return jax.vmap(self.env.privileged_observation, in_axes=(0, self.params_axis))(state, params)

    def reset(self, key: jax.Array, params: Any = None):
        params = self.env.default_params if params is None else params
        keys = jax.random.split(key, self.num_envs)
        return jax.vmap(self.env.reset_env, in_axes=(0, self.params_axis))(keys, params)

    def step(self, key: jax.Array, state: Any, action: Any, params: Any = None):
        """Batched auto-resetting step (``jaxrl_suite.autoreset.step``); same outputs and ``info`` keys as
        ``Environment.step``; ``action`` must have shape ``(num_envs, *action_shape)`` (``ValueError`` at trace
        time otherwise: ``jaxrl_suite.env.check_action``)."""
        check_action(
            self.env, action, batch=(self.num_envs,), where=f"VecEnv({getattr(self.env, 'name', self.env)})"
        )
        params = self.env.default_params if params is None else params
        key_step, key_reset = jax.random.split(key)
        return autoreset.step(
            self._step_env,
            self._reset_done,
            jax.vmap(self.env.is_truncated, in_axes=(0, self.params_axis)),
            key_step,
            key_reset,
            state,
            action,
            params,
            observe=jax.vmap(self.env.observe_state, in_axes=(0, self.params_axis)) if self.lean else None,
            privileged=self.privileged_observation if self.has_privileged_observation else None,
        )

    def _step_env(self, key: jax.Array, state: Any, action: Any, params: Any):
        keys = jax.random.split(key, self.num_envs)
        step = self.env.step_state if self.lean else self.env.step_env
        return jax.vmap(step, in_axes=(0, 0, 0, self.params_axis))(keys, state, action, params)

    def _reset_done(self, key: jax.Array, params: Any, done: jax.Array):
        """Fresh episodes for the envs that finished: one per env ("always"), or ``pool_size`` handed out in
        order ("pooled")."""
        reset = self.env.reset_state if self.lean else self.env.reset_env
        if self.reset_mode == "always":
            keys = jax.random.split(key, self.num_envs)
            return jax.vmap(reset, in_axes=(0, self.params_axis))(keys, params)
        pool_keys = jax.random.split(key, self.pool_size)
        pool = jax.vmap(reset, in_axes=(0, None))(pool_keys, params)
        slot = jnp.where(done, (jnp.cumsum(done) - 1) % self.pool_size, 0)
        return jax.tree.map(lambda x: x[slot], pool)

    def __repr__(self) -> str:
        return f"VecEnv({self.env!r}, num_envs={self.num_envs}, reset_mode={self.reset_mode!r})"
