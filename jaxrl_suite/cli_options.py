"""Command-line options generated from dataclasses: one ``--field`` per field, parsed to the field's type.

``train``/``sweep`` (learner configs and hyperparameters) and ``meta-train`` (meta, ES and inner-learner
configs) use the same generator, so every setting of a config is an option with the same spelling.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from typing import Any


def _parse_value(text: str, default: Any) -> Any:
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(default, tuple):
        return tuple(int(x) for x in text.split(",") if x)
    if isinstance(default, int) and not isinstance(default, bool):
        value = float(text)
        if not value.is_integer():
            raise ValueError(text)
        return int(value)
    if isinstance(default, float):
        return float(text)
    if default is None:
        for cast in (int, float):
            try:
                return cast(text)
            except ValueError:
                pass
        return None if text.lower() == "none" else text
    return text


def _value_parser(default: Any):
    """A parser for one option; its name is what argparse shows for a bad value ("invalid int value")."""

    def parse(text: str) -> Any:
        return _parse_value(text, default)

    kind = type(default).__name__
    parse.__name__ = {"tuple": "comma-separated int", "NoneType": "number or string"}.get(kind, kind)
    return parse


def _fields(cls: type, skip: tuple[str, ...]) -> list:
    return [f for f in dataclasses.fields(cls) if f.name not in skip]


def add_dataclass_options(
    parser: argparse.ArgumentParser,
    cls: type,
    title: str,
    aliases: dict | None = None,
    *,
    prefix: str = "",
    skip: tuple[str, ...] = (),
    default_note: str | None = None,
) -> None:
    """One option per field of ``cls`` (``--<prefix><field>``, dest ``<prefix><field>``), unset = None.

    ``aliases`` adds further flags per field; ``default_note`` replaces the shown default (e.g. a preset's)."""
    group = parser.add_argument_group(title)
    hints = typing.get_type_hints(cls)
    for f in _fields(cls, skip):
        default = f.default if f.default is not dataclasses.MISSING else None
        if default is None and f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        name = f"{prefix}{f.name}".replace("-", "_")
        flags = [f"--{name.replace('_', '-')}"] + list((aliases or {}).get(f.name, []))
        shown = default_note or f"default {default}"
        if hints.get(f.name) in (bool, bool | None) or isinstance(default, bool):
            group.add_argument(
                *flags, dest=name, action=argparse.BooleanOptionalAction, default=None, help=f"({shown})"
            )
        else:
            group.add_argument(
                *flags,
                dest=name,
                default=None,
                metavar="V",
                type=_value_parser(default),
                help=f"({shown})",
            )


def collect(args: argparse.Namespace, cls: type, *, prefix: str = "", skip: tuple[str, ...] = ()) -> dict:
    """The fields of ``cls`` given on the command line (unset options are left out)."""
    out = {}
    for f in _fields(cls, skip):
        value = getattr(args, f"{prefix}{f.name}".replace("-", "_"), None)
        if value is not None:
            out[f.name] = value
    return out


def key_values(pairs: list[str] | None, flag: str) -> dict:
    """``KEY=VALUE`` options (``--env-opt``, ``--option``) as a dict; values parse as JSON where they can
    (``5``, ``0.1``, ``true``, ``[1, 2]``) and stay text otherwise."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ValueError(f"{flag} expects KEY=VALUE, got {pair!r}")
        k, v = pair.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out
