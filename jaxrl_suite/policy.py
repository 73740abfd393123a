"""Trained policies you can load: ``load_policy(run_dir, run)`` restores one run of a checkpoint written by
``jaxrl-suite train``/``sweep`` or ``jaxrl_suite.runtime.train_runs`` (with a ``spec`` naming the learner).

The CLI's ``eval`` and ``render`` load through it, so a script sees exactly what they see; pair it with
``jaxrl_suite.evaluation`` to evaluate or roll out the policy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax


@dataclasses.dataclass(frozen=True)
class Policy:
    """One run of a checkpoint, ready to act.

    ``act(obs, key, greedy=True) -> action`` acts on a batch of observations (leading axis) with the run's
    restored parameters (and observation statistics); a recurrent policy's ``act`` is an
    ``evaluation.RecurrentAct`` (``act(hidden, obs, key, reset) -> (action, hidden)``, ``act.initial(n)``),
    which ``jaxrl_suite.evaluation`` carries through episodes. It is a ``jax.tree_util.Partial`` over the restored
    state: pure and jit-able, and passed to a jitted function its arrays are arguments, not constants compiled
    into the program. ``spec`` is the run's description (learner, env, config), ``meta`` the checkpoint's
    (``update``, ``num_runs``, ``diverged``, ...).
    """

    act: Callable[..., jax.Array]
    env: Any
    env_params: Any
    spec: dict
    meta: dict
    run: int


def _restore(checkpoint: str | Path, run: int) -> tuple[Any, Any, dict, dict]:
    """``(learner, state of run ``run``, spec, meta)`` from a run directory or its checkpoints/ folder;
    ValueError (one line) for anything that cannot be loaded; nothing is created."""
    from jaxrl_suite.cli import ALGOS, build
    from jaxrl_suite.runtime.checkpoint import Checkpointer, CheckpointError

    path = Path(checkpoint)
    if not path.is_dir():
        raise ValueError(f"no run directory or checkpoint folder at {path}")
    ckpt_dir = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    ckpt = None
    try:
        ckpt = Checkpointer(ckpt_dir, create=False)
        meta = ckpt.read_meta()
        spec = meta.get("spec") or {}
        num_runs = int(meta.get("num_runs", spec.get("num_runs", 1)))
        if not 0 <= run < num_runs:
            raise ValueError(
                f"run {run} is out of range: {path} holds {num_runs} run(s), numbered 0 to {num_runs - 1}"
            )
        if spec.get("algo") not in ALGOS or "env" not in spec:
            raise ValueError(
                f"{path} does not name its learner and environment (algo {spec.get('algo')!r}, env "
                f"{spec.get('env')!r}); train it with "
                f"train_runs(..., spec={{'algo': one of {sorted(ALGOS)}, 'env': ..., 'config': ...}})"
            )
        _, trainer = build(spec)
        template = jax.eval_shape(jax.vmap(trainer.init), jax.random.split(jax.random.key(0), num_runs))
        template = jax.tree.map(
            lambda s: (
                jax.numpy.zeros(s.shape, s.dtype)
                if not jax.dtypes.issubdtype(s.dtype, jax.dtypes.prng_key)
                else jax.random.split(jax.random.key(0), s.shape[0])
            ),
            template,
        )
        if meta.get("env_params_in_checkpoint"):  # a curriculum run (on_chunk): its env params were saved too
            saved_params = jax.tree.map(jax.numpy.asarray, trainer.env_params)
            restored, meta = ckpt.restore({"learner": template, "env_params": saved_params})
            state, trainer = restored["learner"], trainer.with_env_params(restored["env_params"])
        else:
            state, meta = ckpt.restore(template)
    except CheckpointError as exc:
        raise ValueError(str(exc)) from exc
    finally:
        if ckpt is not None:
            ckpt.close()
    diverged = (meta.get("diverged") or {}).get(str(run))
    if diverged is not None:
        raise ValueError(f"run {run} of {path} diverged at update {diverged}: its parameters are not finite")
    return trainer, jax.tree.map(lambda x: x[run], state), spec, meta


def load_policy(run_dir: str | Path, run: int = 0) -> Policy:
    """The trained policy of run ``run`` (a seed or setting) in ``run_dir`` (a run directory or its
    checkpoints/ folder), from its newest checkpoint; never creates anything.

    ValueError with one clear line for a missing directory or checkpoint, a run index out of range, a run that
    diverged, or a run whose spec does not name its learner and environment.
    """
    trainer, state, spec, meta = _restore(run_dir, run)
    return Policy(
        act=trainer.acting(state),
        env=trainer.env,
        env_params=trainer.env_params,
        spec=spec,
        meta=meta,
        run=int(run),
    )
