"""DQN (Mnih et al. 2015, "Human-level control through deep reinforcement learning") in one compiled loop:
an in-graph replay buffer, a target network, a linearly decaying epsilon-greedy policy, and optionally double
DQN (van Hasselt et al. 2016). The baseline of "The Effective Horizon Explains Deep RL Performance in
Stochastic Environments" beside PPO.

One update = ``train_frequency`` steps of every env (transitions into the ring buffer; the bootstrap mask is
``terminated``, and a truncated episode's successor is its final observation, not the reset one), then
``gradient_steps`` minibatch steps once the buffer holds ``learning_starts`` transitions, and the target
network follows (hard copy every ``target_update_interval`` updates, or Polyak with ``tau`` < 1).
Defaults follow stable-baselines3's (rl-zoo's CartPole settings as hyperparameter defaults).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from gymnax.environments import spaces as gx

from jaxrl_suite.algos import networks as nets
from jaxrl_suite.algos.ppo import check_hparams
from jaxrl_suite.prng import fast_key
from jaxrl_suite.runtime.episodes import METRIC as RETURN_LAST20
from jaxrl_suite.runtime.episodes import RecentReturns
from jaxrl_suite.vector import VecEnv
from jaxrl_suite.wrappers import EpisodeStatistics, mean_finished


@struct.dataclass
class DQNHparams:
    """Shape-free hyperparameters (vmappable)."""

    lr: float = 2.3e-3
    gamma: float = 0.99
    eps_start: float = 1.0
    eps_end: float = 0.04
    exploration_fraction: float = 0.16  # of the run over which epsilon decays linearly
    tau: float = 1.0  # target update: 1 = hard copy every target_update_interval updates
    max_grad_norm: float = 10.0

    def validate(self) -> DQNHparams:
        rules = {
            "lr": lambda v: v > 0,
            "gamma": lambda v: (v >= 0) & (v <= 1),
            "eps_start": lambda v: (v >= 0) & (v <= 1),
            "eps_end": lambda v: (v >= 0) & (v <= 1),
            "exploration_fraction": lambda v: (v > 0) & (v <= 1),
            "tau": lambda v: (v > 0) & (v <= 1),
            "max_grad_norm": lambda v: v > 0,
        }
        check_hparams(self, rules)
        return self


@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """Static configuration (shapes and program structure)."""

    num_envs: int = 4
    total_timesteps: int = 50_000
    buffer_size: int = 100_000
    minibatch_size: int = 64  # transitions per gradient step
    learning_starts: int = 1_000
    train_frequency: int = 64  # env steps per env between gradient phases (one update)
    gradient_steps: int = 128  # per update
    target_update_interval: int = 1  # in updates (hard copy when tau = 1)
    hidden: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    double_dqn: bool = False
    loss: str = "huber"  # huber: SB3's smooth L1 (the paper's DQN); mse: CleanRL's and PureJaxRL's

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.train_frequency

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // self.steps_per_update

    @property
    def batch_size(self) -> int:
        """Env steps per update (the learner protocol's name)."""
        return self.steps_per_update

    def validate(self) -> DQNConfig:
        for name in ("num_envs", "total_timesteps", "buffer_size", "minibatch_size", "train_frequency",
                     "gradient_steps", "target_update_interval"):  # fmt: skip
            if int(getattr(self, name)) < 1:
                raise ValueError(f"DQNConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.num_updates < 1:
            raise ValueError(
                f"total_timesteps={self.total_timesteps} is less than one update "
                f"(num_envs x train_frequency = {self.steps_per_update})"
            )
        if self.learning_starts < 0 or self.learning_starts > self.buffer_size:
            raise ValueError(f"learning_starts={self.learning_starts} must lie in [0, buffer_size]")
        if self.minibatch_size > self.buffer_size:
            raise ValueError(f"minibatch_size={self.minibatch_size} exceeds buffer_size={self.buffer_size}")
        if self.activation not in nets.ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; choose from {sorted(nets.ACTIVATIONS)}"
            )
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden layer sizes must be positive, got {self.hidden}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown DQN loss {self.loss!r}; choose from {sorted(LOSSES)}")
        return self


LOSSES = {  # per-sample TD loss of (prediction, target)
    "huber": optax.huber_loss,
    "mse": lambda q, target: 0.5 * (q - target) ** 2,
}


class QNetwork(nn.Module):
    actions: int
    hidden: tuple[int, ...]
    activation: str = "relu"

    @nn.compact
    def __call__(self, x):
        x = nets.MLP(self.hidden, self.activation, orthogonal=False)(x)
        return nn.Dense(self.actions)(x)


@struct.dataclass
class Replay:
    """A ring buffer of flat transitions; ``size`` counts filled rows."""

    obs: jax.Array  # [B, D]
    action: jax.Array  # [B]
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array  # f32: 1 where the episode terminated (no bootstrap)
    ptr: jax.Array
    size: jax.Array

    def add(self, obs, action, reward, next_obs, terminated) -> Replay:
        n, cap = obs.shape[0], self.obs.shape[0]
        idx = (self.ptr + jnp.arange(n)) % cap
        return self.replace(
            obs=self.obs.at[idx].set(obs),
            action=self.action.at[idx].set(action),
            reward=self.reward.at[idx].set(reward),
            next_obs=self.next_obs.at[idx].set(next_obs),
            terminated=self.terminated.at[idx].set(terminated),
            ptr=(self.ptr + n) % cap,
            size=jnp.minimum(self.size + n, cap),
        )

    def sample(self, key, n):
        idx = jax.random.randint(key, (n,), 0, jnp.maximum(self.size, 1))
        return self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx], self.terminated[idx]


@struct.dataclass
class DQNState:
    params: Any
    target_params: Any
    opt_state: Any
    replay: Replay
    env_state: Any
    obs: Any
    recent: RecentReturns
    key: jax.Array
    update_step: jax.Array


class DQNTrainer:
    """A compiled-loop DQN learner for one discrete-action env (the learner protocol)."""

    metric_names = ("loss", "q_mean", "epsilon", "return", RETURN_LAST20, "length", "episodes", "steps")

    def __init__(self, config: DQNConfig, env: Any, env_params: Any = None):
        self.config = self.dqn = config.validate()
        self.env = env
        self.env_params = env.default_params if env_params is None else env_params
        space = env.action_space(self.env_params)
        if not isinstance(space, gx.Discrete):
            raise ValueError(f"DQN needs Discrete actions; {env.name} has {space!r}")
        self.num_actions = int(space.n)
        self.venv = VecEnv(EpisodeStatistics(env), config.num_envs)
        self.network = QNetwork(self.num_actions, tuple(config.hidden), config.activation)
        obs0 = jax.eval_shape(lambda k: env.reset(k, self.env_params)[0], jax.random.key(0))
        self.obs_dim = int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(obs0)))

    def with_env_params(self, env_params: Any) -> DQNTrainer:
        other = copy.copy(self)
        other.env_params = env_params
        return other

    def optimizer(self, hp: DQNHparams) -> optax.GradientTransformation:
        return optax.chain(optax.clip_by_global_norm(hp.max_grad_norm), optax.adam(hp.lr))

    def init(self, key: jax.Array, hparams: DQNHparams | None = None) -> DQNState:
        hp = (DQNHparams() if hparams is None else hparams).validate()
        cfg = self.dqn
        k_net, k_env, k_run = jax.random.split(fast_key(key), 3)
        obs, env_state = self.venv.reset(k_env, self.env_params)
        params = self.network.init(k_net, nets.flatten_obs(obs))
        cap, d = cfg.buffer_size, self.obs_dim
        replay = Replay(
            obs=jnp.zeros((cap, d)),
            action=jnp.zeros((cap,), jnp.int32),
            reward=jnp.zeros((cap,)),
            next_obs=jnp.zeros((cap, d)),
            terminated=jnp.zeros((cap,), jnp.float32),
            ptr=jnp.zeros((), jnp.int32),
            size=jnp.zeros((), jnp.int32),
        )
        return DQNState(
            params=params,
            target_params=params,
            opt_state=self.optimizer(hp).init(params),
            replay=replay,
            env_state=env_state,
            obs=obs,
            recent=RecentReturns.zeros(),
            key=k_run,
            update_step=jnp.zeros((), jnp.int32),
        )

    def epsilon(self, hp: DQNHparams, step: jax.Array) -> jax.Array:
        """Linear decay from eps_start to eps_end over exploration_fraction of the run's env steps."""
        frac = step / (hp.exploration_fraction * self.dqn.total_timesteps)
        return hp.eps_start + jnp.clip(frac, 0.0, 1.0) * (hp.eps_end - hp.eps_start)

    def loss(self, params, target_params, batch, hp: DQNHparams):
        obs, action, reward, next_obs, terminated = batch
        q = self.network.apply(params, obs)
        q_taken = jnp.take_along_axis(q, action[:, None], axis=1)[:, 0]
        q_next_target = self.network.apply(target_params, next_obs)
        if self.dqn.double_dqn:  # the online network picks the action, the target network values it
            best = self.network.apply(params, next_obs).argmax(-1)
            next_v = jnp.take_along_axis(q_next_target, best[:, None], axis=1)[:, 0]
        else:
            next_v = q_next_target.max(-1)
        target = reward + hp.gamma * (1.0 - terminated) * jax.lax.stop_gradient(next_v)
        return LOSSES[self.dqn.loss](q_taken, target).mean(), q_taken.mean()

    def update(self, state: DQNState, hp: DQNHparams) -> tuple[DQNState, dict]:
        cfg = self.dqn
        key, k_roll, k_learn = jax.random.split(fast_key(state.key), 3)
        steps_before = state.update_step * cfg.steps_per_update
        eps = self.epsilon(hp, steps_before)

        def env_step(carry, k):
            env_state, obs, replay = carry
            k_eps, k_rand, k_env = jax.random.split(k, 3)
            x = nets.flatten_obs(obs)
            greedy = self.network.apply(state.params, x).argmax(-1)
            random = jax.random.randint(k_rand, (cfg.num_envs,), 0, self.num_actions)
            action = jnp.where(jax.random.uniform(k_eps, (cfg.num_envs,)) < eps, random, greedy)
            obs2, env_state, reward, terminated, truncated, info = self.venv.step(
                k_env, env_state, action, self.env_params
            )
            final = nets.flatten_obs(info["final_observation"])  # the successor before any reset
            replay = replay.add(x, action, reward, final, terminated.astype(jnp.float32))
            return (env_state, obs2, replay), info["episode"]

        (env_state, obs, replay), episodes = jax.lax.scan(
            env_step,
            (state.env_state, state.obs, state.replay),
            jax.random.split(k_roll, cfg.train_frequency),
        )
        optimizer = self.optimizer(hp)

        def grad_step(carry, k):
            params, opt_state = carry
            batch = replay.sample(k, cfg.minibatch_size)
            (loss, q_mean), grads = jax.value_and_grad(self.loss, has_aux=True)(
                params, state.target_params, batch, hp
            )
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), (loss, q_mean)

        def learn(_):
            (params, opt_state), (loss, q_mean) = jax.lax.scan(
                grad_step, (state.params, state.opt_state), jax.random.split(k_learn, cfg.gradient_steps)
            )
            return params, opt_state, loss.mean(), q_mean.mean()

        def wait(_):
            return state.params, state.opt_state, jnp.float32(0.0), jnp.float32(0.0)

        params, opt_state, loss, q_mean = jax.lax.cond(replay.size >= cfg.learning_starts, learn, wait, None)
        step = state.update_step + 1
        hard = (step % cfg.target_update_interval) == 0
        polyak = optax.incremental_update(params, state.target_params, hp.tau)
        target = jax.tree.map(lambda p, t: jnp.where(hard, p, t), polyak, state.target_params)
        recent = state.recent.push(episodes["return"], episodes["done"])
        ret, length, count = mean_finished(episodes)
        metrics = {
            "loss": loss,
            "q_mean": q_mean,
            "epsilon": eps,
            "return": ret,
            RETURN_LAST20: recent.mean(),
            "length": length,
            "episodes": count,
            "steps": step * cfg.steps_per_update,
        }
        state = DQNState(params, target, opt_state, replay, env_state, obs, recent, key, step)
        return state, metrics

    def run(self, state: DQNState, hparams: DQNHparams, num_updates: int) -> tuple[DQNState, dict]:
        state = state.replace(key=fast_key(state.key))
        return jax.lax.scan(lambda s, _: self.update(s, hparams), state, None, length=num_updates)

    def __call__(self, key: jax.Array, hparams: DQNHparams | None = None):
        from jaxrl_suite.algos.ppo import TrainResult

        hp = (DQNHparams() if hparams is None else hparams).validate()
        state = self.init(key, hp)
        state, metrics = self.run(state, hp, self.dqn.num_updates)
        return TrainResult(state, metrics)

    def act(self, state: DQNState, obs, key: jax.Array, greedy: bool = True) -> jax.Array:
        """Greedy actions of the Q-network (``greedy=False``: epsilon-greedy with the final epsilon 0.05)."""
        q = self.network.apply(state.params, nets.flatten_obs(obs))
        if greedy:
            return q.argmax(-1)
        k_eps, k_rand = jax.random.split(key)
        n = q.shape[0]
        random = jax.random.randint(k_rand, (n,), 0, self.num_actions)
        return jnp.where(jax.random.uniform(k_eps, (n,)) < 0.05, random, q.argmax(-1))

    def acting(self, state: DQNState, greedy: bool = True):
        return jax.tree_util.Partial(lambda s, o, k: self.act(s, o, k, greedy), state)


def cleanrl_cartpole() -> tuple[DQNConfig, DQNHparams]:
    """CleanRL's ``dqn.py`` CartPole settings (Huang et al. 2022, "CleanRL"): 500 k steps, one gradient step
    of 128 transitions per 10 env steps, 10 k buffer, target copied every 500 env steps, lr 2.5e-4, epsilon
    1 -> 0.05 over half the run, a 120-84 network and the squared TD error. They solve CartPole-v1 on every
    seed tried; with the Huber loss at this learning rate the Q-values diverge."""
    config = DQNConfig(
        num_envs=10,
        total_timesteps=500_000,
        buffer_size=10_000,
        minibatch_size=128,
        learning_starts=10_000,
        train_frequency=1,
        gradient_steps=1,
        target_update_interval=50,
        hidden=(120, 84),
        loss="mse",
    )
    return config, DQNHparams(lr=2.5e-4, eps_end=0.05, exploration_fraction=0.5)


def make_train(config: DQNConfig, env: Any, env_params: Any = None) -> DQNTrainer:
    """Validate everything (before any compile) and build the learner."""
    return DQNTrainer(config, env, env_params)


def evaluate(trainer: DQNTrainer, state: DQNState, key: jax.Array, num_episodes: int, greedy: bool = True):
    from jaxrl_suite import evaluation

    ep = evaluation.evaluate(
        trainer.env, trainer.env_params, trainer.acting(state, greedy), key, num_episodes
    )
    return {"return": ep.returns, "length": ep.lengths, "finished": ep.finished}


def rollout_states(trainer: DQNTrainer, state: DQNState, key: jax.Array, greedy: bool = True):
    from jaxrl_suite import evaluation

    ro = evaluation.rollout(trainer.env, trainer.env_params, trainer.acting(state, greedy), key)
    return ro.states, ro.ended


Config = DQNConfig
Hparams = DQNHparams
__all__ = [
    "Config", "DQNConfig", "DQNHparams", "DQNState", "DQNTrainer", "Hparams", "cleanrl_cartpole", "evaluate",
    "make_train",
]  # fmt: skip
