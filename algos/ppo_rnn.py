"""Recurrent PPO (GRU or LSTM core) on the same loop as ``algos/ppo.py``: ``PPOConfig(policy="gru")``.

The network is an MLP torso, a recurrent cell, and the policy and value heads on the cell's output (the value
head reads a feed-forward critic on privileged observations when ``asymmetric_critic``). The torso and the
cell's input projection are feed-forward, so replay runs them over a whole sequence at once and only the
recurrence inside the time loop (``algos/cells.py``). The hidden state is
zeroed wherever an episode starts (inside the scan, after auto-reset); the rollout keeps each env's hidden
state at its start, and the update replays whole env sequences from it (minibatches split along envs, not
time), so gradients flow through time within a rollout and never across an episode boundary, as in
PureJaxRL's ``ppo_rnn.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_suite.algos import networks as nets
from jaxrl_suite.algos.cells import SplitCell
from jaxrl_suite.algos.gae import gae
from jaxrl_suite.algos.ppo import Batch, PPOHparams, PPOState, Trainer


class RecurrentActorCritic(nn.Module):
    """MLP torso -> GRU/LSTM cell -> policy and value heads (orthogonal init as ``ActorCritic``)."""

    action_dim: int
    continuous: bool
    cell: str = "gru"
    rnn_hidden: int = 128
    hidden: Sequence[int] = (64,)
    activation: str = "tanh"
    orthogonal: bool = True
    log_std_init: float = 0.0
    asymmetric_critic: bool = False

    def setup(self):
        ortho = self.orthogonal
        self.torso = nets.MLP(self.hidden, self.activation, ortho, deferred_orthogonal=ortho)
        self.core = SplitCell(self.cell, self.rnn_hidden)
        if self.asymmetric_critic:
            self.critic_torso = nets.MLP(self.hidden, self.activation, ortho, deferred_orthogonal=ortho)
        self.policy_head = nets._dense(
            self.action_dim, nets.HEAD_SCALES["policy_head"], ortho, deferred=ortho
        )
        self.value_head = nets._dense(1, nets.HEAD_SCALES["value_head"], ortho, deferred=ortho)
        if self.continuous:
            self.log_std = self.param(
                "log_std", nn.initializers.constant(self.log_std_init), (self.action_dim,)
            )

    def init(self, rngs, *args, **kwargs):
        """flax ``init``, then the torso and head kernels made orthogonal (the cell keeps its own init)."""
        variables = super().init(rngs, *args, **kwargs)
        return nets.orthogonalize(variables, rngs, skip=("core",)) if self.orthogonal else variables

    def features(self, x: jax.Array) -> jax.Array:
        """The feed-forward half: the cell's gate inputs for observations of any leading shape."""
        return self.core.project(self.torso(x))

    def recur(self, carry: Any, gates_in: jax.Array, reset: jax.Array) -> tuple[Any, jax.Array]:
        """The recurrent half of one step: the carry is zeroed where ``reset`` (an episode starts here)."""
        carry = jax.tree.map(lambda c: jnp.where(reset[:, None], 0.0, c), carry)
        return self.core(carry, gates_in)

    def sequence(self, carry: Any, gates_in: jax.Array, reset: jax.Array) -> jax.Array:
        """The recurrent half over a whole ``[T, n]`` sequence (hand-written backward pass): outputs."""
        return self.core.sequence(carry, gates_in, reset)

    def step(self, carry: Any, x: jax.Array, reset: jax.Array) -> tuple[Any, jax.Array]:
        """One time step for a batch: ``(carry, output)``."""
        return self.recur(carry, self.features(x), reset)

    def policy(self, h: jax.Array):
        out = self.policy_head(h)
        if self.continuous:
            return out, jnp.broadcast_to(self.log_std, out.shape)
        return out

    def value(self, h: jax.Array) -> jax.Array:
        """The value from the cell's output (or, with an asymmetric critic, from a critic observation)."""
        if self.asymmetric_critic:
            h = self.critic_torso(h)
        return self.value_head(h)[..., 0]

    def __call__(self, carry, x, reset, critic_x=None):
        carry, h = self.step(carry, x, reset)
        return carry, self.policy(h), self.value(h if critic_x is None else critic_x)


@struct.dataclass
class RecurrentPPOState(PPOState):
    """``PPOState`` plus each env's hidden state and whether its next step starts an episode."""

    hidden: Any = None
    reset: Any = None


@struct.dataclass
class Sequences:
    """One update's batch as env sequences: fields ``[num_steps, num_envs, ...]``, ``h0`` per env."""

    batch: Batch
    reset: jax.Array  # [T, N]: an episode starts at this step (the carry is zeroed before it)
    h0: Any  # [N, H] (LSTM: a pair): each env's hidden state at the rollout's start


class RecurrentTrainer(Trainer):
    """PPO with a GRU or LSTM policy; same config, hyperparameters, metrics and runtime as ``Trainer``."""

    def __init__(self, config, env, env_params=None, policy_loss=None):
        super().__init__(config, env, env_params, policy_loss)
        cfg = self.config
        self.network = RecurrentActorCritic(
            action_dim=self.action_dim,
            continuous=self.continuous,
            cell=cfg.policy,
            rnn_hidden=cfg.rnn_hidden,
            hidden=tuple(cfg.hidden),
            activation=cfg.activation,
            orthogonal=cfg.orthogonal_init,
            log_std_init=cfg.log_std_init,
            asymmetric_critic=cfg.asymmetric_critic,
        )

    def initial_hidden(self, n: int) -> Any:
        """Zero hidden state for ``n`` envs."""
        h = jnp.zeros((n, self.config.rnn_hidden))
        return (h, h) if self.config.policy == "lstm" else h

    def init_params(self, key, x, critic_obs):
        n = x.shape[0]
        critic_x = critic_obs if self.config.asymmetric_critic else None
        return self.network.init(key, self.initial_hidden(n), x, jnp.ones((n,), bool), critic_x)

    def init(self, key: jax.Array, hparams: PPOHparams | None = None) -> RecurrentPPOState:
        base = super().init(key, hparams)
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        n = self.config.num_envs
        return RecurrentPPOState(**fields, hidden=self.initial_hidden(n), reset=jnp.ones((n,), bool))

    def _value(self, params, h, critic_x):
        net = self.network
        return net.apply(params, critic_x if self.config.asymmetric_critic else h, method=net.value)

    def collect(self, state, hp, key):
        """``num_steps`` steps of every env, the hidden state carried (and zeroed at episode starts)."""
        cfg, net = self.config, self.network
        h0 = state.hidden

        def env_step(carry: RecurrentPPOState, keys):
            k_act, k_env = keys[0], keys[1]
            x = self._prep(carry.obs, carry.obs_rms)
            critic_x = self._critic_input(x, carry.critic_obs, carry.critic_rms)
            hidden, h = net.apply(carry.params, carry.hidden, x, carry.reset, method=net.step)
            pi = net.apply(carry.params, h, method=net.policy)
            value = self._value(carry.params, h, critic_x)
            action = nets.sample_action(pi, k_act, self.continuous)
            logp = nets.log_prob(pi, action, self.continuous)
            old_reset = carry.reset
            carry, step = self.step_envs(carry, action, k_env, hp)
            carry = carry.replace(hidden=hidden, reset=step.done)
            if cfg.asymmetric_critic:
                next_value = self._value(carry.params, None, step.final_critic_x)
            else:
                # a truncated episode's successor value: one more step of its own carry on the final
                # observation, computed only when some env truncated (elsewhere it is the next step's value,
                # filled in after the scan)
                def bootstrap(final_obs):
                    final_x = self._prep(final_obs, carry.obs_rms)
                    _, h_next = net.apply(
                        carry.params, hidden, final_x, jnp.zeros_like(step.done), method=net.step
                    )
                    return self._value(carry.params, h_next, None)

                next_value = jax.lax.cond(
                    (step.truncated & ~step.terminated).any(),
                    bootstrap,
                    lambda _: jnp.zeros_like(value),
                    step.info["final_observation"],
                )
            step_data = (
                x, critic_x, action, logp, value, next_value, step.reward, step.terminated, step.done, old_reset
            )  # fmt: skip
            return carry, (step_data, step.info["episode"])

        roll_keys = jax.random.split(key, cfg.num_steps * 2).reshape(cfg.num_steps, 2)
        state, (traj, episodes) = jax.lax.scan(env_step, state, roll_keys)
        if not cfg.asymmetric_critic:  # where no episode ended, the successor's value is the next step's
            x, critic_x, action, logp, value, next_value, r, terminated, done, reset = traj
            _, h = net.apply(
                state.params, state.hidden, self._prep(state.obs, state.obs_rms), state.reset, method=net.step
            )
            following = jnp.concatenate([value[1:], self._value(state.params, h, None)[None]])
            next_value = jnp.where(done, next_value, following)
            traj = (x, critic_x, action, logp, value, next_value, r, terminated, done, reset)
        return state, (traj, h0), episodes

    def advantages(self, state, traj, hp) -> Sequences:
        """Truncation-correct GAE over the rollout's values; the batch stays ``[T, N]`` (env sequences)."""
        (x, critic_x, action, logp, values, next_values, r, terminated, done, reset), h0 = traj
        advantages, targets = gae(
            r, values, next_values, terminated, done, hp.gamma, hp.gae_lambda, unroll=self.config.gae_unroll
        )
        return Sequences(Batch(x, critic_x, action, logp, values, advantages, targets), reset, h0)

    def per_step(self, seqs: Sequences) -> tuple[jax.Array, jax.Array]:
        """(advantages, values) as ``[num_steps, num_envs]`` tables (the sequences already are)."""
        return seqs.batch.advantage, seqs.batch.old_value

    def replay(self, params, seqs: Sequences):
        """Policy outputs and values of env sequences ``[T, n]``, replayed from ``h0`` through the resets;
        flat, ``[T * n, ...]`` (time-major). The feed-forward half runs on the whole sequence at once."""
        net = self.network
        gates_in = net.apply(params, seqs.batch.x, method=net.features)  # [T, n, G * H]
        hs = net.apply(params, seqs.h0, gates_in, seqs.reset, method=net.sequence)  # [T, n, H]
        hs = hs.reshape((-1, hs.shape[-1]))
        critic_x = seqs.batch.critic_x.reshape((-1,) + seqs.batch.critic_x.shape[2:])
        return net.apply(params, hs, method=net.policy), self._value(params, hs, critic_x)

    def batch_loss(self, params, seqs: Sequences, hp, progress):
        """``(loss, stacked terms)`` of env sequences, replayed from their start at ``params``."""
        pi, value = self.replay(params, seqs)
        flat = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), seqs.batch)
        return self.loss_terms(pi, value, flat, hp, progress)

    @property
    def shuffled_size(self) -> int:
        return self.config.num_envs

    def minibatches(self, seqs: Sequences, perm: jax.Array) -> Sequences:
        """Whole env sequences: envs permuted by ``perm``, then cut into minibatches along the env axis."""

        def split_envs(a, axis):
            a = jnp.take(a, perm, axis=axis)
            a = a.reshape(a.shape[:axis] + (self.config.num_minibatches, -1) + a.shape[axis + 1 :])
            return jnp.moveaxis(a, axis, 0)

        return Sequences(
            jax.tree.map(lambda a: split_envs(a, 1), seqs.batch),
            split_envs(seqs.reset, 1),
            jax.tree.map(lambda a: split_envs(a, 0), seqs.h0),
        )

    # ----------------------------------------------------------------------------------------------------
    # Acting: the hidden state goes in and comes out

    def act_recurrent(self, state, hidden, reset, obs, key, greedy: bool = True):
        """``(action, hidden)`` for a batch: ``reset`` marks envs whose episode starts with ``obs``."""
        net = self.network
        hidden, h = net.apply(state.params, hidden, self._prep(obs, state.obs_rms), reset, method=net.step)
        return self.choose(net.apply(state.params, h, method=net.policy), key, greedy), hidden

    def act_step(self, state, hidden, reset, obs, key, greedy: bool = True):
        """``act_recurrent`` in the argument order of ``evaluation.RecurrentAct``."""
        return self.act_recurrent(state, hidden, reset, obs, key, greedy)

    def acting(self, state, greedy: bool = True):
        from jaxrl_suite.evaluation import RecurrentAct

        return RecurrentAct(state, self.act_step, self.initial_hidden, greedy)

    def act(self, state, obs, key, greedy: bool = True):
        raise TypeError(
            "a recurrent policy needs its hidden state: use act_recurrent(state, hidden, reset, obs, key, greedy) "
            "with hidden = initial_hidden(batch)"
        )
