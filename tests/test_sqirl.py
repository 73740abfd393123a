"""SQIRL: collection (frozen greedy policies, then random; only t >= i stored, with Monte-Carlo returns), the
k-head targets, the gradient-step count, (m, k) settings and seeds in one program, and learning checked
exactly with the tabular tools, beside the tabular oracle."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.algos import tabular as tb
from jaxrl_suite.algos.sqirl import SQIRLConfig, SQIRLHparams, make_train
from jaxrl_suite.envs.grid import bridge
from jaxrl_suite.wrappers import StickyActions

TINY = dict(max_episodes=4, max_k=2, buffer_size=256, minibatch_size=16, epochs=2, hidden=(16,))


@pytest.fixture(scope="module")
def empty():
    """MiniGrid-Empty-5x5 under BRIDGE semantics (3 actions), tabulated."""
    env, params = jaxrl_suite.make("MiniGrid-Empty-5x5-v0")
    _, start = env.reset(jax.random.key(0), params)
    mdp, states = bridge.enumerate_mdp(env, start, 3, params)
    game = bridge.Bridge(env, start, 3, horizon=20)
    obs = jax.vmap(game.observe)(jax.tree.map(jnp.asarray, states))
    obs = jnp.concatenate([obs, jnp.zeros_like(obs[:1])])  # the absorbing state's row (never acted in)
    return game, mdp, obs


def test_collection_follows_the_frozen_policies_then_acts_randomly(empty):
    game, _, _ = empty
    trainer = make_train(SQIRLConfig(horizon=6, **TINY), game)
    state = trainer.init(jax.random.key(0), SQIRLHparams(m=4, k=1))
    head = state.frozen["params"]["Dense_0"]
    bias = head["bias"].at[:, 2].set(10.0)  # every frozen network prefers action 2 (forward) on head 1
    state = state.replace(frozen={"params": {**state.frozen["params"], "Dense_0": {**head, "bias": bias}}})
    _, action, _, _, _, alive = trainer.episodes(state, jax.random.key(1), 4, jnp.int32(3), jnp.int32(1),
                                                 jnp.int32(6))  # fmt: skip
    action, alive = np.asarray(action), np.asarray(alive)
    assert (action[:3][alive[:3]] == 2).all(), "greedy on the frozen networks before t = i"
    assert len(set(action[3:][alive[3:]].tolist())) > 1, "uniformly random from t = i on"


def test_only_t_ge_i_is_stored_with_its_monte_carlo_return():
    """Probe two_step: reward 1 at the second step only. At iteration 1 only the t = 1 transitions enter the
    buffer; at iteration 0 both, with returns gamma and 1 (gamma 0.5) and done at the episode's end."""
    env, _ = jaxrl_suite.make("Probe-two_step-discrete-v0")
    trainer = make_train(SQIRLConfig(horizon=2, **TINY), env)
    hp = SQIRLHparams(m=3, k=2, gamma=0.5)
    state = trainer.init(jax.random.key(0), hp)
    state, metrics = jax.jit(trainer.update)(state, hp)
    buf = state.buffer
    assert int(buf.size) == 2 * 3, "two steps of m = 3 episodes"
    ret, done, reward = (np.asarray(x[:6]) for x in (buf.ret, buf.done, buf.reward))
    np.testing.assert_allclose(ret, [0.5] * 3 + [1.0] * 3)  # rows in (t, episode) order
    np.testing.assert_array_equal(done, [0] * 3 + [1] * 3)
    np.testing.assert_array_equal(reward, [0] * 3 + [1] * 3)
    assert int(metrics["grad_steps"]) == math.ceil(6 * TINY["epochs"] / TINY["minibatch_size"])
    state, _ = jax.jit(trainer.update)(state, hp)
    assert int(state.buffer.size) == 6 + 3, "iteration 1 keeps only t >= 1"
    np.testing.assert_allclose(np.asarray(state.buffer.ret[6:9]), 1.0)


def test_head_j_regresses_the_backup_of_head_j_minus_1():
    env, _ = jaxrl_suite.make("Probe-obs-discrete-v0")
    trainer = make_train(SQIRLConfig(horizon=2, **{**TINY, "max_k": 3}), env)
    hp = SQIRLHparams(m=4, k=3, gamma=0.9)
    params = trainer.init(jax.random.key(0), hp).params
    x, nx = jnp.array([[1.0], [-1.0]]), jnp.array([[-1.0], [1.0]])
    batch = (x, jnp.array([0, 1]), jnp.array([0.5, 1.0]), nx, jnp.array([0.0, 1.0]), jnp.array([2.0, 3.0]))
    q, qn = trainer.network.apply(params, x), trainer.network.apply(params, nx)
    taken = q[jnp.arange(2), :, batch[1]]  # [B, K]
    targets = [batch[5], *(batch[2] + 0.9 * (1 - batch[4]) * qn[:, j - 1].max(-1) for j in (1, 2))]
    mse = jnp.stack([((taken[:, j] - targets[j]) ** 2).mean() for j in range(3)])
    loss, scale = trainer.loss(params, batch, jnp.full((3,), jnp.nan), hp)
    np.testing.assert_allclose(
        np.asarray(scale), np.asarray(mse), rtol=1e-5
    )  # the first batch sets the means
    assert float(loss) == pytest.approx(1.0), "each head's loss divided by its running mean"


def test_seeds_and_m_k_settings_train_in_one_program(empty):
    game, _, _ = empty
    trainer = make_train(SQIRLConfig(horizon=4, **TINY), game)
    hp = jax.tree.map(lambda v: jnp.broadcast_to(jnp.asarray(v), (2,)), SQIRLHparams())
    hp = hp.replace(m=jnp.array([2.0, 4.0]), k=jnp.array([1.0, 2.0]))  # a sweep's hparams arrive as floats
    keys = jax.random.split(jax.random.key(0), 2)
    res = jax.jit(jax.vmap(trainer, in_axes=(0, 0)))(keys, hp)
    steps = np.asarray(res.metrics["steps"])[:, -1]
    assert steps[1] == 2 * steps[0], "m = 4 collects twice m = 2's steps (no episode ends early)"
    assert np.isfinite(np.asarray(res.metrics["loss"])).all()
    with pytest.raises(ValueError, match="max_episodes"):
        trainer.init(jax.random.key(0), SQIRLHparams(m=5))


def test_deep_and_tabular_sqirl_find_the_optimal_policy_where_k_1_suffices(empty):
    """Empty-5x5 under BRIDGE semantics (horizon 20; min_k 1): deep SQIRL (m = 32, two seeds in one program)
    and the tabular oracle (m = 10) reach V* exactly, checked by exact policy evaluation. With sticky
    actions (p = 0.25) the oracle's value climbs towards V* as m grows."""
    game, mdp, obs = empty
    assert tb.analyze(mdp, 20, bound=False)["min_k"] == 1
    trainer = make_train(SQIRLConfig(horizon=20, max_episodes=32, max_k=1, buffer_size=20_000), game)
    res = jax.jit(jax.vmap(trainer, in_axes=(0, None)))(
        jax.random.split(jax.random.key(0), 2), SQIRLHparams(m=32, k=1, lr=1e-3)
    )
    with jax.enable_x64(True):
        m_det = tb.model(mdp)
        for s in range(2):
            policy = trainer.policy_table(jax.tree.map(lambda x, s=s: x[s], res.state), obs)
            assert float(tb.policy_value(m_det, policy.astype(jnp.float64))[0, 0]) == 1.0, f"seed {s}"
        oracle = tb.tabular_sqirl(m_det, 20, 10, 1, jax.random.key(0))
        assert float(tb.policy_value(m_det, jax.nn.one_hot(oracle, 3, dtype=jnp.float64))[0, 0]) == 1.0
        m_sticky = tb.model(mdp, 0.25)
        v_star = float(tb.value_iteration(m_sticky, 20).v_star[0, 0])
        values = []
        for m in (10, 1000):
            pol = tb.tabular_sqirl(m_sticky, 20, m, 1, jax.random.key(1))
            values.append(float(tb.policy_value(m_sticky, jax.nn.one_hot(pol, 3, dtype=jnp.float64))[0, 0]))
    assert values[0] < values[1] and v_star - values[1] < 5e-3, (values, v_star)


def test_sticky_sqirl_reaches_the_optimal_return_where_k_1_suffices(empty):
    """Sticky Empty-5x5 (p = 0.25, horizon 8, min_k 1 in the sticky model): the tabular oracle (m = 1000)
    reaches V* within 1e-4; deep SQIRL (m = 1000, 4 seeds in one program) reaches it on at least one seed and
    beats the random policy on every seed. Deep SQIRL is not reliable here: ``experiments/bench_sqirl.py``
    measured 1 of 3 seeds for ours and 1 of 3 for the reference implementation at these settings (and 2 of 4
    each without stickiness), so the test asks for what the reference does, not more."""
    game, mdp, _ = empty
    T, m = 8, 1000
    sticky_game = StickyActions(bridge.Bridge(game.env, game.start, 3, horizon=T), 0.25)
    with jax.enable_x64(True):
        model = tb.model(mdp, 0.25)
        vals = tb.value_iteration(model, T)
        v_star, v_rand = float(vals.v_star[0, 0]), float(vals.v_rand[0, 0])
        assert tb.min_k(model, vals) == 1
        oracle = tb.tabular_sqirl(model, T, m, 1, jax.random.key(1))
        oracle_value = float(tb.policy_value(model, jax.nn.one_hot(oracle, 3, dtype=jnp.float64))[0, 0])
    assert oracle_value >= v_star - tb.PRECISION, (oracle_value, v_star)
    cfg = SQIRLConfig(horizon=T, max_episodes=m, max_k=1, buffer_size=m * T * T, hidden=(64, 64))
    trainer = make_train(cfg, sticky_game)
    res = jax.jit(jax.vmap(trainer, in_axes=(0, None)))(
        jax.random.split(jax.random.key(0), 4), SQIRLHparams(m=m, k=1, lr=1e-3)
    )
    _, _, obs = empty
    values = []
    for s in range(4):
        table = trainer.policy_table(jax.tree.map(lambda x, s=s: x[s], res.state), obs)
        with jax.enable_x64(True):  # the policy does not see the previous action: one row per (s, prev)
            values.append(
                float(tb.policy_value(model, jnp.repeat(table, 3, axis=1).astype(jnp.float64))[0, 0])
            )
    values = np.array(values)
    assert (values >= v_star - tb.PRECISION).sum() >= 1 and (values > v_rand).all(), (values, v_star, v_rand)
