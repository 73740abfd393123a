"""Results files that travel (paths relative to the repository, never one machine's absolute path) and the
benchmarks' one timing rule."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "experiments" / "results"


def portable_path(path: str | Path, root: Path = REPO) -> str:
    """``path`` relative to the repository when it lies inside it; otherwise only its name, marked as outside
    (a scratch folder on the machine that ran it says nothing to a reader elsewhere)."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return f"outside the repository: {resolved.name}"


def first_and_best(fn: Callable[[int], object], arg: int, reps: int) -> tuple[float, float]:
    """(seconds of the first call ``fn(arg)``, which compiles; the best of ``reps`` further calls on fresh
    arguments ``arg + i + 1``, ``inf`` if none). Every call's output is waited for, so work XLA dispatches
    asynchronously is timed whole."""
    import jax

    t0 = time.perf_counter()
    jax.block_until_ready(fn(arg))
    first = time.perf_counter() - t0
    best = float("inf")
    for i in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(arg + i + 1))
        best = min(best, time.perf_counter() - t0)
    return first, best


def results_dir(smoke: bool) -> Path:
    """Where a script writes: ``experiments/results/``, or its git-ignored ``quick/`` folder for a smoke run
    (which must never overwrite the committed figures)."""
    out = RESULTS / "quick" if smoke else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    return out


def run_record(kind: str, name: str, smoke: bool) -> dict:
    """The fields every results file opens with: which script, whether a smoke run, on what machine and JAX."""
    import jax

    machine = (
        f"{platform.machine()} {os.cpu_count()} cores, {len(jax.devices())} {jax.default_backend()} device(s)"
    )
    return {kind: name, "smoke": bool(smoke), "machine": machine, "jax": jax.__version__}


def publish(summary: dict, path: str | Path, lines: Callable[[], Iterable[str]], as_json: bool) -> dict:
    """How a script ends: ``summary`` written to ``path`` as indented JSON, the readable ``lines()`` printed
    unless ``as_json``, then the summary as one JSON line, always last."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2))
    if not as_json:
        for line in lines():
            print(line)
    print(json.dumps(summary))
    return summary
