"""Run directories: one run per directory, its record written once, and exact agreement checked on resume.

A run directory is never silently mixed: a non-empty one is refused unless the caller resumes it or asks to
overwrite it, and a resume must present the same run (its record, ``run.json``, holds the full effective
configuration, hyperparameters and keys, and a fingerprint of them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

# What a training run or sweep writes into its directory; --overwrite clears only these.
ARTEFACTS = frozenset(
    {
        "checkpoints",
        "damaged-checkpoints",
        "metrics.jsonl",
        "summary.json",
        "learning_curve.png",
        "tb",
        "run.json",
        "sweep.csv",
        "sweep.png",
        "sweep.json",
        "drift.json",  # meta-training's
        "meta_metrics.jsonl",
        "meta_eval.jsonl",
        "fitness.png",
    }
)
RECORD = "run.json"


class RunDirError(ValueError):
    """The output directory cannot take this run (holds another run, is a file, is not writable...)."""


def fingerprint(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare(out_dir: Path, *, resume: bool, overwrite: bool, check_only: bool = False) -> None:
    """Check ``out_dir`` can take this run before anything compiles; clear it first when ``overwrite``
    (``check_only``: only check, change nothing)."""
    if resume and overwrite:
        raise RunDirError("resume and overwrite exclude each other: continue the run, or replace it")
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirError(f"output path {out_dir} is a file, not a directory")
    for parent in out_dir.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunDirError(f"output path {out_dir} lies under the file {parent}")
            break
    entries = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    if resume:
        if not (out_dir / "checkpoints").is_dir():
            raise RunDirError(f"nothing to resume: {out_dir} holds no checkpoints/ of a run")
    elif entries:
        foreign = [e for e in entries if e not in ARTEFACTS]
        if not overwrite:
            raise RunDirError(
                f"{out_dir} is not empty ({', '.join(entries[:6])}{', ...' if len(entries) > 6 else ''}); "
                "resume it (--resume / resume=True), replace it (--overwrite / overwrite=True), or choose "
                "another output directory"
            )
        if foreign:
            raise RunDirError(
                f"refusing to overwrite {out_dir}: it holds files that no run wrote ({', '.join(foreign[:6])}); "
                "choose another output directory"
            )
        if check_only:
            return
        for e in entries:
            path = out_dir / e
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    if check_only:
        return
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-test-").close()  # can we write here?
    except OSError as exc:
        raise RunDirError(f"cannot write to output directory {out_dir}: {exc.strerror or exc}") from exc


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``{"a.b": value}`` (lists and scalars are leaves)."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj}


def differences(stored: dict, given: dict) -> list[str]:
    """Lines ``field: run has X, given Y`` for every field whose values differ (missing counts as None)."""
    a, b = flatten(stored), flatten(given)
    lines = []
    for name in sorted(set(a) | set(b)):
        va, vb = a.get(name), b.get(name)
        if json.dumps(va, sort_keys=True, default=str) != json.dumps(vb, sort_keys=True, default=str):
            lines.append(f"{name}: run has {_short(va)}, given {_short(vb)}")
    return lines


def _short(v: Any) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def read_record(out_dir: Path) -> dict | None:
    path = Path(out_dir) / RECORD
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunDirError(f"the run record {path} is unreadable: {exc}") from exc


def write_record(out_dir: Path, record: dict) -> None:
    """Write ``run.json`` atomically (a temporary file renamed into place)."""
    path = Path(out_dir) / RECORD
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)
