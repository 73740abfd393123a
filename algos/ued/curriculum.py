"""Unsupervised environment design on PPO's compiled loop: domain randomisation, robust Prioritized Level
Replay and ACCEL, one update = one rollout on a batch of levels (``UEDConfig(method="dr" | "plr" | "accel")``;
``"paired"``, an adversary that builds the levels, is ``algos/ued/paired.py`` on the same pieces).

Each update picks where its levels come from (``lax.switch``, so one rollout is compiled): new levels from
the env's generator, levels replayed from the buffer (``algos/ued/buffer.py``) or, for ACCEL, the levels
just replayed after a few edits (``envs/grid/mutate.py``). Every env restarts its level whenever an episode
ends (the level rides in per-env params), the rollout scores each level by regret (``algos/ued/scores.py``),
new levels enter the buffer and replayed ones get their new score. Robust PLR and ACCEL (Jiang et al. 2021,
"Replay-Guided Adversarial Environment Design"; Parker-Holder et al. 2022) take gradient steps only on
replayed levels; DR (and ``robust=False``) on every batch. The buffer is part of the state, so seeds vmap
and a run checkpoints and resumes exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_suite.algos import ppo
from jaxrl_suite.algos.ppo import AUX_NAMES, PPOConfig, PPOHparams, check_hparams
from jaxrl_suite.algos.ued import buffer as level_buffer
from jaxrl_suite.algos.ued import scores as level_scores
from jaxrl_suite.prng import fast_key
from jaxrl_suite.vector import VecEnv
from jaxrl_suite.wrappers import EpisodeStatistics

METHODS = ("dr", "plr", "accel", "paired")
NEW, REPLAY, MUTATE = 0, 1, 2


@struct.dataclass
class UEDHparams(PPOHparams):
    """PPO's hyperparameters plus the replay distribution's (all vmappable); defaults as JaxUED's maze PLR."""

    replay_prob: float = 0.8
    staleness_coef: float = 0.3
    temperature: float = 0.3
    min_fill: float = 0.5
    topk: int = 0
    adversary_lr: float = 1e-4  # PAIRED's level-building adversary (PPO)
    adversary_ent_coef: float = 0.01

    @property
    def plr(self) -> level_buffer.PLRParams:
        return level_buffer.PLRParams(
            self.replay_prob, self.staleness_coef, self.temperature, self.min_fill, self.topk
        )

    def validate(self) -> UEDHparams:
        PPOHparams.validate(self)
        rules = {
            "replay_prob": lambda v: (v >= 0) & (v <= 1),
            "staleness_coef": lambda v: (v >= 0) & (v <= 1),
            "temperature": lambda v: v > 0,
            "min_fill": lambda v: (v >= 0) & (v <= 1),
            "topk": lambda v: v >= 0,
            "adversary_lr": lambda v: v > 0,
            "adversary_ent_coef": lambda v: v >= 0,
        }
        check_hparams(self, rules)
        return self


@dataclasses.dataclass(frozen=True)
class UEDConfig(PPOConfig):
    """PPO's static configuration plus the curriculum: method, buffer capacity, score, edits per mutation."""

    method: str = "plr"
    capacity: int = 4000
    score: str = "maxmc"
    num_edits: int = 5
    robust: bool = True  # gradient steps only on replayed levels (robust PLR, ACCEL)
    adversary_hidden: tuple[int, ...] = (128, 128)  # PAIRED: the adversary's MLP
    random_z: int = 16  # PAIRED: size of the adversary's per-level random input

    def validate(self) -> UEDConfig:
        PPOConfig.validate(self)
        if self.method not in METHODS:
            raise ValueError(f"unknown UED method {self.method!r}; choose from {METHODS}")
        if self.score not in level_scores.SCORES:
            raise ValueError(f"unknown score {self.score!r}; choose from {level_scores.SCORES}")
        if int(self.capacity) < self.num_envs:
            raise ValueError(
                f"capacity={self.capacity} must hold at least one batch (num_envs={self.num_envs})"
            )
        if int(self.num_edits) < 1:
            raise ValueError(f"num_edits must be >= 1, got {self.num_edits}")
        if not self.adversary_hidden or any(int(h) < 1 for h in self.adversary_hidden):
            raise ValueError(f"adversary_hidden layer sizes must be positive, got {self.adversary_hidden}")
        if int(self.random_z) < 0:
            raise ValueError(f"random_z must be >= 0, got {self.random_z}")
        if self.reset_mode != "always":
            raise ValueError("UED pins each env to a level: reset_mode must be 'always'")
        return self

    def ppo_config(self) -> PPOConfig:
        return PPOConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(PPOConfig)})


@struct.dataclass
class UEDState:
    """The student's PPO state, the level buffer, and where the last update's levels came from."""

    ppo: Any
    buffer: level_buffer.LevelBuffer
    levels: Any  # the last update's levels, [num_envs]
    replay_idx: jax.Array  # their buffer slots when replayed
    last_branch: jax.Array  # NEW, REPLAY or MUTATE
    key: jax.Array

    @property
    def params(self) -> Any:  # what the runtime's divergence check reads
        return self.ppo.params


def restart(student: ppo.Trainer, ppo_state: Any, key: jax.Array) -> Any:
    """``ppo_state`` with every env starting a fresh episode of the level its params pin (recurrent
    students also reset their memory; an asymmetric critic gets the new privileged observation)."""
    obs, env_state = student.venv.reset(key, student.env_params)
    fresh = {
        "env_state": env_state,
        "obs": obs,
        "discounted_return": jnp.zeros_like(ppo_state.discounted_return),
    }
    if hasattr(ppo_state, "hidden"):  # recurrent: every env starts an episode
        fresh["reset"] = jnp.ones_like(ppo_state.reset)
    if student.config.asymmetric_critic:
        n = student.config.num_envs
        fresh["critic_obs"] = student.venv.privileged_observation(env_state, student.env_params).reshape(
            n, -1
        )
    return ppo_state.replace(**fresh)


class UEDTrainer:
    """The learner: ``trainer(key, hparams)`` trains; the runtime drives ``init``/``update``/``run``."""

    metric_names = (*AUX_NAMES, "return", ppo.RETURN_LAST20, "length", "episodes", "steps",
                    "branch", "buffer_size", "score_mean", "solved_rate")  # fmt: skip

    def __init__(self, config: UEDConfig, env: Any, env_params: Any = None):
        self.config = config.validate()
        for need in ("sample_level", "reset_to_level", "with_levels"):
            if not hasattr(env, need):
                raise ValueError(
                    f"UED needs an env whose levels are data (sample_level, with_levels): {env.name} has no "
                    f"{need}; use a Maze-* env"
                )
        self.env = env
        self.env_params = env.default_params if env_params is None else env_params
        self.ppo = ppo.make_train(self.config.ppo_config(), env, self.env_params)
        # every env plays the level its params pin, restarting it whenever an episode ends
        self.ppo.venv = VecEnv(EpisodeStatistics(env), self.config.num_envs, params_axis=0)

    # the learner protocol ------------------------------------------------------------------------------
    def with_env_params(self, env_params: Any) -> UEDTrainer:
        import copy

        other = copy.copy(self)
        other.env_params = env_params
        return other

    def _student(self, levels: Any):
        """PPO on per-env params that pin each env to one of ``levels``."""
        return self.ppo.with_env_params(self.env.with_levels(self.env_params, levels))

    def _new_levels(self, key: jax.Array) -> Any:
        return jax.vmap(self.env.sample_level)(jax.random.split(key, self.config.num_envs))

    def init(self, key: jax.Array, hparams: UEDHparams | None = None) -> UEDState:
        hp = (UEDHparams() if hparams is None else hparams).validate()
        k_lv, k_ppo, k_run = jax.random.split(fast_key(key), 3)
        levels = self._new_levels(k_lv)
        student = self._student(levels).init(k_ppo, hp)
        template = jax.tree.map(lambda x: x[0], levels)
        return UEDState(
            ppo=student,
            buffer=level_buffer.empty(template, self.config.capacity),
            levels=levels,
            replay_idx=jnp.zeros((self.config.num_envs,), jnp.int32),
            last_branch=jnp.int32(NEW),
            key=k_run,
        )

    def update(self, state: UEDState, hp: UEDHparams) -> tuple[UEDState, dict]:
        cfg, n = self.config, self.config.num_envs
        key, k_coin, k_new, k_replay, k_mut, k_reset = jax.random.split(fast_key(state.key), 6)
        if cfg.method == "dr":
            branch = jnp.int32(NEW)
        else:
            replay = level_buffer.should_replay(state.buffer, k_coin, hp.plr)
            # int32 constants, not Python ints: a weakly typed branch in the state would recompile the
            # second chunk of every run
            branch = jnp.where(replay, jnp.int32(REPLAY), jnp.int32(NEW))
            if cfg.method == "accel":  # the levels just replayed are edited next
                branch = jnp.where(state.last_branch == REPLAY, jnp.int32(MUTATE), branch)

        def new(buf):
            return buf, jnp.zeros((n,), jnp.int32), self._new_levels(k_new)

        def replay_levels(buf):
            return level_buffer.sample(buf, k_replay, n, hp.plr)

        def mutate(buf):
            from jaxrl_suite.envs.grid.mutate import mutate as edit

            keys = jax.random.split(k_mut, n)
            edited = jax.vmap(lambda lv, k: edit(lv, k, cfg.num_edits))(state.levels, keys)
            return buf, state.replay_idx, edited

        buf, idx, levels = jax.lax.switch(branch, (new, replay_levels, mutate), state.buffer)

        # fresh episodes on this update's levels, then one PPO iteration on them
        student = self._student(levels)
        ppo_state = restart(student, state.ppo, k_reset)
        learn = True if (cfg.method == "dr" or not cfg.robust) else branch == REPLAY
        ppo_state, metrics, table = student.iterate(ppo_state, hp, learn=learn)

        # score the levels by regret; new and edited levels are offered to the buffer, replayed ones rescored
        ep = table.episodes
        best_here = jnp.where(ep["done"], ep["return"], -jnp.inf).max(axis=0)
        stored = jnp.where(branch == REPLAY, buf.max_returns[idx], -jnp.inf)
        best = jnp.maximum(best_here, stored)
        scores = level_scores.score(cfg.score, table.advantage, table.value, best)
        if cfg.method != "dr":
            buf = jax.lax.cond(
                branch == REPLAY,
                lambda b: level_buffer.update(b, idx, scores, best_here),
                lambda b: level_buffer.insert(b, levels, scores, best_here),
                buf,
            )
        solved = (ep["done"] & (ep["return"] > 0)).any(axis=0)
        metrics = {
            **metrics,
            "branch": branch.astype(jnp.float32),
            "buffer_size": buf.size.astype(jnp.float32),
            "score_mean": scores.mean(),
            "solved_rate": solved.mean(),
        }
        state = state.replace(
            ppo=ppo_state, buffer=buf, levels=levels, replay_idx=idx, last_branch=branch, key=key
        )
        return state, metrics

    def run(self, state: UEDState, hparams: UEDHparams, num_updates: int) -> tuple[UEDState, dict]:
        state = state.replace(key=fast_key(state.key))
        return jax.lax.scan(lambda s, _: self.update(s, hparams), state, None, length=num_updates)

    def __call__(self, key: jax.Array, hparams: UEDHparams | None = None) -> ppo.TrainResult:
        hp = (UEDHparams() if hparams is None else hparams).validate()
        state = self.init(key, hp)
        state, metrics = self.run(state, hp, self.config.num_updates)
        return ppo.TrainResult(state, metrics)

    # acting: the student's policy on any level of the env ---------------------------------------------
    def acting(self, state: UEDState, greedy: bool = True):
        return self.ppo.acting(state.ppo, greedy)

    def act(self, state: UEDState, obs, key: jax.Array, greedy: bool = True) -> jax.Array:
        return self.ppo.act(state.ppo, obs, key, greedy)


def heldout(
    trainer: UEDTrainer,
    state: UEDState,
    key: jax.Array,
    levels: Any,
    episodes: int = 8,
    greedy: bool = True,
    max_steps: Any = None,
) -> dict:
    """The student on each of ``levels`` (stacked: ``envs.grid.prefabs.prefabs()``, or
    ``envs.grid.heldout.heldout_set()`` with its step limits as ``max_steps``, one per level): per level the
    solve rate (episodes that reached the goal) and the mean return of ``episodes`` episodes, in one
    program. Levels of another size than the training env's are played in the same maze resized (the
    egocentric view keeps its shape)."""
    from jaxrl_suite import evaluation

    act = trainer.acting(state, greedy)
    env, base = trainer.env, trainer.env_params
    size = int(levels.grid.shape[-2]) - 2
    if size != env.size:
        env = env.resized(size)
    n = int(levels.agent_dir.shape[0])
    limits = np.full(n, int(base.max_steps_in_episode)) if max_steps is None else np.asarray(max_steps)
    if limits.shape != (n,):
        raise ValueError(f"max_steps needs one limit per level ({n}), got shape {limits.shape}")
    keys = jax.random.split(key, n)
    solved, returns = jnp.zeros((n,)), jnp.zeros((n,))
    for limit in np.unique(limits):  # one vmapped evaluation per step limit (the limit sets the scan length)
        idx = np.flatnonzero(limits == limit)
        params = base.replace(max_steps_in_episode=int(limit))

        def one(level, k, params=params):
            ep = evaluation.evaluate(env, params.replace(level=level), act, k, episodes)
            return (ep.finished & (ep.returns > 0)).mean(), ep.returns.mean()

        s, r = jax.vmap(one)(jax.tree.map(lambda x, idx=idx: x[idx], levels), keys[idx])
        solved, returns = solved.at[idx].set(s), returns.at[idx].set(r)
    return {"solve_rate": solved, "return": returns}


def make_train(config: UEDConfig, env: Any, env_params: Any = None) -> UEDTrainer:
    """Validate everything (before any compile) and build the learner (``method="paired"``:
    ``algos/ued/paired.py``)."""
    if config.method == "paired":
        from jaxrl_suite.algos.ued.paired import PAIREDTrainer

        return PAIREDTrainer(config, env, env_params)
    return UEDTrainer(config, env, env_params)


def evaluate(trainer: UEDTrainer, state: UEDState, key: jax.Array, num_episodes: int, greedy: bool = True):
    """Return, length and ``finished`` of ``num_episodes`` episodes on fresh levels of the env."""
    return ppo.evaluate(trainer.ppo, state.ppo, key, num_episodes, greedy)


def rollout_states(trainer: UEDTrainer, state: UEDState, key: jax.Array, greedy: bool = True):
    return ppo.rollout_states(trainer.ppo, state.ppo, key, greedy)


# Names the CLI and runtime look up on every learner module.
Config = UEDConfig
Hparams = UEDHparams
__all__ = [
    "Config",
    "Hparams",
    "UEDConfig",
    "UEDHparams",
    "UEDState",
    "UEDTrainer",
    "evaluate",
    "heldout",
    "make_train",
]
