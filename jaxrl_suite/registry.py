"""Environment registry: ``make(id, **overrides) -> (env, params)`` and ``registered()``.

Overrides that name a constructor argument are static configuration (they set shapes and need a new
compile); the others must name fields of the env's params (dynamic, vmappable). Unknown ids and unknown
override names raise ``ValueError`` with the closest valid names, before anything is compiled.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
from collections.abc import Callable
from typing import Any

from jaxrl_suite.adapters.ids import BRAX_ENVS, GYMNAX_ENVS


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """How to build one registered environment."""

    id: str
    entry_point: Callable[..., Any] | str
    description: str
    family: str
    kwargs: dict = dataclasses.field(default_factory=dict)

    def constructor(self) -> Callable[..., Any]:
        if callable(self.entry_point):
            return self.entry_point
        module, _, attr = self.entry_point.partition(":")
        return getattr(importlib.import_module(module), attr)


_REGISTRY: dict[str, EnvSpec] = {}
_BUILTINS_LOADED = False


def register(id_: str, entry_point: Callable[..., Any] | str, description: str, family: str = "", **kwargs):
    """Add an id; ``entry_point(**kwargs, **static_overrides)`` must return an Environment."""
    if id_ in _REGISTRY:
        raise ValueError(f"environment id {id_!r} is already registered")
    _REGISTRY[id_] = EnvSpec(id_, entry_point, description, family, dict(kwargs))


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    for env_id, desc in GYMNAX_ENVS.items():
        register(env_id, "jaxrl_suite.adapters.gymnax:make_gymnax", desc, family="gymnax", env_id=env_id)
    for name, desc in BRAX_ENVS.items():
        register(
            f"brax/{name}", "jaxrl_suite.adapters.brax:BraxEnv", f"Brax {desc}", family="brax", name=name
        )
    # our families register themselves on import, by name: an env's code loads when it is made
    importlib.import_module("jaxrl_suite.envs")


FAMILY_ALIASES = {"grid": "minigrid"}  # the README's name for the MiniGrid-faithful grid worlds


def families() -> list[str]:
    """Registered family names (plus their aliases)."""
    _load_builtins()
    return sorted({s.family for s in _REGISTRY.values()} | set(FAMILY_ALIASES))


def registered(family: str | None = None) -> dict[str, str]:
    """All registered ids (optionally of one family) with a one-line description each."""
    _load_builtins()
    if family is not None:
        family = FAMILY_ALIASES.get(family.lower(), family.lower())
        if family not in {s.family for s in _REGISTRY.values()}:
            known = families()
            raise ValueError(f"unknown family {family!r}; families: {', '.join(known)}")
    return {k: s.description for k, s in _REGISTRY.items() if family is None or s.family == family}


def close_matches(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """Closest candidates to a misspelt name (case-insensitive)."""
    lowered = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    hits += [c for c in lowered if c not in hits and name.lower() in c]
    return [lowered[h] for h in hits][:n]


def spec(env_id: str) -> EnvSpec:
    """The spec of a registered id; ``ValueError`` naming the closest ids otherwise."""
    _load_builtins()
    if env_id in _REGISTRY:
        return _REGISTRY[env_id]
    hint = close_matches(env_id, list(_REGISTRY))
    msg = f"unknown environment id {env_id!r}."
    if hint:
        msg += " Did you mean: " + ", ".join(repr(h) for h in hint) + "?"
    msg += " Run `jaxrl-suite list` to see all ids."
    raise ValueError(msg)


def _signature_names(fn: Callable[..., Any]) -> set[str]:
    params = inspect.signature(fn).parameters.values()
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def make(env_id: str, **overrides: Any) -> tuple[Any, Any]:
    """Build a registered environment: ``(env, params)`` with overrides applied."""
    s = spec(env_id)
    ctor = s.constructor()
    static_names = _signature_names(ctor) - set(s.kwargs)
    static = {k: v for k, v in overrides.items() if k in static_names}
    dynamic = {k: v for k, v in overrides.items() if k not in static_names}
    env = ctor(**s.kwargs, **static)
    params = env.default_params
    if dynamic:
        fields = {f.name for f in dataclasses.fields(params)}
        unknown = sorted(set(dynamic) - fields)
        if unknown:
            valid = sorted(fields | static_names)
            near = {u: close_matches(u, valid) for u in unknown}
            raise ValueError(
                f"{env_id}: unknown option(s) {unknown}; closest: {near}. Valid options: {valid}"
            )
        for name, value in dynamic.items():
            _check_param(env_id, name, getattr(params, name), value)
        params = params.replace(**dynamic)
    return env, params


def _check_param(env_id: str, name: str, default: Any, value: Any) -> None:
    """A dynamic param override must be a number where the default is one (arrays: the same shape), and a
    step limit must be positive: one clear error here instead of a trace inside jit."""
    import numpy as np

    if default is None or isinstance(default, (str, bool)) or dataclasses.is_dataclass(default):
        return
    try:
        want = np.asarray(default)
        got = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{env_id}: option {name}={value!r} must be a number like its default {default!r}"
        ) from None
    if want.dtype.kind not in "biuf":
        return
    if got.shape != want.shape:
        raise ValueError(f"{env_id}: option {name} has shape {got.shape}, its default {want.shape}")
    if not np.all(np.isfinite(got)):
        raise ValueError(f"{env_id}: option {name}={value!r} must be finite")
    if name == "max_steps_in_episode" and np.any(got < 1):
        raise ValueError(f"{env_id}: max_steps_in_episode must be >= 1, got {value!r}")
