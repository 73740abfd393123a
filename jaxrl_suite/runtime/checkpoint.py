"""Orbax checkpoints of a training-state pytree plus JSON metadata (run spec, progress).

PRNG key arrays are stored as raw key data and rewrapped on restore; the metadata also holds a digest of the
stored arrays, so a flipped bit is caught as well as unreadable files. A damaged checkpoint, or one that does
not match the state being restored, raises ``CheckpointError`` naming the step and the newest intact older
step; ``restore_newest_intact`` falls back to that one and moves the damaged newer steps (never deleting
them) to ``damaged_directory``.

Every stored array is read synchronously with TensorStore before orbax restores a step: when orbax's own
asynchronous reads fail, the reads still in flight print "Event loop is closed" tracebacks after the error.

Saves are atomic: orbax writes ``<step>.orbax-checkpoint-tmp`` and renames it when complete, so an interrupted
save leaves only that folder, which is never listed as a step and is replaced by the next save of that step.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
import tensorstore as ts

_DIGEST_KEY = "_checkpoint_digest"  # stored in the metadata JSON, removed from the dict callers get
_MISMATCH = "is corrupted or does not match this run's state"


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, or belongs to a different run.

    ``step`` is the failing step (None if there was none) and ``intact_step`` the newest older step that
    restores (None if there is none or it was not looked for).
    """

    def __init__(self, message: str, step: int | None = None, intact_step: int | None = None):
        super().__init__(message)
        self.step = step
        self.intact_step = intact_step


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _encode_leaf(x: Any) -> Any:
    if _is_key(x):
        return jax.random.key_data(x)
    if getattr(x, "size", 1) == 0:  # orbax cannot store empty arrays; the template restores the shape
        return np.zeros((1,), x.dtype)
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
    """Shapes, dtypes and placement to restore into: the template's sharding, not the saved one, so a
    checkpoint written on N devices loads on however many this process has."""

    def leaf(t):
        if t.size == 0:  # stored as a (1,) placeholder; the template restores the real shape
            return jax.ShapeDtypeStruct((1,), t.dtype, sharding=_replicated(getattr(t, "sharding", None)))
        s = jax.eval_shape(_encode_leaf, t)
        return jax.ShapeDtypeStruct(
            s.shape, s.dtype, sharding=getattr(t, "sharding", None) or _default_sharding()
        )

    return jax.tree.map(leaf, template)


def _default_sharding():
    if jax.process_count() > 1:  # every process must hold a shard of what it restores
        return _replicated(None)
    return jax.sharding.SingleDeviceSharding(jax.devices()[0])


def _replicated(sharding: Any):
    """A whole copy on every device of ``sharding``'s mesh (all devices when it has none)."""
    if isinstance(sharding, jax.sharding.NamedSharding):
        return jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
    if jax.process_count() == 1:
        return jax.sharding.SingleDeviceSharding(jax.devices()[0])
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("all",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())


def _digest(arrays: list[np.ndarray]) -> str:
    """Order-free digest of arrays (dtype, shape, bytes): equal for the saved leaves and the stored arrays."""
    parts = []
    for a in arrays:
        h = hashlib.sha256(f"{np.dtype(a.dtype).name}{tuple(a.shape)}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
        parts.append(h.hexdigest())
    return hashlib.sha256("".join(sorted(parts)).encode()).hexdigest()


def _short(exc: BaseException) -> str:
    """One line of an orbax/TensorStore error, without TensorStore's spec dump."""
    text = str(exc).split("[tensorstore_spec=")[0].strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text[:300]}"


def _is_loop_closed(unraisable: Any) -> bool:
    return isinstance(unraisable.exc_value, RuntimeError) and "Event loop is closed" in str(
        unraisable.exc_value
    )


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence orbax's logging and asyncio's leftovers while calling orbax (its errors are raised anyway)."""
    loggers = [logging.getLogger(name) for name in ("absl", "asyncio")]
    drop, previous_hook = _DropAll(), sys.unraisablehook
    for logger in loggers:
        logger.addFilter(drop)
    sys.unraisablehook = lambda u: None if _is_loop_closed(u) else previous_hook(u)
    try:
        yield
    except Exception:
        time.sleep(0.1)  # let reads still in flight finish and report here, then collect their futures
        gc.collect()
        raise
    finally:
        sys.unraisablehook = previous_hook
        for logger in loggers:
            logger.removeFilter(drop)


class Checkpointer:
    """Numbered checkpoints in ``directory`` (the newest ``max_to_keep`` are kept).

    ``create=False`` is for readers: a missing ``directory`` raises ``CheckpointError`` instead of being created.
    """

    def __init__(self, directory: str | Path, max_to_keep: int = 3, create: bool = True):
        self.directory = Path(directory).absolute()
        self.damaged_directory = self.directory.parent / f"damaged-{self.directory.name}"
        if not create and not self.directory.is_dir():
            raise CheckpointError(f"no checkpoint found in {self.directory} (no such directory)")
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, enable_async_checkpointing=False, create=create
        )
        handlers = {"state": ocp.StandardCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()}
        with _quiet():
            self._manager = ocp.CheckpointManager(self.directory, options=options, item_handlers=handlers)

    def all_steps(self) -> list[int]:
        """Saved steps, oldest first (unfinished saves are not listed)."""
        return sorted(self._manager.all_steps())

    def latest_step(self) -> int | None:
        """The highest saved step (orbax's own ``latest_step`` is the last one saved by this process)."""
        steps = self.all_steps()
        return steps[-1] if steps else None

    def save(self, step: int, state: Any, meta: dict) -> None:
        """Save ``state`` as ``step`` (a step already saved is left as it is: it holds the same state)."""
        if int(step) in self._manager.all_steps():
            return
        encoded = _encode(state)
        meta = json.loads(json.dumps(meta, default=_json_default))
        leaves = jax.tree.leaves(encoded)
        if all(isinstance(x, np.ndarray) or getattr(x, "is_fully_addressable", False) for x in leaves):
            meta[_DIGEST_KEY] = _digest([np.asarray(x) for x in leaves])  # each leaf is one stored array
        with _quiet():
            self._manager.save(
                int(step),
                args=ocp.args.Composite(state=ocp.args.StandardSave(encoded), meta=ocp.args.JsonSave(meta)),
                force=True,
            )
            self._manager.wait_until_finished()

    def read_meta(self, step: int | None = None) -> dict:
        """The metadata dict saved with ``step`` (default: the latest)."""
        step = self._resolve(step)
        try:
            meta = self._read_meta(step)
        except CheckpointError as exc:
            intact = next((s for s in self._older(step) if self._readable(s)), None)
            raise self._error("is corrupted", exc, step, intact) from exc.__cause__
        meta.pop(_DIGEST_KEY, None)
        return meta

    def restore(self, template: Any, step: int | None = None) -> tuple[Any, dict]:
        """Restore ``step`` (default: the latest) into the structure/shapes of ``template``; ``(state, meta)``."""
        step = self._resolve(step)
        try:
            return self._restore_step(template, step)
        except CheckpointError as exc:
            intact = next((s for s in self._older(step) if self._restores(template, s)), None)
            raise self._error(_MISMATCH, exc, step, intact) from exc.__cause__

    def restore_newest_intact(self, template: Any) -> tuple[Any, dict, int, list[int]]:
        """Restore the newest step that restores; ``(state, meta, step, damaged_steps)``.

        The damaged newer steps (newest first) are moved, never deleted, to ``damaged_directory/<step>``, so
        they are no longer listed and the same step numbers can be saved again.
        """
        damaged: list[int] = []
        newest_error: CheckpointError | None = None
        for step in reversed(self.all_steps()):
            try:
                state, meta = self._restore_step(template, step)
            except CheckpointError as exc:
                damaged.append(step)
                newest_error = newest_error or exc
                continue
            for bad in damaged:
                self._move_aside(bad)
            if damaged:
                self._manager.reload()
            return state, meta, step, damaged
        if newest_error is None:
            raise CheckpointError(f"no checkpoint found in {self.directory}")
        raise CheckpointError(
            f"no intact checkpoint in {self.directory}: steps {damaged} are all corrupted or do not match this "
            f"run's state (step {damaged[0]}: {newest_error})",
            step=damaged[0],
        ) from newest_error.__cause__

    def close(self) -> None:
        self._manager.close()

    def _resolve(self, step: int | None) -> int:
        steps = self.all_steps()
        if not steps:
            raise CheckpointError(f"no checkpoint found in {self.directory}")
        if step is None:
            return steps[-1]
        if int(step) not in steps:
            raise CheckpointError(
                f"no checkpoint step {step} in {self.directory} (steps: {steps})", step=step
            )
        return int(step)

    def _older(self, step: int) -> list[int]:
        return [s for s in reversed(self.all_steps()) if s < step]

    def _error(self, what: str, reason: CheckpointError, step: int, intact: int | None) -> CheckpointError:
        """The public error: which step, what is wrong, and how to fall back to the newest intact older step."""
        message = f"checkpoint step {step} in {self.directory} {what}: {reason}"
        if intact is not None:
            bad = " ".join(str(self.directory / str(s)) for s in self.all_steps() if intact < s <= step)
            message += (
                f"; the newest intact checkpoint is step {intact}: to resume from it, move the damaged steps "
                f"aside (mkdir -p {self.damaged_directory} && mv {bad} {self.damaged_directory}/) "
                "or call Checkpointer.restore_newest_intact(), which does that"
            )
        elif self._older(step):
            message += "; no older checkpoint is intact either"
        return CheckpointError(message, step=step, intact_step=intact)

    # The private readers below raise CheckpointError whose message is only the reason; the public methods
    # above put the step, the directory and the way out around it.

    def _read_meta(self, step: int) -> dict:
        try:
            with _quiet():
                restored = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
            return dict(restored["meta"])
        except Exception as exc:  # orbax raises many types for damaged files
            raise CheckpointError(f"cannot read its metadata ({_short(exc)})", step=step) from exc

    def _stored_arrays(self, step: int) -> dict[tuple[str, ...], Any]:
        """``{path: orbax ArrayMetadata}`` of ``step``, after reading every stored array; raises if damaged.

        The arrays are found and read synchronously with TensorStore before orbax reads any of them.
        """
        meta = self._read_meta(step)
        state_dir = self.directory / str(step) / "state"
        base = {"driver": "file", "path": f"{state_dir}/"}
        if (state_dir / "manifest.ocdbt").exists():
            base = {"driver": "ocdbt", "base": f"file://{state_dir}/"}
        context, arrays = ts.Context(), []  # a fresh context: no data cached by earlier reads or writes
        try:
            keys = ts.KvStore.open(base, context=context).result().list().result()
        except Exception as exc:
            raise CheckpointError(f"cannot list its arrays ({_short(exc)})", step=step) from exc
        for key in sorted(keys):
            name, _, marker = key.decode().rpartition("/")
            if marker not in (".zarray", "zarr.json"):
                continue
            store = {**base, "path": base.get("path", "") + name + "/"}
            spec = {"driver": "zarr" if marker == ".zarray" else "zarr3", "kvstore": store}
            try:
                arrays.append(ts.open(spec, context=context, open=True, read=True).result().read().result())
            except Exception as exc:
                raise CheckpointError(f"cannot read array {name!r} ({_short(exc)})", step=step) from exc
        if _DIGEST_KEY in meta and _digest(arrays) != meta[_DIGEST_KEY]:
            raise CheckpointError("its arrays differ from the digest saved with them", step=step)
        try:
            with _quiet():
                tree = self._manager.item_metadata(step)["state"].tree
            return {tuple(str(k) for k in p): m for p, m in ocp.tree.to_flat_dict(tree).items()}
        except Exception as exc:
            raise CheckpointError(f"cannot read its array metadata ({_short(exc)})", step=step) from exc

    def _restore_step(self, template: Any, step: int) -> tuple[Any, dict]:
        stored = self._stored_arrays(step)
        expected = {
            tuple(str(k) for k in p): s for p, s in ocp.tree.to_flat_dict(_abstract(template)).items()
        }
        for path, want in expected.items():  # checked here: orbax's shape errors also leave reads in flight
            have = stored.get(path)
            if have is not None and (tuple(have.shape), np.dtype(have.dtype)) != (want.shape, want.dtype):
                raise CheckpointError(
                    f"{'.'.join(path)} is stored as {np.dtype(have.dtype).name}{list(have.shape)}, "
                    f"this run's state has {want.dtype.name}{list(want.shape)}",
                    step=step,
                )
        try:
            with _quiet():
                restored = self._manager.restore(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardRestore(_abstract(template)), meta=ocp.args.JsonRestore()
                    ),
                )
        except Exception as exc:
            raise CheckpointError(f"structure, shapes or dtypes differ ({_short(exc)})", step=step) from exc
        meta = dict(restored["meta"])
        meta.pop(_DIGEST_KEY, None)
        return _decode(restored["state"], template), meta

    def _restores(self, template: Any, step: int) -> bool:
        try:
            self._restore_step(template, step)
        except CheckpointError:
            return False
        return True

    def _readable(self, step: int) -> bool:
        try:
            self._stored_arrays(step)
        except CheckpointError:
            return False
        return True

    def _move_aside(self, step: int) -> Path:
        """Move ``step``'s folder to ``damaged_directory/<step>`` (``<step>.1``, ... if taken)."""
        self.damaged_directory.mkdir(parents=True, exist_ok=True)
        target, n = self.damaged_directory / str(step), 0
        while target.exists():
            n += 1
            target = self.damaged_directory / f"{step}.{n}"
        shutil.move(str(self.directory / str(step)), str(target))
        return target


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic | np.ndarray | jax.Array):
        return np.asarray(obj).tolist()
    if isinstance(obj, tuple):
        return list(obj)
    return str(obj)
