"""PPO: GAE against a plain Python loop, probe environments, a learning signal on CartPole, clear errors."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.algos.gae import gae
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train, rollout_states

# ---------------------------------------------------------------------------------------------------------
# GAE


def gae_reference(rewards, values, next_values, terminated, truncated, gamma, lam):
    """The textbook recursion, one environment at a time, in plain Python."""
    T, N = rewards.shape
    adv = np.zeros((T, N))
    for n in range(N):
        running = 0.0
        for t in reversed(range(T)):
            bootstrap = 0.0 if terminated[t, n] else next_values[t, n]
            delta = rewards[t, n] + gamma * bootstrap - values[t, n]
            episode_continues = not (terminated[t, n] or truncated[t, n])
            running = delta + gamma * lam * (running if episode_continues else 0.0)
            adv[t, n] = running
    return adv, adv + values


def test_gae_matches_python_loop_with_terminations_and_truncations():
    rng = np.random.default_rng(0)
    T, N = 37, 5
    rewards, values, next_values = (rng.normal(size=(T, N)).astype(np.float32) for _ in range(3))
    terminated = rng.random((T, N)) < 0.1
    truncated = (rng.random((T, N)) < 0.1) & ~terminated
    truncated[5, 0] = terminated[5, 0] = True  # both flags: termination wins the bootstrap
    adv, targets = jax.jit(gae, static_argnames="unroll")(
        jnp.asarray(rewards),
        jnp.asarray(values),
        jnp.asarray(next_values),
        jnp.asarray(terminated),
        jnp.asarray(terminated | truncated),
        0.97,
        0.9,
    )
    ref_adv, ref_targets = gae_reference(rewards, values, next_values, terminated, truncated, 0.97, 0.9)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(targets, ref_targets, rtol=1e-5, atol=1e-5)


def test_gae_truncation_bootstraps_and_termination_does_not():
    r = jnp.zeros((1, 2))
    v = jnp.zeros((1, 2))
    nv = jnp.full((1, 2), 5.0)
    term = jnp.array([[True, False]])
    adv, _ = gae(r, v, nv, term, jnp.array([[True, True]]), 0.9, 0.95)
    np.testing.assert_allclose(adv, [[0.0, 4.5]])


# ---------------------------------------------------------------------------------------------------------
# Probe environments: each isolates one part of the learner

PROBE_CFG = dict(
    num_envs=16, num_steps=8, total_timesteps=16 * 8 * 120, update_epochs=4, num_minibatches=2, hidden=(32,)
)
PROBE_HP = PPOHparams(lr=3e-3, gamma=0.9, ent_coef=0.0, max_grad_norm=1.0)


def train_probe(env_id, **cfg):
    env, params = jaxrl_suite.make(env_id)
    trainer = make_train(PPOConfig(**{**PROBE_CFG, "anneal_lr": False, **cfg}), env, params)
    out = jax.jit(trainer)(jax.random.key(0), PROBE_HP)
    return trainer, out.state


def value_of(trainer, state, obs, critic_obs=None):
    cx = jnp.asarray(obs if critic_obs is None else critic_obs, jnp.float32)
    return np.asarray(trainer.network.apply(state.params, cx, method=trainer.network.value))


def test_probe_two_step_value_is_discounted():
    trainer, state = train_probe("Probe-two_step-discrete-v0")
    v_first, v_second = value_of(trainer, state, [[0.0], [1.0]])
    assert abs(v_second - 1.0) < 0.1 and abs(v_first - 0.9) < 0.1


def test_probe_continuing_bootstraps_through_truncation():
    env, params = jaxrl_suite.make("Probe-continuing-discrete-v0", max_steps_in_episode=5)
    trainer = make_train(
        PPOConfig(**{**PROBE_CFG, "anneal_lr": False, "total_timesteps": 16 * 8 * 250}), env, params
    )
    state = jax.jit(trainer)(jax.random.key(0), PROBE_HP).state
    (v,) = value_of(trainer, state, [[0.0]])
    assert abs(v - 10.0) < 1.0, f"V={v}: truncation must bootstrap (1/(1-0.9) = 10)"


@pytest.mark.parametrize("continuous", [False, True])
def test_probe_obs_dependent_action(continuous):
    kind = "continuous" if continuous else "discrete"
    trainer, state = train_probe(f"Probe-obs_action-{kind}-v0")
    obs = jnp.array([[1.0], [-1.0]])
    action = np.asarray(trainer.act(state, obs, jax.random.key(0), greedy=True))
    if continuous:
        np.testing.assert_allclose(action[:, 0], [1.0, -1.0], atol=0.25)
        v = value_of(trainer, state, obs)
        assert np.all(v > -0.3) and np.all(v <= 0.1)  # optimal reward is 0
    else:
        np.testing.assert_array_equal(action, [1, 0])
        np.testing.assert_allclose(value_of(trainer, state, obs), [1.0, 1.0], atol=0.15)


def test_probe_asymmetric_critic_reads_privileged_observation():
    trainer, state = train_probe("Probe-privileged-discrete-v0", asymmetric_critic=True)
    v = value_of(trainer, state, None, critic_obs=[[1.0], [-1.0]])
    np.testing.assert_allclose(v, [1.0, -1.0], atol=0.15)


# ---------------------------------------------------------------------------------------------------------
# Learning signal and errors


def test_cartpole_learns_within_ci_budget():
    env, params = jaxrl_suite.make("CartPole-v1")
    trainer = make_train(PPOConfig(total_timesteps=60_000), env, params)
    metrics = jax.jit(trainer)(jax.random.key(1)).metrics
    ret = np.asarray(metrics["return"])
    early, late = np.nanmean(ret[:10]), np.nanmean(ret[-10:])
    assert early < 50 and late > 150, f"no clear learning signal: {early:.1f} -> {late:.1f}"


@pytest.mark.parametrize(
    "cfg, hp, match",
    [
        (dict(num_minibatches=5), {}, "does not divide"),
        ({}, dict(lr=-1.0), "invalid hyperparameter lr"),
        ({}, dict(gamma=1.5), "invalid hyperparameter gamma"),
        (dict(total_timesteps=100), {}, "less than one batch"),
        (dict(activation="swish2"), {}, "unknown activation"),
        (dict(shared_torso=True, asymmetric_critic=True), {}, "asymmetric"),
    ],
)
def test_bad_configs_raise_before_compiling(cfg, hp, match):
    env, params = jaxrl_suite.make("CartPole-v1")
    with pytest.raises(ValueError, match=match):
        make_train(PPOConfig(**cfg), env, params)
        PPOHparams(**hp).validate()


def test_action_type_mismatches_raise():
    cartpole, p = jaxrl_suite.make("CartPole-v1")
    with pytest.raises(ValueError, match="continuous PPO needs Box actions"):
        make_train(PPOConfig(continuous=True), cartpole, p)
    with pytest.raises(ValueError, match="log_std_init is a continuous-action option"):
        make_train(PPOConfig(log_std_init=-0.5), cartpole, p)
    with pytest.raises(ValueError, match="asymmetric_critic needs"):
        make_train(PPOConfig(asymmetric_critic=True), cartpole, p)
    with pytest.raises(ValueError, match="unknown environment id 'CartPol-v1'.*CartPole-v1"):
        jaxrl_suite.make("CartPol-v1")


def test_probe_with_shared_torso_and_normalisation():
    """Shared torso, observation and reward normalisation and reward scaling still learn the probe."""
    env, params = jaxrl_suite.make("Probe-obs_action-discrete-v0")
    cfg = PPOConfig(
        **{
            **PROBE_CFG,
            "anneal_lr": False,
            "shared_torso": True,
            "normalize_obs": True,
            "normalize_reward": True,
        }
    )
    trainer = make_train(cfg, env, params)
    state = jax.jit(trainer)(jax.random.key(0), PROBE_HP.replace(reward_scale=5.0)).state
    action = np.asarray(trainer.act(state, jnp.array([[1.0], [-1.0]]), jax.random.key(0), greedy=True))
    np.testing.assert_array_equal(action, [1, 0])
    assert float(state.ret_rms.count) > 1000 and abs(float(state.obs_rms.mean[0])) < 0.2


def test_orthogonal_init_is_orthogonal_and_free_of_lapack():
    """Our initialiser: W^T W = scale^2 I for tall and wide kernels, sign-symmetric entries, and no QR custom
    call under vmap (jaxlib's batched LAPACK QR deadlocks XLA:CPU's 2-thread pool; see networks.orthogonal)."""
    from jaxrl_suite.algos.networks import orthogonal

    init = orthogonal(np.sqrt(2.0))
    for shape in [(146, 64), (64, 64), (4, 64), (64, 1)]:
        w = np.asarray(init(jax.random.key(1), shape))
        gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
        np.testing.assert_allclose(gram, 2.0 * np.eye(gram.shape[0]), atol=1e-5)
    draws = np.asarray(jax.vmap(lambda k: init(k, (8, 8)))(jax.random.split(jax.random.key(2), 256)))
    assert abs(draws.mean()) < 0.02 and abs((draws[:, 0, 0] > 0).mean() - 0.5) < 0.1  # no sign bias
    jaxpr = str(jax.make_jaxpr(jax.vmap(lambda k: init(k, (64, 64))))(jax.random.split(jax.random.key(3), 4)))
    assert not re.search(r"\b(qr|geqrf|householder_product|custom_call)\b", jaxpr)


def test_actor_critic_init_orthogonalises_every_kernel_in_one_loop():
    """ActorCritic.init: each kernel is scale * orthogonal (sqrt 2 hidden, 0.01 policy, 1 value), across
    unequal shapes (asymmetric critic), from one batched Gram-Schmidt loop; biases zero; log-std kept."""
    from jaxrl_suite.algos.networks import ActorCritic

    net = ActorCritic(3, True, hidden=(32, 16), log_std_init=-1.0)
    from jaxrl_suite.prng import fast_key

    args = (fast_key(jax.random.key(0)), jnp.ones((2, 5)), jnp.ones((2, 40)))
    params = jax.jit(net.init)(*args)["params"]
    scales = {"policy_head": 0.01, "value_head": 1.0}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        names = [p.key for p in path]
        w = np.asarray(leaf)
        if names[-1] == "kernel":
            gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
            s2 = scales.get(names[0], np.sqrt(2.0)) ** 2
            np.testing.assert_allclose(gram, s2 * np.eye(len(gram)), atol=1e-5 * max(s2, 1.0))
        elif names[-1] == "bias":
            assert not w.any()
    np.testing.assert_array_equal(np.asarray(params["log_std"]), -1.0)
    assert jax.jit(net.init).lower(*args).as_text().count("stablehlo.while") == 1
    other = jax.jit(net.init)(fast_key(jax.random.key(1)), *args[1:])["params"]
    assert not np.allclose(
        other["actor_torso"]["Dense_1"]["kernel"], params["actor_torso"]["Dense_1"]["kernel"]
    )


def test_minibatch_shuffles_are_uniform_permutations():
    """Each row is a permutation; over many rows every element lands in every position about equally often
    (both the packed-sort path and the large-n fallback)."""
    from jaxrl_suite.algos.ppo import shuffles

    perms = np.asarray(shuffles(jax.random.key(0), 4000, 6))
    assert (np.sort(perms, axis=1) == np.arange(6)).all()
    counts = np.stack([(perms == i).sum(axis=0) for i in range(6)])  # element x position
    chi2 = ((counts - 4000 / 6) ** 2 / (4000 / 6)).sum()
    assert chi2 < 60, chi2  # 25 degrees of freedom: p ~ 1e-4 at 60
    assert len({tuple(r) for r in perms[:200]}) > 150
    big = np.asarray(shuffles(jax.random.key(1), 2, 5000))
    assert (np.sort(big, axis=1) == np.arange(5000)).all() and not (big[0] == big[1]).all()
    odd = np.asarray(shuffles(jax.random.key(2), 3, 500))
    assert (np.sort(odd, axis=1) == np.arange(500)).all()


def test_hparams_validated_before_anything_compiles():
    """Concrete bad hyperparameters raise in ``trainer(key, hp)`` and ``init`` before any tracing."""
    env, params = jaxrl_suite.make("CartPole-v1")
    trainer = make_train(PPOConfig(), env, params)

    def must_not_run(*args, **kwargs):
        raise AssertionError("validation must come before init/run")

    init = trainer.init
    trainer.init, trainer.run = must_not_run, must_not_run
    with pytest.raises(ValueError, match="invalid hyperparameter lr"):
        trainer(jax.random.key(0), PPOHparams(lr=-1.0))
    with pytest.raises(ValueError, match="invalid hyperparameter gamma"):
        init(jax.random.key(0), PPOHparams(gamma=2.0))


def test_return_last20_is_nan_until_20_episodes_then_their_mean():
    """``return_last20``: NaN until 20 episodes have finished in the run, then their mean (one-step probe)."""
    env, params = jaxrl_suite.make("Probe-constant-discrete-v0")
    cfg = PPOConfig(num_envs=2, num_steps=4, total_timesteps=8 * 5, num_minibatches=1, hidden=(8,))
    out = jax.jit(make_train(cfg, env, params))(jax.random.key(0))
    last20 = np.asarray(out.metrics["return_last20"])  # 8 one-step episodes (return 1) per update
    np.testing.assert_array_equal(last20, [np.nan, np.nan, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(out.metrics["return"]), np.ones(5))
    assert int(out.state.recent.count) == 40


# ---------------------------------------------------------------------------------------------------------
# Rendering rollouts


def test_rollout_states_end_on_the_goal():
    """``rollout_states`` runs from the reset state to the state that ended the episode (the agent on the
    goal), which auto-reset would replace; ``states[:argmax(ended)]`` is exactly that episode."""
    from jaxrl_suite.envs.grid import constants

    env, params = jaxrl_suite.make("MiniGrid-Empty-5x5-v0")
    trainer = make_train(PPOConfig(num_envs=1, num_steps=8, total_timesteps=8), env, params)

    def scripted(state, obs, key, greedy=True):
        """Forward until a wall is ahead, then turn right: the shortest path from (1, 1) east to (3, 3)."""
        ahead = obs["image"][:, 3, 5, 0]  # egocentric view: the agent at (3, 6) looks at (3, 5)
        return jnp.where(ahead == constants.WALL, constants.RIGHT, constants.FORWARD)

    trainer.act = scripted
    states, ended = jax.jit(lambda k: rollout_states(trainer, None, k))(jax.random.key(0))
    ended = np.asarray(ended)
    horizon = int(params.max_steps_in_episode)
    assert ended.shape == (horizon + 1,) and states.agent_pos.shape == (horizon + 1, 2)
    n = int(np.argmax(ended))  # what the CLI renders: states[:n]
    assert n == 6 and not ended[:n].any() and ended[n:].all()  # reset + 5 steps
    pos = np.asarray(states.agent_pos)
    np.testing.assert_array_equal(pos[:n], [[1, 1], [2, 1], [3, 1], [3, 1], [3, 2], [3, 3]])
    assert (pos[n:] == [3, 3]).all()  # the final state is held after the end
    frames = jax.vmap(env.render, in_axes=(0, None))(jax.tree.map(lambda x: x[n - 2 : n], states), params)
    assert not np.array_equal(np.asarray(frames[0]), np.asarray(frames[1]))  # the goal frame is its own
