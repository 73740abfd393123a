"""Training runtime: chunked compiled loops with progress, metrics, checkpoints and sharding.

Names load on first use, so that importing a light submodule (``rundir``, ``distributed``) imports no learner.
"""

from jaxrl_suite import lazy

_LAZY = {
    "CheckpointError": ".checkpoint",
    "Checkpointer": ".checkpoint",
    "DivergedError": ".loop",
    "RunResult": ".loop",
    "batch_hparams": ".loop",
    "summarize": ".loop",
    "train_runs": ".loop",
    "RunDirError": ".rundir",
    "run_sharding": ".sharding",
}


__getattr__ = lazy.attributes(__name__, _LAZY)


__all__ = sorted(_LAZY)
