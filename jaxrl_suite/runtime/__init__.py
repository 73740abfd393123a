"""Training runtime: chunked compiled loops with progress, metrics, checkpoints and sharding."""

from jaxrl_suite.runtime.checkpoint import Checkpointer, CheckpointError
from jaxrl_suite.runtime.loop import DivergedError, RunResult, batch_hparams, summarize, train_runs
from jaxrl_suite.runtime.rundir import RunDirError
from jaxrl_suite.runtime.sharding import run_sharding

__all__ = [
    "CheckpointError",
    "Checkpointer",
    "DivergedError",
    "RunDirError",
    "RunResult",
    "batch_hparams",
    "run_sharding",
    "summarize",
    "train_runs",
]
