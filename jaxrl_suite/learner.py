"""The learner protocol: what a learner provides so that the runtime (chunks, sweeps, checkpoints, resume,
devices) runs it. A new learner is only its own mathematics; ``algos/ppo.py`` is the worked example.

* ``config``: a frozen dataclass of static (shape-setting) settings, checked by ``config.validate()`` before
  anything compiles, with ``num_updates`` (updates in a full run) and ``batch_size`` (env steps per update).
* ``init(key, hparams) -> state``: a fresh training state, a pytree (``flax.struct.dataclass``), so that a
  checkpoint of it resumes exactly. ``hparams`` is a pytree of shape-free values (vmappable: a sweep batches
  them), with ``validate()`` for concrete values.
* ``update(state, hparams) -> (state, metrics)``: one compiled update step; ``metrics`` maps the names in
  ``metric_names`` to scalars. Episode metrics (``return``, ``length``, ``return_last20``) are NaN where no
  episode finished; ``steps`` counts env steps per run; anything else non-finite marks divergence.
* ``run(state, hparams, num_updates) -> (state, metrics)``: ``num_updates`` updates in one ``lax.scan``,
  metrics stacked along a leading axis (the runtime compiles one chunk of it).
* ``act(state, obs, key, greedy=True) -> action``: the trained policy, for evaluation and loading.
* ``env``, ``env_params`` and ``with_env_params(params)``: the environment it trains on, and the same learner
  on other dynamic env params (curricula change them between chunks without recompiling).

Optional: ``episode_metrics`` (further metric names that are NaN by design when nothing finished, so not a
divergence) and ``run_sharding(num_runs)`` (the run axis' sharding, for a learner that shards inside its
update, as the ES meta-trainer shards its population). ``state.params``, when present, is what the
divergence check reads; otherwise every float leaf of the state.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax

REQUIRED = ("config", "init", "update", "run", "act", "env", "env_params", "with_env_params", "metric_names")


@runtime_checkable
class Learner(Protocol):
    config: Any
    env: Any
    env_params: Any
    metric_names: tuple[str, ...]

    def init(self, key: jax.Array, hparams: Any) -> Any: ...

    def update(self, state: Any, hparams: Any) -> tuple[Any, dict[str, jax.Array]]: ...

    def run(self, state: Any, hparams: Any, num_updates: int) -> tuple[Any, dict[str, jax.Array]]: ...

    def act(self, state: Any, obs: Any, key: jax.Array, greedy: bool = True) -> jax.Array: ...

    def with_env_params(self, env_params: Any) -> Learner: ...


def check_learner(learner: Any) -> None:
    """Raise ValueError naming what a learner lacks (before anything compiles)."""
    missing = [name for name in REQUIRED if not hasattr(learner, name)]
    for name in ("num_updates", "batch_size"):
        if hasattr(learner, "config") and not hasattr(learner.config, name):
            missing.append(f"config.{name}")
    if missing:
        raise ValueError(
            f"{type(learner).__name__} is not a learner: it lacks {', '.join(missing)} "
            "(see jaxrl_suite.learner.Learner)"
        )
