"""Learning from demonstrations on grid levels, following Andres et al. 2023 ("Using Offline Data to Speed-up
Reinforcement Learning in Procedurally Generated Environments"): an in-graph expert records trajectories,
behaviour cloning pre-trains PPO's policy on them, or a cloning term joins every PPO minibatch's loss
(concurrent imitation).

The expert is the shortest-path planner of ``envs/grid/solve.py`` acting on levels of a ``Maze-*`` env, so
its demonstrations are optimal. Feed-forward policies (``policy="mlp"``).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl_suite.algos import networks as nets
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, Trainer
from jaxrl_suite.envs.grid import solve


@struct.dataclass
class Demos:
    """Expert trajectories ``[num, T]``: observations, actions, which steps were taken (before the episode
    ended), and each trajectory's return."""

    obs: Any
    action: jax.Array
    mask: jax.Array
    returns: jax.Array
    levels: Any

    @property
    def num_steps(self) -> jax.Array:
        return self.mask.sum()


def _expert_episode(env, params, max_len: int, level, key) -> tuple:
    d = solve.distances(level)
    obs, state = env.reset_to_level(key, level, params)

    def step(carry, _):
        obs, state, done, ret = carry
        action = solve.optimal_action(d, level, state)
        nxt_obs, nxt, reward, term, _ = env.step_env(key, state, action, params)
        keep = lambda a, b: jnp.where(done, a, b)  # noqa: E731
        out = (obs, action, ~done)
        carry = (jax.tree.map(keep, obs, nxt_obs), jax.tree.map(keep, state, nxt), done | term,
                 ret + jnp.where(done, 0.0, reward))  # fmt: skip
        return carry, out

    init = (obs, state, jnp.bool_(False), jnp.float32(0.0))
    (_, _, _, ret), (obs_seq, actions, mask) = jax.lax.scan(step, init, None, length=max_len)
    return obs_seq, actions, mask, ret


def expert_demos(env: Any, params: Any, key: jax.Array, num: int, max_len: int | None = None) -> Demos:
    """``num`` optimal trajectories on solvable levels of ``env`` (drawn from twice as many, solvable first),
    each at most ``max_len`` steps (default: the episode limit)."""
    max_len = int(params.max_steps_in_episode) if max_len is None else int(max_len)
    k_levels, k_run = jax.random.split(key)
    candidates = jax.vmap(env.sample_level)(jax.random.split(k_levels, 2 * num))
    ok = jax.vmap(solve.solvable)(candidates)
    order = jnp.argsort(~ok, stable=True)[:num]
    levels = jax.tree.map(lambda x: x[order], candidates)
    episode = functools.partial(_expert_episode, env, params, max_len)
    obs, action, mask, ret = jax.vmap(episode)(levels, jax.random.split(k_run, num))
    mask = mask & ok[order][:, None]
    return Demos(obs, action, mask, jnp.where(ok[order], ret, 0.0), levels)


def bc_loss(trainer: Trainer, params: Any, demos: Demos, obs_rms: Any) -> jax.Array:
    """Mean negative log-likelihood of the expert's actions under the policy, over the steps taken."""
    flat_obs = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), demos.obs)
    x = trainer._prep(flat_obs, obs_rms)
    net = trainer.network
    logp = nets.log_prob(
        net.apply(params, x, method=net.policy), demos.action.reshape(-1), trainer.continuous
    )
    mask = demos.mask.reshape(-1).astype(jnp.float32)
    return -(logp * mask).sum() / jnp.maximum(mask.sum(), 1.0)


def pretrain(trainer: Trainer, state: Any, demos: Demos, steps: int = 500, lr: float = 1e-3) -> tuple:
    """Behaviour cloning: ``steps`` full-batch Adam steps on the demonstrations; ``(state, losses)``. The
    value function and PPO's optimiser state are left as they were."""
    opt = optax.adam(lr)

    def step(carry, _):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(lambda p: bc_loss(trainer, p, demos, state.obs_rms))(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(step, (state.params, opt.init(state.params)), None, length=int(steps))
    return state.replace(params=params), losses


@struct.dataclass
class ImitationHparams(PPOHparams):
    """PPO's hyperparameters plus the weight of the cloning term (vmappable)."""

    bc_coef: float = 0.1


class ImitationTrainer(Trainer):
    """PPO whose every minibatch loss adds ``bc_coef`` times the cloning loss on ``demos`` (concurrent
    imitation); everything else is PPO's."""

    def __init__(self, config: PPOConfig, env: Any, demos: Demos, env_params: Any = None):
        if config.policy != "mlp":
            raise ValueError("concurrent imitation supports feed-forward policies (policy='mlp')")
        if config.normalize_obs:
            raise ValueError("concurrent imitation reads raw observations: use normalize_obs=False")
        super().__init__(config, env, env_params)
        self.demos = demos

    def batch_loss(self, params, mb, hp, progress):
        loss, stacked = super().batch_loss(params, mb, hp, progress)
        return loss + hp.bc_coef * bc_loss(self, params, self.demos, None), stacked


class BCPretrained:
    """A learner whose ``init`` clones the demonstrations (``pretrain``) before training starts; everything
    else is the wrapped learner's. The runtime compiles the cloning into the init program, and a resumed run
    restores the trained state rather than cloning again."""

    def __init__(self, trainer: Trainer, demos: Demos, steps: int = 500, lr: float = 1e-3):
        if trainer.config.policy != "mlp":
            raise ValueError("behaviour cloning supports feed-forward policies (policy='mlp')")
        self.trainer, self.demos, self.steps, self.lr = trainer, demos, int(steps), float(lr)

    def init(self, key: jax.Array, hparams: Any = None) -> Any:
        return pretrain(self.trainer, self.trainer.init(key, hparams), self.demos, self.steps, self.lr)[0]

    def __getattr__(self, name: str) -> Any:
        if name == "trainer":
            raise AttributeError(name)
        return getattr(self.trainer, name)
