"""PAIRED (Dennis et al. 2020, "Emergent Complexity and Zero-shot Transfer via Unsupervised Environment
Design") on PPO's compiled loop: ``UEDConfig(method="paired")``.

One update: the adversary builds ``num_envs`` levels, one edit per step (``envs/grid/envs/maze_editor.py``,
an episode of ``3 + max_walls`` steps collected by PPO's own rollout); the protagonist (the student that
``acting``/``heldout`` evaluate) and the antagonist each play fresh episodes of every level and take a PPO
step; the regret of each level, the antagonist's best episode return there minus the protagonist's mean
episode return, is paid to the adversary at its last edit, and the adversary takes a PPO step on its
episode. A level on which a student finished no episode counts as return 0 for it (the maze pays only on
reaching the goal), so the regret is always finite. Three PPO states, one compiled program: seeds vmap and
runs resume exactly, as for the other curricula.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite.algos import ppo
from jaxrl_suite.algos.ppo import AUX_NAMES, PPOConfig, PPOHparams
from jaxrl_suite.algos.ued.curriculum import UEDConfig, UEDHparams, UEDTrainer, restart
from jaxrl_suite.envs.grid import constants, solve
from jaxrl_suite.envs.grid.envs.maze_editor import MazeEditor
from jaxrl_suite.prng import fast_key


@struct.dataclass
class PAIREDState:
    """The protagonist (``ppo``: what evaluation reads), the antagonist, the adversary, the last levels."""

    ppo: Any
    antagonist: Any
    adversary: Any
    levels: Any
    key: jax.Array

    @property
    def params(self) -> Any:  # what the runtime's divergence check reads
        return self.ppo.params


def episode_stats(episodes: dict) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per env (level) of a ``[T, N]`` rollout: (mean and max finished-episode return, 0 where none
    finished; whether any episode finished)."""
    done, ret = episodes["done"], episodes["return"]
    count = done.sum(axis=0)
    mean = jnp.where(done, ret, 0.0).sum(axis=0) / jnp.maximum(count, 1)
    best = jnp.where(count > 0, jnp.where(done, ret, -jnp.inf).max(axis=0), 0.0)
    return mean, best, count > 0


class PAIREDTrainer(UEDTrainer):
    """The PAIRED learner; the runtime drives it through the same protocol as ``UEDTrainer``."""

    metric_names = (*AUX_NAMES, "return", ppo.RETURN_LAST20, "length", "episodes", "steps",
                    "antagonist_best_return", "regret", "adversary_entropy", "walls", "solvable_rate",
                    "solved_rate")  # fmt: skip

    def __init__(self, config: UEDConfig, env: Any, env_params: Any = None):
        super().__init__(config, env, env_params)
        cfg = self.config
        size = getattr(env, "size", None)
        if size is None or not hasattr(env, "generator_options"):
            raise ValueError(f"PAIRED builds Maze levels: {env.name} is not a Maze-* env")
        max_walls = int(env.generator_options.get("max_walls", round(60 * size**2 / 169)))
        self.editor = MazeEditor(size, max_walls, cfg.random_z)
        steps = self.editor.num_edits
        minibatches = cfg.num_minibatches if (cfg.num_envs * steps) % cfg.num_minibatches == 0 else 1
        adversary = PPOConfig(
            num_envs=cfg.num_envs,
            num_steps=steps,  # exactly one episode per env per update: the rollouts stay aligned
            total_timesteps=cfg.num_updates * cfg.num_envs * steps,
            update_epochs=cfg.update_epochs,
            num_minibatches=minibatches,
            hidden=tuple(cfg.adversary_hidden),
            activation="relu",
            anneal_lr=cfg.anneal_lr,
        )
        self.adversary = ppo.make_train(adversary, self.editor)

    @staticmethod
    def adversary_hparams(hp: UEDHparams) -> PPOHparams:
        """The adversary's PPO hyperparameters: its own learning rate and entropy bonus, the rest shared."""
        shared = {f.name: getattr(hp, f.name) for f in dataclasses.fields(PPOHparams)}
        return PPOHparams(**{**shared, "lr": hp.adversary_lr, "ent_coef": hp.adversary_ent_coef})

    def init(self, key: jax.Array, hparams: UEDHparams | None = None) -> PAIREDState:
        hp = (UEDHparams() if hparams is None else hparams).validate()
        k_lv, k_pro, k_ant, k_adv, k_run = jax.random.split(fast_key(key), 5)
        levels = self._new_levels(k_lv)  # placeholders of the right shape until the adversary builds some
        student = self._student(levels)
        return PAIREDState(
            ppo=student.init(k_pro, hp),
            antagonist=student.init(k_ant, hp),
            adversary=self.adversary.init(k_adv, self.adversary_hparams(hp)),
            levels=levels,
            key=k_run,
        )

    def update(self, state: PAIREDState, hp: UEDHparams) -> tuple[PAIREDState, dict]:
        key, k_build, k_adv, k_pro, k_ant = jax.random.split(fast_key(state.key), 5)
        adv_hp = self.adversary_hparams(hp)
        adversary = state.adversary

        # the adversary builds one level per env (one whole editor episode), replayed from its actions
        adversary, traj, _ = self.adversary.collect(adversary, adv_hp, k_build)
        levels = jax.vmap(self.editor.build, in_axes=1)(traj.action)

        # both students play fresh episodes of those levels and learn from them
        student = self._student(levels)
        pro, metrics, pro_table = student.iterate(restart(student, state.ppo, k_pro), hp)
        ant, _, ant_table = student.iterate(restart(student, state.antagonist, k_ant), hp)
        pro_mean, _, _ = episode_stats(pro_table.episodes)
        _, ant_best, _ = episode_stats(ant_table.episodes)
        regret = ant_best - pro_mean

        # the adversary's reward: the regret, at its last edit
        traj = traj.replace(reward=traj.reward.at[-1].add(regret * adv_hp.reward_scale))
        batch = self.adversary.advantages(adversary, traj, adv_hp)
        adversary, terms = self.adversary.learn(adversary, batch, adv_hp, k_adv)
        adversary = adversary.replace(update_step=adversary.update_step + 1)

        ep = pro_table.episodes
        interior = levels.grid[:, 1:-1, 1:-1, 0]
        metrics = {
            **metrics,
            # the antagonist's best episode return per level (0 where it finished none), as the regret uses it
            "antagonist_best_return": ant_best.mean(),
            "regret": regret.mean(),
            "adversary_entropy": terms.entropy.mean(),
            "walls": (interior == constants.WALL).sum(axis=(1, 2)).mean().astype(jnp.float32),
            "solvable_rate": jax.vmap(solve.solvable)(levels).mean(),
            "solved_rate": (ep["done"] & (ep["return"] > 0)).any(axis=0).mean(),
        }
        state = state.replace(ppo=pro, antagonist=ant, adversary=adversary, levels=levels, key=key)
        return state, metrics


__all__ = ["PAIREDState", "PAIREDTrainer", "episode_stats"]
