"""Proximal Policy Optimisation (Schulman et al. 2017), discrete and continuous, in one compiled loop.

Read top to bottom like PureJaxRL's ``ppo.py``, but with typed state. ``make_train(config, env, env_params)``
returns a ``Trainer``; ``trainer(key, hparams)`` is one pure function (rollout, truncation-correct GAE and every
epoch/minibatch update inside a ``lax.scan``), so it can be jitted, vmapped over seeds and ``PPOHparams``
(a sweep in one program) and sharded over devices. ``trainer.init``/``trainer.run`` expose the same loop in
chunks for the runtime's progress bar, metrics and checkpoints.

Defaults are PureJaxRL's CartPole settings (= CleanRL ``ppo.py``): 4 envs x 128 steps, 4 epochs x 4
minibatches, lr 2.5e-4 annealed, gamma 0.99, lambda 0.95, clip 0.2, entropy 0.01, value 0.5, global-norm clip
0.5, Adam eps 1e-5, tanh 64x64, orthogonal init. Metrics per update include ``return`` (this update's
finished episodes: learning curves) and ``return_last20`` (the run's last 20 finished episodes: the
time-to-threshold rule, ``jaxrl_suite.runtime.episodes.THRESHOLD_RULE``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from gymnax.environments import spaces as gx

from jaxrl_suite.algos import networks as nets
from jaxrl_suite.algos.gae import gae
from jaxrl_suite.env import has_privileged_observation
from jaxrl_suite.prng import fast_key
from jaxrl_suite.runtime.episodes import METRIC as RETURN_LAST20
from jaxrl_suite.runtime.episodes import RecentReturns
from jaxrl_suite.vector import VecEnv
from jaxrl_suite.wrappers import EpisodeStatistics, RunningMeanStd, mean_finished, normalize_reward


def check_hparams(hp: Any, rules: dict, allow_inf: tuple[str, ...] = (), hint: str = "") -> None:
    """Raise ValueError for the first field of ``hp`` whose concrete value breaks its rule (``rules[name](array)
    -> bool array``) or is not finite (unless named in ``allow_inf``); traced values are skipped. Shared by
    every learner's hyperparameters."""
    for name, ok in rules.items():
        value = getattr(hp, name)
        if isinstance(value, jax.core.Tracer):
            continue
        arr = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(arr) | (name in allow_inf)) or not np.all(ok(arr)):
            raise ValueError(f"invalid hyperparameter {name}={value}{hint}")


@struct.dataclass
class PPOHparams:
    """Shape-free hyperparameters: every field may carry a leading batch axis (vmapped sweeps)."""

    lr: float = 2.5e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    reward_scale: float = 1.0

    def validate(self) -> PPOHparams:
        """Raise ValueError for out-of-range values (checked on concrete values, before compiling)."""
        rules = {
            "lr": lambda v: v > 0,
            "gamma": lambda v: (v >= 0) & (v <= 1),
            "gae_lambda": lambda v: (v >= 0) & (v <= 1),
            "clip_eps": lambda v: v > 0,
            "ent_coef": lambda v: v >= 0,
            "vf_coef": lambda v: v >= 0,
            "max_grad_norm": lambda v: v > 0,
            "reward_scale": lambda v: v > 0,
        }
        check_hparams(self, rules, allow_inf=("max_grad_norm",))
        return self


POLICIES = ("mlp", "gru", "lstm")


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """Static configuration: everything that sets array shapes or program structure."""

    num_envs: int = 4
    num_steps: int = 128
    total_timesteps: int = 500_000
    update_epochs: int = 4
    num_minibatches: int = 4
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    shared_torso: bool = False
    orthogonal_init: bool = True
    anneal_lr: bool = True
    clip_value_loss: bool = True
    normalize_advantages: bool = True
    normalize_obs: bool = False
    normalize_reward: bool = False
    asymmetric_critic: bool = False
    continuous: bool | None = None  # None: infer from the action space
    log_std_init: float = 0.0
    reset_mode: str = "always"
    pool_size: int | None = None
    gae_unroll: int = 8
    policy: str = "mlp"  # mlp | gru | lstm (recurrent: algos/ppo_rnn.py)
    rnn_hidden: int = 128  # recurrent core width (gru, lstm)

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // self.batch_size

    def validate(self) -> PPOConfig:
        positive = (
            "num_envs",
            "num_steps",
            "total_timesteps",
            "update_epochs",
            "num_minibatches",
            "gae_unroll",
        )
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"PPOConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size % self.num_minibatches:
            raise ValueError(
                f"num_minibatches={self.num_minibatches} does not divide the batch of num_envs x num_steps = "
                f"{self.num_envs} x {self.num_steps} = {self.batch_size}"
            )
        if self.num_updates < 1:
            raise ValueError(
                f"total_timesteps={self.total_timesteps} is less than one batch ({self.batch_size})"
            )
        if self.activation not in nets.ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; choose from {sorted(nets.ACTIVATIONS)}"
            )
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden layer sizes must be positive, got {self.hidden}")
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}; choose from {POLICIES}")
        if self.policy != "mlp":
            if int(self.rnn_hidden) < 1:
                raise ValueError(f"rnn_hidden must be >= 1, got {self.rnn_hidden}")
            if self.num_envs % self.num_minibatches:
                raise ValueError(
                    f"a recurrent policy splits minibatches along envs: num_minibatches={self.num_minibatches} "
                    f"must divide num_envs={self.num_envs}"
                )
        if self.asymmetric_critic and self.shared_torso:
            raise ValueError(
                "an asymmetric critic reads a different observation: it needs shared_torso=False"
            )
        return self


@struct.dataclass
class PPOState:
    """Everything the loop carries; a checkpoint of this pytree resumes training exactly."""

    params: Any
    opt_state: Any
    env_state: Any
    obs: Any
    critic_obs: jax.Array  # privileged observation (asymmetric critic) or an empty [num_envs, 0] array
    obs_rms: RunningMeanStd
    critic_rms: RunningMeanStd
    ret_rms: RunningMeanStd
    discounted_return: jax.Array
    recent: RecentReturns  # the last 20 finished episodes (the time-to-threshold rule)
    key: jax.Array
    update_step: jax.Array


@struct.dataclass
class Transition:
    x: jax.Array  # flat (normalised) observation the policy acted on
    critic_x: jax.Array
    final_critic_x: jax.Array  # critic input of the observation that followed, before auto-reset
    action: jax.Array
    log_prob: jax.Array
    reward: jax.Array
    terminated: jax.Array
    done: jax.Array


@struct.dataclass
class EnvStep:
    """What one batched env step gives the learner (``Trainer.step_envs``), the carry aside."""

    reward: jax.Array  # scaled by ``reward_scale`` and, with ``normalize_reward``, normalised
    terminated: jax.Array
    truncated: jax.Array
    done: jax.Array
    info: dict
    final_critic_x: jax.Array | None  # asymmetric critic: the privileged final observation, normalised


@struct.dataclass
class Batch:
    """The flat training batch of one update (``[num_envs * num_steps, ...]`` each), shuffled into minibatches."""

    x: jax.Array  # policy input
    critic_x: jax.Array  # critic input (privileged observation for an asymmetric critic, else x)
    action: jax.Array
    old_log_prob: jax.Array
    old_value: jax.Array
    advantage: jax.Array
    target: jax.Array  # GAE return: the value target


AUX_NAMES = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac")  # per-minibatch diagnostics


@struct.dataclass
class LossTerms:
    """The minibatch loss terms, each averaged over the minibatch (named views of one stacked array, so that
    one reduction averages all of them)."""

    policy_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    clip_frac: jax.Array

    @classmethod
    def from_stacked(cls, stacked: jax.Array) -> LossTerms:
        """``stacked[..., i]`` is the term ``AUX_NAMES[i]``."""
        return cls(*(stacked[..., i] for i in range(len(AUX_NAMES))))


@struct.dataclass
class RolloutTable:
    """One iteration's per-step table, ``[num_steps, num_envs]``: GAE advantages, value estimates and the
    ``EpisodeStatistics`` info (``return``/``length`` where ``done``): what a curriculum scores levels by."""

    advantage: jax.Array
    value: jax.Array
    episodes: dict


@struct.dataclass
class TrainResult:
    state: PPOState
    metrics: dict


PolicyLoss = Callable[[jax.Array, jax.Array, Any, jax.Array], jax.Array]


def clipped_surrogate(ratio, adv, hparams, progress):
    """PPO's clipped objective as a per-sample loss (to minimise)."""
    del progress
    clipped = jnp.clip(ratio, 1.0 - hparams.clip_eps, 1.0 + hparams.clip_eps)
    return -jnp.minimum(ratio * adv, clipped * adv)


def shuffles(key: jax.Array, rows: int, n: int) -> jax.Array:
    """``rows`` random permutations of ``range(n)``, shaped ``[rows, n]`` (the epochs' minibatch orders).

    For n <= 4096, one sort of 32-bit words holding random high bits and the index in the low bits: ~4x
    faster on CPU than ``jax.random.permutation``'s key-value sort. Uniform except that the rare pairs with
    equal random bits (expected 0.016 pairs per row at n = 512) keep index order; such a pair ends up
    adjacent, so in the same minibatch either way. Larger n uses ``jax.random.permutation``.
    """
    if n > 4096:
        return jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(key, rows))
    width = max(1, (n - 1).bit_length())
    bits = jax.random.bits(key, (rows, n), jnp.uint32)
    packed = (bits >> width << width) | jnp.arange(n, dtype=jnp.uint32)
    return (jax.lax.sort(packed, dimension=1) & jnp.uint32((1 << width) - 1)).astype(jnp.int32)


class Trainer:
    """A compiled-loop PPO learner for one environment; see the module docstring."""

    def __init__(
        self, config: PPOConfig, env: Any, env_params: Any = None, policy_loss: PolicyLoss | None = None
    ):
        self.config = config.validate()
        self.env_params = env.default_params if env_params is None else env_params
        self.env = env
        action_space = env.action_space(self.env_params)
        is_box = isinstance(action_space, gx.Box)
        if config.continuous is True and not is_box:
            raise ValueError(f"continuous PPO needs Box actions; {env.name} has {action_space!r}")
        if config.continuous is False and is_box:
            raise ValueError(f"discrete PPO needs Discrete actions; {env.name} has {action_space!r}")
        if not is_box and config.log_std_init != 0.0:
            raise ValueError(f"log_std_init is a continuous-action option; {env.name} has discrete actions")
        if not is_box and not isinstance(action_space, gx.Discrete):
            raise ValueError(f"PPO supports Discrete or Box actions, got {action_space!r}")
        self.continuous = is_box
        if config.asymmetric_critic and not has_privileged_observation(env):
            raise ValueError(
                f"asymmetric_critic needs an env with privileged_observation(); {env.name} has none"
            )
        self.action_space = action_space
        self.action_dim = int(np.prod(action_space.shape)) if is_box else int(action_space.n)
        self.venv = VecEnv(EpisodeStatistics(env), config.num_envs, config.reset_mode, config.pool_size)
        self.policy_loss = clipped_surrogate if policy_loss is None else policy_loss
        self.network = nets.ActorCritic(
            action_dim=self.action_dim,
            continuous=self.continuous,
            hidden=tuple(config.hidden),
            activation=config.activation,
            shared_torso=config.shared_torso,
            orthogonal=config.orthogonal_init,
            log_std_init=config.log_std_init,
        )
        obs0 = jax.eval_shape(lambda k: env.reset(k, self.env_params)[0], jax.random.key(0))
        self.obs_dim = int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(obs0)))
        if config.asymmetric_critic:
            priv = jax.eval_shape(
                lambda k: env.privileged_observation(env.reset(k, self.env_params)[1], self.env_params),
                jax.random.key(0),
            )
            self.critic_dim = int(np.prod(priv.shape))
        else:
            self.critic_dim = 0

    def with_env_params(self, env_params: Any) -> Trainer:
        """This trainer acting on other dynamic env params of the same shapes (e.g. a reward curriculum:
        params may be traced, so a jitted chunk can take them as an argument without recompiling)."""
        other = copy.copy(self)
        other.env_params = env_params
        return other

    # ----------------------------------------------------------------------------------------------------
    # Pieces

    def optimizer(self, hp: PPOHparams) -> optax.GradientTransformation:
        cfg = self.config
        updates_per_iteration = cfg.update_epochs * cfg.num_minibatches

        def schedule(count):
            if not cfg.anneal_lr:
                return hp.lr
            return hp.lr * (1.0 - (count // updates_per_iteration) / cfg.num_updates)

        # flattened: one clip + Adam over a single vector instead of a few small kernels per parameter leaf
        return optax.flatten(
            optax.chain(optax.clip_by_global_norm(hp.max_grad_norm), optax.adam(schedule, eps=1e-5))
        )

    def _prep(self, obs, rms: RunningMeanStd) -> jax.Array:
        """Flat policy/critic input, standardised by ``rms`` with ``normalize_obs`` (clip 10, as the
        ``NormalizeObservation`` wrapper)."""
        x = nets.flatten_obs(obs)
        return rms.normalize(x) if self.config.normalize_obs else x

    def _critic_input(self, x, critic_obs, rms):
        if not self.config.asymmetric_critic:
            return x
        return self._prep(critic_obs, rms)

    def init_params(self, key: jax.Array, x: jax.Array, critic_obs: jax.Array) -> Any:
        """Fresh network parameters for a batch of flat observations."""
        return self.network.init(key, x, critic_obs if self.config.asymmetric_critic else None)

    def init(self, key: jax.Array, hparams: PPOHparams | None = None) -> PPOState:
        """Fresh network, optimiser and environments."""
        hp = (PPOHparams() if hparams is None else hparams).validate()  # concrete values only; no-op in jit
        cfg = self.config
        k_net, k_env, k_run = jax.random.split(fast_key(key), 3)
        obs, env_state = self.venv.reset(k_env, self.env_params)
        x = nets.flatten_obs(obs)
        critic_obs = (
            self.venv.privileged_observation(env_state, self.env_params).reshape(cfg.num_envs, -1)
            if cfg.asymmetric_critic
            else jnp.zeros((cfg.num_envs, 0))
        )
        params = self.init_params(k_net, x, critic_obs)
        obs_rms = RunningMeanStd.zeros((self.obs_dim,))
        critic_rms = RunningMeanStd.zeros((self.critic_dim,))
        if cfg.normalize_obs:
            obs_rms = obs_rms.update(x)
            critic_rms = critic_rms.update(critic_obs) if cfg.asymmetric_critic else critic_rms
        return PPOState(
            params=params,
            opt_state=self.optimizer(hp).init(params),
            env_state=env_state,
            obs=obs,
            critic_obs=critic_obs,
            obs_rms=obs_rms,
            critic_rms=critic_rms,
            ret_rms=RunningMeanStd.zeros(()),
            discounted_return=jnp.zeros((cfg.num_envs,)),
            recent=RecentReturns.zeros(),
            key=k_run,
            update_step=jnp.zeros((), jnp.int32),
        )

    # ----------------------------------------------------------------------------------------------------
    # One iteration

    metric_names = (*AUX_NAMES, "return", RETURN_LAST20, "length", "episodes", "steps")

    def update(self, state: PPOState, hp: PPOHparams) -> tuple[PPOState, dict]:
        """One iteration: collect a rollout, compute advantages, update for several epochs."""
        state, metrics, _ = self.iterate(state, hp)
        return state, metrics

    def iterate(
        self, state: PPOState, hp: PPOHparams, learn: Any = True
    ) -> tuple[PPOState, dict, RolloutTable]:
        """``update``, plus the rollout's per-step table (curricula score the levels they came from).
        ``learn`` (a traced bool may be passed) False skips the gradient step: the policy only collects."""
        key, k_roll, k_upd = jax.random.split(fast_key(state.key), 3)
        # COLLECT: num_steps steps of every env under the current policy
        state, traj, episodes = self.collect(state, hp, k_roll)
        # ADVANTAGES: truncation-correct GAE, flattened into one batch
        batch = self.advantages(state, traj, hp)
        # LEARN: update_epochs passes of shuffled minibatches
        if learn is True:
            state, terms = self.learn(state, batch, hp, k_upd)
        else:  # no step: the loss terms of the whole batch at the current parameters (KL and clipping 0)
            cfg = self.config

            def no_step(s):
                progress = s.update_step.astype(jnp.float32) / cfg.num_updates
                _, stacked = self.batch_loss(s.params, batch, hp, progress)
                shape = (cfg.update_epochs, cfg.num_minibatches, len(AUX_NAMES))
                return s, LossTerms.from_stacked(jnp.broadcast_to(stacked, shape))

            state, terms = jax.lax.cond(learn, lambda s: self.learn(s, batch, hp, k_upd), no_step, state)
        recent = state.recent.push(episodes["return"], episodes["done"])
        state = state.replace(key=key, update_step=state.update_step + 1, recent=recent)

        # METRICS: reduced inside jit, so memory stays flat however long the run
        # each term averaged over epochs and minibatches, all in one reduction
        stacked = jnp.stack([getattr(terms, name) for name in AUX_NAMES], axis=-1)
        terms = LossTerms.from_stacked(stacked.reshape(-1, len(AUX_NAMES)).mean(axis=0))
        metrics = {name: getattr(terms, name) for name in AUX_NAMES}
        # "return": this update's finished episodes (learning curves); "return_last20": the run's last 20
        # finished episodes, the time-to-threshold rule (runtime.episodes.THRESHOLD_RULE)
        ret, length, count = mean_finished(episodes)  # the EpisodeStatistics wrapper's masked means
        metrics["return"] = ret
        metrics[RETURN_LAST20] = recent.mean()  # "return_last20"
        metrics["length"] = length
        metrics["episodes"] = count
        metrics["steps"] = state.update_step * self.config.batch_size
        advantage, value = self.per_step(batch)
        return state, metrics, RolloutTable(advantage, value, episodes)

    def per_step(self, batch: Batch) -> tuple[jax.Array, jax.Array]:
        """(advantages, values) of a training batch as ``[num_steps, num_envs]`` tables."""
        shape = (self.config.num_steps, self.config.num_envs)
        return batch.advantage.reshape(shape), batch.old_value.reshape(shape)

    def step_envs(self, carry: PPOState, action: jax.Array, key: jax.Array, hp: PPOHparams):
        """Step every env with ``action`` and update the carry's env-side fields (env state, observations,
        running statistics, discounted return): ``(carry, EnvStep)``. Shared by every PPO rollout."""
        cfg = self.config
        env_action = (
            jnp.clip(action, self.action_space.low, self.action_space.high) if self.continuous else action
        )
        obs, env_state, reward, terminated, truncated, info = self.venv.step(
            key, carry.env_state, env_action, self.env_params
        )
        done = terminated | truncated
        obs_rms, critic_rms = carry.obs_rms, carry.critic_rms
        if cfg.normalize_obs:
            obs_rms = obs_rms.update(nets.flatten_obs(obs))
        critic_obs, final_critic_x = carry.critic_obs, None
        if cfg.asymmetric_critic:
            critic_obs = info["privileged_observation"].reshape(cfg.num_envs, -1)
            final_critic = info["final_privileged_observation"].reshape(cfg.num_envs, -1)
            if cfg.normalize_obs:
                critic_rms = critic_rms.update(critic_obs)
            final_critic_x = self._prep(final_critic, critic_rms)
        r = reward * hp.reward_scale
        disc, ret_rms = carry.discounted_return, carry.ret_rms
        if cfg.normalize_reward:  # the NormalizeReward wrapper's rule, its statistics in the learner state
            r, disc, ret_rms = normalize_reward(ret_rms, disc, r, done, hp.gamma)
        carry = carry.replace(
            env_state=env_state,
            obs=obs,
            critic_obs=critic_obs,
            obs_rms=obs_rms,
            critic_rms=critic_rms,
            ret_rms=ret_rms,
            discounted_return=disc,
        )
        return carry, EnvStep(r, terminated, truncated, done, info, final_critic_x)

    def collect(self, state: PPOState, hp: PPOHparams, key: jax.Array) -> tuple[PPOState, Transition, dict]:
        """``num_steps`` steps of every env under the current policy: ``(state, traj[T, N], episodes[T, N])``."""
        cfg, net = self.config, self.network

        def env_step(carry: PPOState, keys):
            k_act, k_env = keys[0], keys[1]
            x = self._prep(carry.obs, carry.obs_rms)
            critic_x = self._critic_input(x, carry.critic_obs, carry.critic_rms)
            pi = net.apply(carry.params, x, method=net.policy)
            action = nets.sample_action(pi, k_act, self.continuous)
            logp = nets.log_prob(pi, action, self.continuous)
            carry, step = self.step_envs(carry, action, k_env, hp)
            final_critic_x = (
                step.final_critic_x
                if cfg.asymmetric_critic
                else self._prep(step.info["final_observation"], carry.obs_rms)
            )
            # a symmetric critic reads x: stored once (one scan output fewer per step), aliased below
            stored_critic_x = critic_x if cfg.asymmetric_critic else None
            transition = Transition(
                x, stored_critic_x, final_critic_x, action, logp, step.reward, step.terminated, step.done
            )
            return carry, (transition, step.info["episode"])

        roll_keys = jax.random.split(key, cfg.num_steps * 2).reshape(cfg.num_steps, 2)
        state, (traj, episodes) = jax.lax.scan(env_step, state, roll_keys)
        if not cfg.asymmetric_critic:
            traj = traj.replace(critic_x=traj.x)
        return state, traj, episodes

    def advantages(self, state: PPOState, traj: Transition, hp: PPOHparams) -> Batch:
        """Truncation-correct GAE; returns the flat training batch, each field ``[num_envs * num_steps, ...]``."""
        cfg, net = self.config, self.network
        # values of every state and of every successor, in one batched call
        both = jnp.concatenate([traj.critic_x, traj.final_critic_x], axis=0)
        all_values = net.apply(state.params, both, method=net.value)
        values, next_values = all_values[: cfg.num_steps], all_values[cfg.num_steps :]
        advantages, targets = gae(
            traj.reward,
            values,
            next_values,
            traj.terminated,
            traj.done,
            hp.gamma,
            hp.gae_lambda,
            unroll=cfg.gae_unroll,
        )
        batch = Batch(traj.x, traj.critic_x, traj.action, traj.log_prob, values, advantages, targets)
        return jax.tree.map(lambda a: a.reshape((cfg.batch_size,) + a.shape[2:]), batch)

    def learn(
        self, state: PPOState, batch: Batch, hp: PPOHparams, key: jax.Array
    ) -> tuple[PPOState, LossTerms]:
        """``update_epochs`` passes over the batch in shuffled minibatches; each loss term comes back shaped
        ``[epoch, minibatch]``."""
        cfg = self.config
        progress = state.update_step.astype(jnp.float32) / cfg.num_updates
        optimizer = self.optimizer(hp)

        def minibatch_step(carry, mb):
            params, opt_state = carry
            grads, aux = jax.grad(self.batch_loss, has_aux=True)(params, mb, hp, progress)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), aux

        def epoch(carry, perm):
            return jax.lax.scan(minibatch_step, carry, self.minibatches(batch, perm))

        perms = shuffles(key, cfg.update_epochs, self.shuffled_size)
        (params, opt_state), stacked = jax.lax.scan(epoch, (state.params, state.opt_state), perms)
        return state.replace(params=params, opt_state=opt_state), LossTerms.from_stacked(stacked)

    @property
    def shuffled_size(self) -> int:
        """How many items each epoch shuffles: samples here, whole env sequences for recurrent policies."""
        return self.config.batch_size

    def minibatches(self, batch: Batch, perm: jax.Array) -> Batch:
        """``batch`` in the order ``perm``, cut into ``[num_minibatches, ...]`` along its sample axis."""
        n = self.config.num_minibatches
        return jax.tree.map(lambda a: jnp.take(a, perm, axis=0).reshape((n, -1) + a.shape[1:]), batch)

    def batch_loss(self, params, mb: Batch, hp: PPOHparams, progress: jax.Array):
        """``(loss, stacked terms)`` of a minibatch (or the whole batch) at ``params``."""
        net = self.network
        pi = net.apply(params, mb.x, method=net.policy)
        value = net.apply(params, mb.critic_x, method=net.value)
        return self.loss_terms(pi, value, mb, hp, progress)

    def loss_terms(self, pi, value: jax.Array, mb: Batch, hp: PPOHparams, progress: jax.Array):
        """The minibatch loss and its terms stacked as ``AUX_NAMES`` (per-sample fields of ``mb`` flat)."""
        cfg = self.config
        logp = nets.log_prob(pi, mb.action, self.continuous)
        log_ratio = logp - mb.old_log_prob
        ratio = jnp.exp(log_ratio)
        adv = mb.advantage
        if cfg.normalize_advantages:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        value_loss = (value - mb.target) ** 2
        if cfg.clip_value_loss:
            clipped = mb.old_value + jnp.clip(value - mb.old_value, -hp.clip_eps, hp.clip_eps)
            value_loss = jnp.maximum(value_loss, (clipped - mb.target) ** 2)
        # every per-sample term averaged by one reduction (fewer kernels to compile and run)
        per_sample = [
            self.policy_loss(ratio, adv, hp, progress),
            0.5 * value_loss,
            nets.entropy(pi, self.continuous),
            (ratio - 1.0) - log_ratio,
            (jnp.abs(ratio - 1.0) > hp.clip_eps).astype(jnp.float32),
        ]
        stacked = jnp.stack(jnp.broadcast_arrays(*per_sample), axis=-1).mean(axis=0)  # see AUX_NAMES
        terms = LossTerms.from_stacked(stacked)
        return terms.policy_loss + hp.vf_coef * terms.value_loss - hp.ent_coef * terms.entropy, stacked

    def run(self, state: PPOState, hparams: PPOHparams, num_updates: int) -> tuple[PPOState, dict]:
        """``num_updates`` iterations in one ``lax.scan``; metrics stacked along the first axis."""
        state = state.replace(key=fast_key(state.key))  # a state built with a default key: one carry dtype
        return jax.lax.scan(lambda s, _: self.update(s, hparams), state, None, length=num_updates)

    def __call__(self, key: jax.Array, hparams: PPOHparams | None = None) -> TrainResult:
        """The whole training run as one pure function of (key, hparams); concrete bad hparams raise
        ValueError here, before anything is traced or compiled."""
        hp = (PPOHparams() if hparams is None else hparams).validate()
        state = self.init(key, hp)
        state, metrics = self.run(state, hp, self.config.num_updates)
        return TrainResult(state, metrics)

    # ----------------------------------------------------------------------------------------------------
    # Acting with a trained state

    def acting(self, state: PPOState, greedy: bool = True):
        """The trained policy as ``jaxrl_suite.evaluation`` takes it: ``act(obs, key)``, a pytree over ``state``
        (recurrent trainers give an ``evaluation.RecurrentAct``)."""
        return jax.tree_util.Partial(self.act if greedy else self.act_sampled, state)

    def act_sampled(self, state: PPOState, obs, key: jax.Array) -> jax.Array:
        """``act`` sampling from the policy instead of acting greedily."""
        return self.act(state, obs, key, greedy=False)

    def act(self, state: PPOState, obs, key: jax.Array, greedy: bool = True) -> jax.Array:
        """Actions for a batch of observations using the trained policy (and its observation statistics)."""
        pi = self.network.apply(state.params, self._prep(obs, state.obs_rms), method=self.network.policy)
        return self.choose(pi, key, greedy)

    def choose(self, pi, key: jax.Array, greedy: bool) -> jax.Array:
        """The action of policy output ``pi``: its mode or a sample, clipped to a Box's bounds."""
        action = (
            nets.greedy_action(pi, self.continuous)
            if greedy
            else nets.sample_action(pi, key, self.continuous)
        )
        if self.continuous:
            action = jnp.clip(action, self.action_space.low, self.action_space.high)
        return action


def make_train(
    config: PPOConfig, env: Any, env_params: Any = None, policy_loss: PolicyLoss | None = None
) -> Trainer:
    """Validate everything (before any compile) and build the trainer: ``trainer(key, hparams)`` trains.
    ``config.policy`` "gru" or "lstm" gives the recurrent trainer (``algos/ppo_rnn.py``)."""
    if config.validate().policy != "mlp":
        from jaxrl_suite.algos.ppo_rnn import RecurrentTrainer

        return RecurrentTrainer(config, env, env_params, policy_loss)
    return Trainer(config, env, env_params, policy_loss)


def evaluate(
    trainer: Trainer, state: PPOState, key: jax.Array, num_episodes: int, greedy: bool = True
) -> dict:
    """Return, length and ``finished`` of ``num_episodes`` fresh episodes under the trained policy: the
    learner-module name for ``jaxrl_suite.evaluation.evaluate``."""
    from jaxrl_suite import evaluation

    act = trainer.acting(state, greedy)
    ep = evaluation.evaluate(trainer.env, trainer.env_params, act, key, num_episodes)
    return {"return": ep.returns, "length": ep.lengths, "finished": ep.finished}


def rollout_states(trainer: Trainer, state: PPOState, key: jax.Array, greedy: bool = True):
    """One episode of env states for rendering, ``(states[T + 1], ended[T + 1])`` with T the episode step
    limit: the learner-module name for ``jaxrl_suite.evaluation.rollout`` (see there)."""
    from jaxrl_suite import evaluation

    act = trainer.acting(state, greedy)
    ro = evaluation.rollout(trainer.env, trainer.env_params, act, key)
    return ro.states, ro.ended


# Names the CLI and runtime look up on every learner module.
Config = PPOConfig
Hparams = PPOHparams
