"""Orbax checkpoints of a training-state pytree plus JSON metadata (run spec, progress).

PRNG key arrays are stored as their raw key data and rewrapped on restore. A checkpoint that does not match
the run being resumed (different spec, shapes or structure), or that is corrupted, raises ``CheckpointError``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted, or belongs to a different run."""


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _encode_leaf(x: Any) -> Any:
    if _is_key(x):
        return jax.random.key_data(x)
    if getattr(x, "size", 1) == 0:  # orbax cannot store empty arrays; the template restores the shape
        return np.zeros((1,), np.asarray(x).dtype)
    return x


def _decode_leaf(x: Any, t: Any) -> Any:
    if _is_key(t):  # same PRNG impl as the template (e.g. jaxrl_suite.prng's unrolled threefry)
        return jax.random.wrap_key_data(x, impl=jax.random.key_impl(t))
    if getattr(t, "size", 1) == 0:
        return jax.numpy.zeros(t.shape, t.dtype)
    return x


def _encode(tree: Any) -> Any:
    return jax.tree.map(_encode_leaf, tree)


def _decode(tree: Any, template: Any) -> Any:
    return jax.tree.map(_decode_leaf, tree, template)


def _abstract(template: Any) -> Any:
    encoded = jax.tree.map(
        lambda t: jax.ShapeDtypeStruct((1,), t.dtype) if t.size == 0 else jax.eval_shape(_encode_leaf, t),
        template,
    )
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype), encoded)


class Checkpointer:
    """Numbered checkpoints in ``directory`` (the newest ``max_to_keep`` are kept)."""

    def __init__(self, directory: str | Path, max_to_keep: int = 3):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "meta"))

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state: Any, meta: dict) -> None:
        """Save ``state`` as ``step`` (a step already saved is left as it is: it holds the same state)."""
        if int(step) in self._manager.all_steps():
            return
        self._manager.save(
            int(step),
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_encode(state)),
                meta=ocp.args.JsonSave(json.loads(json.dumps(meta, default=_json_default))),
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def read_meta(self, step: int | None = None) -> dict:
        step = self._resolve(step)
        try:
            restored = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        except Exception as exc:  # orbax raises many types for damaged files
            raise CheckpointError(
                f"cannot read checkpoint metadata in {self.directory} (step {step}): {exc}"
            ) from exc
        return dict(restored["meta"])

    def restore(self, template: Any, step: int | None = None) -> tuple[Any, dict]:
        """Restore into the structure/shapes of ``template``; ``(state, meta)``."""
        step = self._resolve(step)
        try:
            restored = self._manager.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(_abstract(template)), meta=ocp.args.JsonRestore()
                ),
            )
        except Exception as exc:
            raise CheckpointError(
                f"checkpoint in {self.directory} (step {step}) is corrupted or does not match this run's state "
                f"(structure, shapes or dtypes differ): {type(exc).__name__}: {str(exc)[:300]}"
            ) from exc
        return _decode(restored["state"], template), dict(restored["meta"])

    def _resolve(self, step: int | None) -> int:
        step = self.latest_step() if step is None else int(step)
        if step is None:
            raise CheckpointError(f"no checkpoint found in {self.directory}")
        return step

    def close(self) -> None:
        self._manager.close()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic | np.ndarray | jax.Array):
        return np.asarray(obj).tolist()
    if isinstance(obj, tuple):
        return list(obj)
    return str(obj)
