"""Metric writers: JSON lines always; TensorBoard too when ``tensorboardX`` (optional) or torch's writer is installed.

In ``metrics.jsonl`` a value is a number, ``null`` where it is undefined (an episode metric in an update where
no episode finished), or the string ``"nan"``, ``"inf"`` or ``"-inf"`` where it went non-finite (divergence).
TensorBoard events need ``pip install tensorboardX`` (in the dev lock; ``pip install -e ".[tensorboard]"``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from jaxrl_suite.runtime.health import EPISODE_METRICS


def _encode(x: float, undefined: bool):
    if math.isfinite(x):
        return x
    if undefined:
        return None
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _decode(x) -> float:
    if x is None:
        return math.nan
    return float(x)  # numbers, and the strings "nan", "inf", "-inf"


def _update_of(line: str) -> float:
    """The update number of a metrics line; a line cut short by a hard stop counts as past the end."""
    try:
        return json.loads(line)["update"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return math.inf


def tensorboard_available() -> bool:
    return _tensorboard_class() is not None


class MetricsWriter:
    """One JSON object per update: ``{"update", "steps", <metric>: [value per run], ...}``."""

    def __init__(self, out_dir: str | Path, resume_from_update: int = 0, tensorboard: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.out_dir / "metrics.jsonl"
        if resume_from_update > 0 and self.path.exists():
            kept = [ln for ln in self.path.read_text().splitlines() if _update_of(ln) < resume_from_update]
            self.path.write_text("".join(k + "\n" for k in kept))
        elif self.path.exists():
            self.path.unlink()
        self._file = self.path.open("a")
        self._tb = _tensorboard_writer(self.out_dir / "tb") if tensorboard else None

    def write_chunk(
        self, first_update: int, metrics: dict[str, np.ndarray], diverged_at: np.ndarray | None = None
    ) -> None:
        """``metrics[name]`` has shape ``[runs, chunk]``; ``diverged_at[run]`` is the update where that run
        diverged (its non-finite values from then on are written as such, never as "undefined")."""
        chunk = next(iter(metrics.values())).shape[1]
        runs = next(iter(metrics.values())).shape[0]
        episodes = np.asarray(metrics["episodes"]) if "episodes" in metrics else None
        for i in range(chunk):
            update = first_update + i
            diverged = np.zeros(runs, bool) if diverged_at is None else np.asarray(diverged_at) <= update
            row = {"update": update}
            for name, arr in metrics.items():
                vals = np.asarray(arr[:, i], dtype=np.float64)
                if name in EPISODE_METRICS:
                    undefined = ~diverged & (True if episodes is None else episodes[:, i] == 0)
                    if name == "return_last20":
                        undefined = ~diverged
                else:
                    undefined = np.zeros(runs, bool)
                undefined = np.broadcast_to(undefined, (runs,))
                row[name] = [_encode(float(v), bool(u)) for v, u in zip(vals, undefined, strict=True)]
            row["steps"] = int(np.asarray(metrics["steps"])[0, i])
            self._file.write(json.dumps(row) + "\n")
            if self._tb is not None:
                for name, arr in metrics.items():
                    vals = np.asarray(arr[:, i], dtype=np.float64)
                    if name != "steps" and np.isfinite(vals).any():
                        self._tb.add_scalar(name, float(np.nanmean(vals)), row["steps"])
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """Read a metrics.jsonl back as ``{name: array[runs, updates]}`` (NaN where undefined or non-finite)."""
    rows = [json.loads(ln) for ln in Path(path).read_text().splitlines() if ln]
    if not rows:
        return {}
    names = [k for k in rows[0] if k not in ("update",)]
    out = {}
    for name in names:
        vals = [r[name] for r in rows]
        arr = np.array(
            [[_decode(x) for x in (v if isinstance(v, list) else [v])] for v in vals],
            dtype=np.float64,
        )
        out[name] = arr.T
    return out


def _tensorboard_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
    return SummaryWriter


def _tensorboard_writer(path: Path):
    cls = _tensorboard_class()
    return None if cls is None else cls(str(path))
