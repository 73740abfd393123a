"""Training runtime: chunked compiled loops with progress, metrics, checkpoints and sharding.

Names load on first use, so that importing a light submodule (``rundir``, ``distributed``) imports no learner.
"""

import importlib

_LAZY = {
    "CheckpointError": "checkpoint",
    "Checkpointer": "checkpoint",
    "DivergedError": "loop",
    "RunResult": "loop",
    "batch_hparams": "loop",
    "summarize": "loop",
    "train_runs": "loop",
    "RunDirError": "rundir",
    "run_sharding": "sharding",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
