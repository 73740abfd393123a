"""SQIRL, shallow Q-iteration via reinforcement imitation learning (Laidlaw et al. 2024, "The Effective Horizon
Explains Deep RL Performance in Stochastic Environments"), as the reference implementation does it
(``effective_horizon/sb3/algorithms/sqirl.py``), in one compiled loop.

One update is one iteration i = 0 .. T-1 (T the horizon): ``m`` episodes act greedily with the frozen
network of timestep t for t < i and uniformly at random for t >= i; transitions with t >= i enter a replay
buffer kept across iterations, with their Monte-Carlo returns. Then ``ceil(steps * epochs / minibatch)``
gradient steps (steps: the env steps just collected) fit a k-head Q-network: head 1 regresses the Monte-Carlo
return, head j regresses ``r + gamma * max_a Q^{j-1}(s', a)`` from the current network, each head's squared
error divided by its running mean (EMA 0.99); Adam with gradient-norm clipping. The network is then frozen as
the policy of timestep i (a stacked ``[T, ...]`` pytree indexed inside the loop). Greedy evaluation acts on
head k: the frozen network for t < i, the current one for t >= i, as the reference's ``predict`` does.

``m`` and ``k`` are hyperparameters bounded by static maxima (``max_episodes``, ``max_k``): unused episodes
and heads are masked, so seeds and (m, k) settings vmap in one program. The env is stepped without
auto-reset: every iteration starts its episodes together, as the reference's lock-step collection does; an
episode ends by termination or at the horizon.
"""

from __future__ import annotations

import copy
import dataclasses
import math
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


@struct.dataclass
class SQIRLHparams:
    """Shape-free hyperparameters: ``m`` (episodes per iteration) and ``k`` (planning depth) too, up to the
    config's maxima. Defaults as the reference's ``sb3/train.py``."""

    m: int = 1
    k: int = 1
    lr: float = 1e-4
    gamma: float = 1.0
    loss_smoothing: float = 0.99
    max_grad_norm: float = 10.0

    def validate(self, config: SQIRLConfig | None = None) -> SQIRLHparams:
        rules = {
            "m": lambda v: v >= 1,
            "k": lambda v: v >= 1,
            "lr": lambda v: v > 0,
            "gamma": lambda v: (v >= 0) & (v <= 1),
            "loss_smoothing": lambda v: (v >= 0) & (v < 1),
            "max_grad_norm": lambda v: v > 0,
        }
        if config is not None:
            rules["m"] = lambda v: (v >= 1) & (v <= config.max_episodes)
            rules["k"] = lambda v: (v >= 1) & (v <= config.max_k)
        hint = "" if config is None else f" (max_episodes={config.max_episodes}, max_k={config.max_k})"
        check_hparams(self, rules, hint=hint)
        return self


@dataclasses.dataclass(frozen=True)
class SQIRLConfig:
    """Static configuration: the horizon (iterations and episode length), the maxima of m and k, the buffer,
    the network."""

    horizon: int = 100
    max_episodes: int = 8
    max_k: int = 1
    buffer_size: int = 100_000
    minibatch_size: int = 128
    epochs: int = 10
    hidden: tuple[int, ...] = (64, 64)
    eval_episodes: int = 1  # greedy episodes per update (1 suffices for a deterministic env)

    @property
    def num_updates(self) -> int:
        return self.horizon

    @property
    def batch_size(self) -> int:
        """Env steps per update, at most (the learner protocol's name)."""
        return self.max_episodes * self.horizon

    @property
    def max_grad_steps(self) -> int:
        return math.ceil(self.batch_size * self.epochs / self.minibatch_size)

    def validate(self) -> SQIRLConfig:
        for name in ("horizon", "max_episodes", "max_k", "buffer_size", "minibatch_size", "epochs",
                     "eval_episodes"):  # fmt: skip
            if int(getattr(self, name)) < 1:
                raise ValueError(f"SQIRLConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.buffer_size < self.batch_size:
            raise ValueError(
                f"buffer_size={self.buffer_size} cannot hold one iteration's data "
                f"(max_episodes x horizon = {self.batch_size})"
            )
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden layer sizes must be positive, got {self.hidden}")
        return self


class HeadsQ(nn.Module):
    """One MLP with ``heads * actions`` outputs: ``[..., heads, actions]``."""

    actions: int
    heads: int
    hidden: tuple[int, ...]

    @nn.compact
    def __call__(self, x):
        x = nets.MLP(self.hidden, "relu", orthogonal=False)(x)
        return nn.Dense(self.heads * self.actions)(x).reshape(x.shape[:-1] + (self.heads, self.actions))


@struct.dataclass
class Buffer:
    obs: jax.Array  # [C + 1, D]: the last row takes masked writes
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    done: jax.Array
    ret: jax.Array
    ptr: jax.Array
    size: jax.Array


@struct.dataclass
class SQIRLState:
    params: Any
    opt_state: Any
    frozen: Any  # params stacked [T, ...]: the policy of each timestep
    buffer: Buffer
    loss_ema: jax.Array  # [max_k]; NaN until a head's first step
    iteration: jax.Array
    env_steps: jax.Array
    k: jax.Array  # the planning depth this run greedy-acts on (the hyperparameter k)
    key: jax.Array


class SQIRLTrainer:
    """SQIRL on one env with a finite horizon (the learner protocol: one update per timestep of it)."""

    metric_names = ("return", "collect_return", "loss", "grad_steps", "buffer_size", "steps")
    episode_metrics = ("collect_return",)

    def __init__(self, config: SQIRLConfig, env: Any, env_params: Any = None):
        self.config = config.validate()
        self.env = env
        self.env_params = env.default_params if env_params is None else env_params
        space = env.action_space(self.env_params)
        if not isinstance(space, gx.Discrete):
            raise ValueError(f"SQIRL needs Discrete actions; {env.name} has {space!r}")
        self.num_actions = int(space.n)
        self.network = HeadsQ(self.num_actions, config.max_k, tuple(config.hidden))
        obs0 = jax.eval_shape(lambda k: env.reset(k, self.env_params)[0], jax.random.key(0))
        self.obs_dim = int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(obs0)))

    def with_env_params(self, env_params: Any) -> SQIRLTrainer:
        other = copy.copy(self)
        other.env_params = env_params
        return other

    def optimizer(self, hp: SQIRLHparams) -> optax.GradientTransformation:
        return optax.chain(optax.clip_by_global_norm(hp.max_grad_norm), optax.adam(hp.lr))

    def _x(self, obs) -> jax.Array:
        """The flat observation as floats, unscaled (the reference's flat MiniGrid observations are raw
        integer codes cast to float)."""
        return nets.flatten_obs(obs).astype(jnp.float32)

    def init(self, key: jax.Array, hparams: SQIRLHparams | None = None) -> SQIRLState:
        hp = (SQIRLHparams() if hparams is None else hparams).validate(self.config)
        cfg = self.config
        k_net, k_run = jax.random.split(fast_key(key))
        params = self.network.init(k_net, jnp.zeros((1, self.obs_dim)))
        cap, d = cfg.buffer_size + 1, self.obs_dim
        buffer = Buffer(
            obs=jnp.zeros((cap, d)),
            action=jnp.zeros((cap,), jnp.int32),
            reward=jnp.zeros((cap,)),
            next_obs=jnp.zeros((cap, d)),
            done=jnp.zeros((cap,)),
            ret=jnp.zeros((cap,)),
            ptr=jnp.zeros((), jnp.int32),
            size=jnp.zeros((), jnp.int32),
        )
        frozen = jax.tree.map(lambda p: jnp.zeros((cfg.horizon,) + p.shape, p.dtype), params)
        return SQIRLState(
            params=params,
            opt_state=self.optimizer(hp).init(params),
            frozen=frozen,
            buffer=buffer,
            loss_ema=jnp.full((cfg.max_k,), jnp.nan),
            iteration=jnp.zeros((), jnp.int32),
            env_steps=jnp.zeros((), jnp.int32),
            k=jnp.asarray(hp.k).astype(jnp.int32),
            key=k_run,
        )

    # ------------------------------------------------------------------------------------------- acting
    def greedy(self, params, x: jax.Array, k: jax.Array) -> jax.Array:
        """Greedy actions on head k (1-based) for a batch of flat observations."""
        q = self.network.apply(params, x)
        return jnp.take(q, jnp.asarray(k).astype(jnp.int32) - 1, axis=-2).argmax(-1)  # (sweeps pass floats)

    def episodes(self, state: SQIRLState, key: jax.Array, n: int, explore_from: jax.Array, k: jax.Array,
                 current_after: jax.Array):  # fmt: skip
        """``n`` lock-step episodes of the horizon: at t < ``explore_from`` greedy on the frozen network of t
        (at t >= ``current_after``, the current network), later uniformly random. Returns per step ``[T, n]``:
        (x, action, reward, next x, done, alive)."""
        cfg = self.config
        k_reset, k_run = jax.random.split(key)
        obs, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(
            jax.random.split(k_reset, n), self.env_params
        )

        def step(carry, xs):
            env_state, obs, alive = carry
            t, k_t = xs
            k_act, k_env = jax.random.split(k_t)
            x = self._x(obs)
            frozen_t = jax.tree.map(lambda p: p[t], state.frozen)
            params = jax.tree.map(lambda f, c: jnp.where(t >= current_after, c, f), frozen_t, state.params)
            greedy = self.greedy(params, x, k)
            random = jax.random.randint(k_act, (n,), 0, self.num_actions)
            action = jnp.where(t < explore_from, greedy, random)
            obs2, env_state2, reward, terminated, _ = jax.vmap(self.env.step_env, in_axes=(0, 0, 0, None))(
                jax.random.split(k_env, n), env_state, action, self.env_params
            )
            done = terminated | (t == cfg.horizon - 1)
            keep = lambda a, b: jax.tree.map(  # noqa: E731
                lambda u, v: jnp.where(alive.reshape(alive.shape + (1,) * (u.ndim - 1)), u, v), a, b
            )
            out = (x, action, jnp.where(alive, reward, 0.0), self._x(obs2), done.astype(jnp.float32), alive)
            return (keep(env_state2, env_state), keep(obs2, obs), alive & ~done), out

        ts = jnp.arange(cfg.horizon)
        init = (env_state, obs, jnp.ones((n,), bool))
        return jax.lax.scan(step, init, (ts, jax.random.split(k_run, cfg.horizon)))[1]

    # ----------------------------------------------------------------------------------------- learning
    def loss(self, params, batch, loss_ema, hp: SQIRLHparams):
        """Per-head squared errors normalised by their running means; heads beyond k masked."""
        x, action, reward, next_x, done, ret = batch
        q = self.network.apply(params, x)  # [B, K, A]
        q_taken = jnp.take_along_axis(q, action[:, None, None], axis=-1)[..., 0]  # [B, K]
        next_max = jax.lax.stop_gradient(self.network.apply(params, next_x).max(-1))  # [B, K]
        fqi = reward[:, None] + hp.gamma * (1.0 - done[:, None]) * next_max[:, :-1]
        target = jnp.concatenate([ret[:, None], fqi], axis=1)  # head 1: MC return; head j: backup of j - 1
        mse = ((q_taken - target) ** 2).mean(0)  # [K]
        heads = jnp.arange(self.config.max_k) < hp.k
        # the running means take this batch's losses first (the first batch sets them), then divide
        seen = jax.lax.stop_gradient(mse)
        scale = jnp.where(
            jnp.isnan(loss_ema), seen, hp.loss_smoothing * loss_ema + (1 - hp.loss_smoothing) * seen
        )
        normalised = jnp.where(heads, mse / jnp.maximum(scale, 1e-12), 0.0)
        return normalised.sum() / hp.k, scale

    def update(self, state: SQIRLState, hp: SQIRLHparams) -> tuple[SQIRLState, dict]:
        cfg = self.config
        key, k_col, k_learn, k_eval = jax.random.split(fast_key(state.key), 4)
        i = state.iteration
        x, action, reward, next_x, done, alive = self.episodes(
            state, k_col, cfg.max_episodes, i, hp.k, cfg.horizon
        )
        used = (jnp.arange(cfg.max_episodes) < hp.m)[None, :] & alive  # [T, n]

        def mc(g, xs):
            r, d = xs
            g = r + hp.gamma * (1.0 - d) * g
            return g, g

        _, ret = jax.lax.scan(mc, jnp.zeros(cfg.max_episodes), (reward, done), reverse=True)
        store = used & (jnp.arange(cfg.horizon) >= i)[:, None]
        flat = lambda a: a.reshape((-1,) + a.shape[2:])  # noqa: E731
        buf = state.buffer
        s = flat(store)
        pos = jnp.where(s, (buf.ptr + jnp.cumsum(s) - 1) % cfg.buffer_size, cfg.buffer_size)  # trash row
        n_new = s.sum()
        buf = buf.replace(
            obs=buf.obs.at[pos].set(flat(x)),
            action=buf.action.at[pos].set(flat(action)),
            reward=buf.reward.at[pos].set(flat(reward)),
            next_obs=buf.next_obs.at[pos].set(flat(next_x)),
            done=buf.done.at[pos].set(flat(done)),
            ret=buf.ret.at[pos].set(flat(ret)),
            ptr=(buf.ptr + n_new) % cfg.buffer_size,
            size=jnp.minimum(buf.size + n_new, cfg.buffer_size),
        )
        steps = used.sum()
        n_grad = jnp.minimum(jnp.ceil(steps * cfg.epochs / cfg.minibatch_size), cfg.max_grad_steps)
        optimizer = self.optimizer(hp)

        def grad_step(j, carry):
            params, opt_state, ema, _ = carry
            idx = jax.random.randint(
                jax.random.fold_in(k_learn, j), (cfg.minibatch_size,), 0, jnp.maximum(buf.size, 1)
            )
            batch = (
                buf.obs[idx],
                buf.action[idx],
                buf.reward[idx],
                buf.next_obs[idx],
                buf.done[idx],
                buf.ret[idx],
            )
            (loss, ema), grads = jax.value_and_grad(self.loss, has_aux=True)(params, batch, ema, hp)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, ema, loss

        params, opt_state, ema, loss = jax.lax.fori_loop(
            0,
            n_grad.astype(jnp.int32),
            grad_step,
            (state.params, state.opt_state, state.loss_ema, jnp.float32(jnp.nan)),
        )
        frozen = jax.tree.map(lambda f, p: f.at[i].set(p), state.frozen, params)
        state = state.replace(params=params, opt_state=opt_state, frozen=frozen, buffer=buf, loss_ema=ema,
                              iteration=i + 1, env_steps=state.env_steps + steps, key=key)  # fmt: skip
        ep = self.episodes(state, k_eval, cfg.eval_episodes, cfg.horizon, hp.k, i + 1)
        metrics = {
            "return": ep[2].sum(0).mean(),
            "collect_return": (reward * used).sum() / jnp.maximum(hp.m, 1),
            "loss": loss,
            "grad_steps": n_grad,
            "buffer_size": buf.size.astype(jnp.float32),
            "steps": state.env_steps,
        }
        return state, metrics

    def run(self, state: SQIRLState, hparams: SQIRLHparams, num_updates: int) -> tuple[SQIRLState, dict]:
        state = state.replace(key=fast_key(state.key))
        return jax.lax.scan(lambda s, _: self.update(s, hparams), state, None, length=num_updates)

    def __call__(self, key: jax.Array, hparams: SQIRLHparams | None = None):
        from jaxrl_suite.algos.ppo import TrainResult

        hp = (SQIRLHparams() if hparams is None else hparams).validate(self.config)
        state = self.init(key, hp)
        state, metrics = self.run(state, hp, self.config.num_updates)
        return TrainResult(state, metrics)

    # ------------------------------------------------------------------------------ the learned policy
    def policy_table(self, state: SQIRLState, observations: jax.Array) -> jax.Array:
        """The greedy non-stationary policy ``[T, X, A]`` (one-hot) on a table's ``observations`` ``[X, D]``:
        the frozen network for t < iteration, the current one after (for ``algos.tabular.policy_value``)."""
        cfg = self.config
        x = observations.reshape(observations.shape[0], -1).astype(jnp.float32)

        def at(t):
            params = jax.tree.map(
                lambda f, c: jnp.where(t < state.iteration, f[t], c), state.frozen, state.params
            )
            return jax.nn.one_hot(self.greedy(params, x, state.k), self.num_actions)

        return jax.vmap(at)(jnp.arange(cfg.horizon))

    def act(self, state: SQIRLState, obs, key: jax.Array, greedy: bool = True) -> jax.Array:
        """The current network's greedy action on head k (a time-free policy; the non-stationary one is
        ``policy_table``/``episodes``)."""
        return self.greedy(state.params, self._x(obs), state.k)


def make_train(config: SQIRLConfig, env: Any, env_params: Any = None) -> SQIRLTrainer:
    """Validate everything (before any compile) and build the learner."""
    return SQIRLTrainer(config, env, env_params)


Config = SQIRLConfig
Hparams = SQIRLHparams
__all__ = ["Config", "Hparams", "SQIRLConfig", "SQIRLHparams", "SQIRLState", "SQIRLTrainer", "make_train"]
