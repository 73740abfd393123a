"""Training runtime: chunked compiled loops with progress, metrics, checkpoints and sharding."""

from jaxrl_suite.runtime.checkpoint import Checkpointer, CheckpointError
from jaxrl_suite.runtime.loop import RunResult, batch_hparams, summarize, train_runs
from jaxrl_suite.runtime.sharding import run_sharding

__all__ = [
    "CheckpointError",
    "Checkpointer",
    "RunResult",
    "batch_hparams",
    "run_sharding",
    "summarize",
    "train_runs",
]
