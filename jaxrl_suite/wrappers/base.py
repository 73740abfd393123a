"""Wrapper base: an Environment around an Environment, delegating everything it does not change.

A wrapper speaks the same gymnax protocol (``reset_env``/``step_env``/``is_truncated``), so wrappers stack
and the base class's ``step`` provides auto-reset for the whole stack. Stateful wrappers keep the inner
state in a field named ``env_state`` and override ``is_truncated`` accordingly.
"""

from __future__ import annotations

from typing import Any

from jaxrl_suite.env import Environment

#: the state-only stepping protocol (``VecEnv`` builds observations once); a wrapper forwards it only if it
#: implements it itself (``EpisodeStatistics`` does), never by plain delegation
STATE_PROTOCOL = ("observe_state", "step_state", "reset_state")


class Wrapper(Environment):
    """Pass-through wrapper; subclasses override what they change."""

    def __init__(self, env: Any):
        self.env = env

    def __getattr__(self, name: str) -> Any:
        if name == "env":  # not yet set (e.g. during unpickling)
            raise AttributeError(name)
        if name in STATE_PROTOCOL:  # the inner env's fast path would skip this wrapper's own step
            raise AttributeError(f"{type(self).__name__} does not forward {name}")
        return getattr(self.env, name)

    @property
    def unwrapped(self) -> Any:
        return getattr(self.env, "unwrapped", self.env)

    @property
    def name(self) -> str:
        return self.env.name

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def observation_space(self, params: Any):
        return self.env.observation_space(params)

    def action_space(self, params: Any):
        return self.env.action_space(params)

    def reset_env(self, key, params):
        return self.env.reset_env(key, params)

    def step_env(self, key, state, action, params):
        return self.env.step_env(key, state, action, params)

    def is_truncated(self, state, params):
        return self.env.is_truncated(state, params)

    def render(self, state, params):
        return self.env.render(state, params)

    @property
    def can_render(self) -> bool:
        return bool(getattr(self.env, "can_render", False))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"


class StatefulWrapper(Wrapper):
    """A wrapper whose state holds the inner state in ``env_state``."""

    def is_truncated(self, state, params):
        return self.env.is_truncated(state.env_state, params)

    def render(self, state, params):
        return self.env.render(state.env_state, params)

    def __getattr__(self, name: str) -> Any:
        if name == "privileged_observation":  # present only when the inner env has one
            inner = getattr(self.env, name)
            return lambda state, params: inner(state.env_state, params)
        return super().__getattr__(name)
