"""Metric writers: JSON lines always; TensorBoard too when ``tensorboardX`` or torch's writer is installed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def _clean(v):
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 0:
        return None if not math.isfinite(float(v)) else float(v)
    return [None if not math.isfinite(float(x)) else float(x) for x in v.ravel()]


class MetricsWriter:
    """One JSON object per update: ``{"update", "steps", <metric>: [value per run], ...}``."""

    def __init__(self, out_dir: str | Path, resume_from_update: int = 0, tensorboard: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.out_dir / "metrics.jsonl"
        if resume_from_update > 0 and self.path.exists():
            kept = [
                ln
                for ln in self.path.read_text().splitlines()
                if ln and json.loads(ln)["update"] < resume_from_update
            ]
            self.path.write_text("".join(k + "\n" for k in kept))
        elif self.path.exists():
            self.path.unlink()
        self._file = self.path.open("a")
        self._tb = _tensorboard_writer(self.out_dir / "tb") if tensorboard else None

    def write_chunk(self, first_update: int, metrics: dict[str, np.ndarray]) -> None:
        """``metrics[name]`` has shape ``[runs, chunk]``."""
        chunk = next(iter(metrics.values())).shape[1]
        for i in range(chunk):
            row = {"update": first_update + i}
            for name, arr in metrics.items():
                row[name] = _clean(arr[:, i])
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
    """Read a metrics.jsonl back as ``{name: array[runs, updates]}`` (NaN where missing)."""
    rows = [json.loads(ln) for ln in Path(path).read_text().splitlines() if ln]
    names = [k for k in rows[0] if k not in ("update",)]
    out = {}
    for name in names:
        vals = [r[name] for r in rows]
        arr = np.array(
            [[np.nan if x is None else x for x in (v if isinstance(v, list) else [v])] for v in vals],
            dtype=np.float64,
        )
        out[name] = arr.T
    return out


def _tensorboard_writer(path: Path):
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
    return SummaryWriter(str(path))
