"""The environment API: gymnax >= 1.0 semantics, pure functions of (key, state, action, params).

Contract (the gymnax protocol, so gymnax environments run in our code and ours run in gymnax code):

* ``reset(key, params) -> (obs, state)``
* ``step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)``
* ``default_params``: a pytree of *dynamic* parameters (vmappable: you may ``jax.vmap`` over a batch of params).
  Static, shape-setting configuration (grid size, view size, number of drones) is passed to the constructor.
* ``observation_space(params)``, ``action_space(params)``.

Subclasses implement ``reset_env`` and ``step_env(key, state, action, params) -> (obs, state, reward,
terminated, info)``; truncation is ``is_truncated(state, params)`` (by default ``state.time >=
params.max_steps_in_episode``).

**Auto-reset and the final observation.** ``step`` resets automatically: when an episode ends (``terminated``
or ``truncated``) the returned ``obs`` and ``state`` are those of a *fresh* episode, and the true last
observation of the finished episode is in ``info["final_observation"]``. ``terminated`` means the MDP reached a
terminal state (bootstrap with 0); ``truncated`` means it was cut by a time limit (bootstrap with V of
``info["final_observation"]``). Both may be true on the same step; termination then takes precedence. Every
step also reports ``info["terminated"]`` and ``info["truncated"]``. Environments that expose privileged,
noise-free state for an asymmetric critic implement ``privileged_observation(state, params)``; ``step`` then
adds ``info["privileged_observation"]`` (of the returned state) and ``info["final_privileged_observation"]``.

We subclass ``gymnax.environments.environment.Environment`` (rather than define a parallel base) so that any
gymnax-based code (PureJaxRL, rejax, gymnax's wrappers) accepts our environments unchanged, and every gymnax
environment satisfies this contract with no adapter. ``jaxrl_suite.vector.VecEnv`` batches environments and
offers a pooled reset mode for environments whose reset is expensive. All auto-resetting steps (this base
class, the grid envs' fast step, ``VecEnv``) go through one function, ``jaxrl_suite.autoreset.step``.

**What is checked.** Shapes are static under ``jit`` and ``vmap``, so they are checked where they are known,
at no cost per step: ``make`` rejects a param override that is not a number of its default's shape, and a
non-positive ``max_steps_in_episode``; ``Environment.step`` (every env of ours but the grid worlds, whose fast
``step`` overrides it; gymnax's envs through their adapter) and ``VecEnv.step`` (every env, the grid worlds
included) reject, at trace time, an action whose shape is not the action space's (a ``Box``'s shape, ``()``
for ``Discrete``; with the leading ``num_envs`` axis in ``VecEnv``) with a one-line ``ValueError``
(``check_action``). Action *values* are not checked inside ``jit`` (that would cost a host round trip every
step): as in gymnax, an out-of-range discrete action (e.g. 7 for ``Discrete(3)``) silently acts as whatever
the env's arithmetic makes of it, and a Box action outside its bounds is clipped or used as is, env by env.
The gymnasium bridge (``jaxrl_suite.wrappers.gymnasium``) gets concrete NumPy actions and also rejects
out-of-range discrete and non-finite Box actions.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from flax import struct
from gymnax.environments import environment as gx
from gymnax.environments import spaces as gx_spaces

from jaxrl_suite import autoreset


@struct.dataclass
class EnvState:
    """Base environment state; ``time`` counts steps in the current episode."""

    time: jax.Array


@struct.dataclass
class EnvParams:
    """Base dynamic parameters; every environment's params carry the episode step limit."""

    max_steps_in_episode: int = 500


select_tree = autoreset.select  # leaf-wise where(pred, a, b) over two pytrees (pred scalar or per-row)


def action_shape(env: Any) -> tuple[int, ...] | None:
    """The shape one action must have (``()`` for ``Discrete``), or ``None`` for spaces not checked (e.g.
    ``Dict``). Read from ``env.default_params``: shapes are static configuration, never dynamic params."""
    space = env.action_space(env.default_params)
    if isinstance(space, gx_spaces.Discrete):
        return ()
    if isinstance(space, gx_spaces.Box):
        return tuple(int(n) for n in space.shape)
    return None


def check_action(env: Any, action: Any, batch: tuple[int, ...] = (), where: str | None = None) -> None:
    """Raise a one-line ``ValueError`` unless ``action`` has shape ``batch + action_shape(env)``.

    Shapes are static, so under ``jit``/``vmap`` this runs once, at trace time, before anything is compiled.
    Values are not checked (see the module docstring)."""
    want = action_shape(env)
    if want is None:
        return
    got = tuple(np.shape(action))
    if got == tuple(batch) + want:
        return
    space = env.action_space(env.default_params)
    kind = f"Discrete({space.n})" if isinstance(space, gx_spaces.Discrete) else f"Box of shape {want}"
    per = f" ({batch[0]} envs x {want})" if batch else ""
    raise ValueError(
        f"{where or getattr(env, 'name', type(env).__name__)}: action has shape {got}, expected "
        f"{tuple(batch) + want}{per}: the action space is {kind}"
    )


def has_privileged_observation(env: Any) -> bool:
    """Whether ``env`` exposes a privileged (critic-only) observation."""
    return callable(getattr(env, "privileged_observation", None))


class Environment(gx.Environment):
    """Base class of every jaxrl-suite environment (see the module docstring for the contract)."""

    @property
    def default_params(self) -> EnvParams:
        return EnvParams()

    def step(self, key: jax.Array, state: Any, action: Any, params: Any = None):
        """One transition with auto-reset; the finished episode's last obs is ``info["final_observation"]``.
        An action of the wrong shape raises ``ValueError`` at trace time (``check_action``)."""
        check_action(self, action)
        if params is None:
            params = self.default_params
        return autoreset_step(self, key, state, action, params)

    def reset(self, key: jax.Array, params: Any = None):
        """Start an episode: ``(obs, state)``."""
        if params is None:
            params = self.default_params
        return self.reset_env(key, params)

    def render(self, state: Any, params: Any) -> jax.Array:
        """An RGB frame ``uint8[H, W, 3]`` of ``state``; environments that can render override this."""
        raise NotImplementedError(f"{self.name} has no renderer")

    @property
    def can_render(self) -> bool:
        return type(self).render is not Environment.render

    def __repr__(self) -> str:
        return f"{self.name}()"


def autoreset_step(env: Any, key: jax.Array, state: Any, action: Any, params: Any):
    """The auto-resetting step of the contract for any environment with the gymnax protocol (one key split
    into the transition's and the reset's; the shared logic is ``jaxrl_suite.autoreset.step``)."""
    key_step, key_reset = jax.random.split(key)
    return autoreset.step(
        env.step_env,
        lambda k, p, done: env.reset_env(k, p),
        env.is_truncated,
        key_step,
        key_reset,
        state,
        action,
        params,
        privileged=env.privileged_observation if has_privileged_observation(env) else None,
    )
