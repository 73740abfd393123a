"""Drift functions: mirror-learning constraints on a grid, PPO/DPO identities of a zero LPO net, TA-LPO at n = 0."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.algos import drift as dr
from jaxrl_suite.algos.drift_ppo import DriftConfig, DriftHparams, load_drift_params, make_train
from jaxrl_suite.algos.ppo import PPOHparams, clipped_surrogate

# The drift-landscape grid of Lu et al. 2022: r in [0.2, 3] x A in [-3, 3], 301 x 61 points (r = 1 on it).
R = np.linspace(0.2, 3.0, 281 + 20)
A = np.linspace(-3.0, 3.0, 61)
RR, AA = (jnp.asarray(x, jnp.float32) for x in np.meshgrid(R, A))
HP = DriftHparams()


def random_net(seed: int, temporal: bool, hidden: int = 32, scale: float = 5.0) -> dict:
    """A random drift network with weights x scale (the spec's stress test: large outputs everywhere)."""
    k1, k2 = jax.random.split(jax.random.key(seed))
    n_in = dr.num_inputs(temporal)
    return {
        "w_in": scale * jax.random.normal(k1, (n_in, hidden)) / np.sqrt(n_in),
        "w_out": scale * jax.random.normal(k2, (hidden,)) / np.sqrt(hidden),
    }


def drift_fn(kind: str, params=None, progress: float = 0.0, hp=HP):
    return lambda r, a: dr.drift_value(kind, r, a, hp, jnp.float32(progress), params)


def assert_mirror_constraints(fn, name: str, must_be_active: bool = True):
    """D >= 0 on the grid; D(1, A) = 0 and dD/dr(1, A) = 0 exactly, for every A; D not identically 0."""
    d = np.asarray(fn(RR, AA))
    assert np.isfinite(d).all(), name
    assert d.min() >= 0.0, f"{name}: negative drift {d.min()}"
    if must_be_active:
        assert d.max() > 1e-3, f"{name}: drift is zero everywhere, the test would prove nothing"
    ones = jnp.ones_like(jnp.asarray(A, jnp.float32))
    a = jnp.asarray(A, jnp.float32)
    np.testing.assert_array_equal(np.asarray(fn(ones, a)), 0.0, err_msg=name)
    grad_r = jax.vmap(jax.grad(lambda r, a_: fn(r, a_)))(ones, a)
    np.testing.assert_array_equal(np.asarray(grad_r), 0.0, err_msg=f"{name}: dD/dr at r = 1")


@pytest.mark.parametrize("kind", ["ppo", "dpo"])
def test_closed_form_drifts_satisfy_constraints(kind):
    assert_mirror_constraints(drift_fn(kind), kind)


@pytest.mark.parametrize(
    "base", [(1.0, 0.0), (0.0, 1.0), (0.0, 0.0)], ids=["ppo-init", "dpo-init", "no-base"]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_lpo_nets_satisfy_constraints(seed, base):
    hp = HP.replace(drift_ppo=base[0], drift_dpo=base[1])
    assert_mirror_constraints(drift_fn("lpo", random_net(seed, False), hp=hp), f"lpo seed {seed}")


@pytest.mark.parametrize("progress", [0.0, 0.37, 1.0])
def test_random_ta_lpo_nets_satisfy_constraints_at_every_progress(progress):
    for seed in range(3):
        assert_mirror_constraints(
            drift_fn("ta_lpo", random_net(seed, True), progress), f"ta_lpo {seed}@{progress}"
        )


def test_learned_drift_is_zero_on_a_neighbourhood_of_ratio_one():
    """The dead zone: a large network still gives D = 0 for r within 1e-6 of 1 (so the gradient is 0 there)."""
    params = random_net(3, False, scale=5.0)
    r = jnp.asarray(1.0 + np.linspace(-1e-6, 1e-6, 21), jnp.float32)
    a = jnp.full_like(r, 2.5)
    np.testing.assert_array_equal(np.asarray(drift_fn("lpo", params)(r, a)), 0.0)


def test_features_all_vanish_at_ratio_one():
    x = dr.features(jnp.ones(7), jnp.linspace(-3, 3, 7), 0.6, temporal=True)
    assert x.shape == (7, 16)
    np.testing.assert_array_equal(np.asarray(x), 0.0)


# ---------------------------------------------------------------------------------------------------------
# Identities


def _loss_and_grads(fn):
    loss = lambda r, a: jnp.sum(dr.drift_objective(r, a, fn(r, a)))  # noqa: E731
    return np.asarray(loss(RR, AA)), [np.asarray(g) for g in jax.grad(loss, argnums=(0, 1))(RR, AA)]


@pytest.mark.parametrize("w_in", ["zeros", "random"])
def test_zero_output_lpo_with_ppo_init_is_exactly_ppo(w_in):
    params = dr.init_params(None if w_in == "zeros" else jax.random.key(0), 16, temporal=False)
    assert not np.any(np.asarray(params["w_out"]))
    lpo_loss, lpo_grads = _loss_and_grads(drift_fn("lpo", params))
    ppo_loss, ppo_grads = _loss_and_grads(drift_fn("ppo"))
    np.testing.assert_array_equal(lpo_loss, ppo_loss)
    for g_lpo, g_ppo in zip(lpo_grads, ppo_grads, strict=True):
        np.testing.assert_array_equal(g_lpo, g_ppo)
    # the same per-sample values as PPO's clipped surrogate in algos/ppo.py (up to float rounding)
    per_sample = dr.drift_objective(RR, AA, drift_fn("lpo", params)(RR, AA))
    np.testing.assert_allclose(per_sample, clipped_surrogate(RR, AA, PPOHparams(), 0.0), atol=1e-6)
    g_clip = jax.grad(lambda r: jnp.sum(clipped_surrogate(r, AA, PPOHparams(), 0.0)))(RR)
    np.testing.assert_allclose(lpo_grads[0], g_clip, atol=1e-6)


def test_zero_output_lpo_with_dpo_init_is_exactly_dpo():
    params = dr.init_params(jax.random.key(1), 8, temporal=True)
    hp = HP.replace(drift_ppo=0.0, drift_dpo=1.0)
    ta = np.asarray(drift_fn("ta_lpo", params, 0.5, hp)(RR, AA))
    np.testing.assert_array_equal(ta, np.asarray(drift_fn("dpo")(RR, AA)))


def test_dpo_matches_its_closed_form_by_hand():
    # A >= 0: (r-1)A - 2 tanh((r-1)A/2); A < 0: log(r)A - 0.6 tanh(log(r)A/0.6); relu of each
    r, a = 1.7, 1.5
    x = (r - 1) * a
    assert float(dr.dpo_drift(jnp.float32(r), jnp.float32(a))) == pytest.approx(
        x - 2 * np.tanh(x / 2), rel=1e-5
    )
    r, a = 0.4, -2.0
    x = np.log(r) * a
    assert float(dr.dpo_drift(jnp.float32(r), jnp.float32(a))) == pytest.approx(
        x - 0.6 * np.tanh(x / 0.6), rel=1e-5
    )
    assert float(dr.dpo_drift(jnp.float32(1.3), jnp.float32(-1.0))) == 0.0  # log r * A < 0 -> relu gives 0


def test_ta_lpo_inputs_at_progress_zero_reduce_to_lpo():
    x_ta = dr.features(RR, AA, 0.0, temporal=True)
    x_lpo = dr.features(RR, AA)
    np.testing.assert_array_equal(np.asarray(x_ta[..., :8]), np.asarray(x_lpo))
    np.testing.assert_array_equal(np.asarray(x_ta[..., 8:]), 0.0)
    ta = random_net(4, True)
    lpo = {"w_in": ta["w_in"][:8], "w_out": ta["w_out"]}
    at_zero = np.asarray(drift_fn("ta_lpo", ta, 0.0)(RR, AA))
    np.testing.assert_allclose(at_zero, np.asarray(drift_fn("lpo", lpo)(RR, AA)), rtol=1e-6, atol=1e-6)
    at_end = np.asarray(drift_fn("ta_lpo", ta, 1.0)(RR, AA))
    assert np.abs(at_end - at_zero).max() > 1e-2, (
        "the temporal inputs must change the drift later in training"
    )


@pytest.mark.parametrize("progress", [0.0, 0.37, 1.0])
def test_ta_lpo_with_zero_progress_rows_is_lpo_at_every_progress(progress):
    """The progress rows are the only way n/N enters: zeroed, TA-LPO is LPO (drift and loss gradient)."""
    lpo = random_net(5, False)
    ta = {"w_in": jnp.concatenate([lpo["w_in"], jnp.zeros_like(lpo["w_in"])]), "w_out": lpo["w_out"]}
    np.testing.assert_allclose(
        np.asarray(drift_fn("ta_lpo", ta, progress)(RR, AA)),
        np.asarray(drift_fn("lpo", lpo)(RR, AA)),
        rtol=1e-6,
        atol=1e-6,
    )
    loss = lambda kind, net: (
        lambda r: dr.drift_objective(  # noqa: E731
            r, AA, dr.drift_value(kind, r, AA, HP, jnp.float32(progress), net)
        ).mean()
    )
    np.testing.assert_allclose(
        np.asarray(jax.grad(loss("ta_lpo", ta))(RR)),
        np.asarray(jax.grad(loss("lpo", lpo))(RR)),
        rtol=1e-5,
        atol=1e-9,
    )


@pytest.mark.parametrize("horizon, chunks", [(5, (5,)), (7, (3, 4))], ids=["5-updates", "7-updates-2-chunks"])
def test_progress_seen_by_the_policy_loss_is_update_over_num_updates(horizon, chunks):
    """Inside the compiled loop the objective sees n/N at update n (0 first), across the runtime's chunks."""
    from jaxrl_suite.algos import ppo

    env, params = jaxrl_suite.make("CartPole-v1")
    cfg = ppo.PPOConfig(
        num_envs=2, num_steps=4, total_timesteps=8 * horizon, update_epochs=2, num_minibatches=2
    )
    # a loss that *is* the progress: its per-update metric reports what the objective received (no learning)
    trainer = ppo.Trainer(cfg, env, params, policy_loss=lambda r, a, hp, p: jnp.zeros_like(r) + p)
    state = trainer.init(jax.random.key(0))
    seen = []
    for n in chunks:
        state, metrics = trainer.run(state, ppo.PPOHparams(), n)
        seen.append(np.asarray(metrics["policy_loss"]))
    np.testing.assert_allclose(np.concatenate(seen), np.arange(horizon) / horizon, atol=1e-7)


# ---------------------------------------------------------------------------------------------------------
# The drift learner module: early errors and weights files


@pytest.mark.parametrize(
    "cfg, match",
    [
        (dict(drift="trpo"), "unknown drift 'trpo'"),
        (dict(drift="dpo", drift_weights="w.json"), "drift_weights is for learned drifts"),
        (dict(drift="lpo", drift_hidden=0), "drift_hidden must be >= 1"),
        (dict(drift="lpo", drift_weights="/nonexistent/w.json"), "does not exist"),
        (dict(drift="dpo", num_minibatches=7), "does not divide"),
    ],
)
def test_bad_drift_configs_raise_before_compiling(cfg, match):
    env, params = jaxrl_suite.make("CartPole-v1")
    with pytest.raises(ValueError, match=match):
        make_train(DriftConfig(**cfg), env, params)


def test_bad_drift_hparams_raise():
    with pytest.raises(ValueError, match="invalid hyperparameter dpo_alpha"):
        DriftHparams(dpo_alpha=0.0).validate()
    with pytest.raises(ValueError, match="invalid hyperparameter lr"):
        DriftHparams(lr=-1.0).validate()
    with pytest.raises(ValueError, match="use DriftConfig.drift_weights"):
        DriftHparams(drift_params="weights.json").validate()
    with pytest.raises(ValueError, match="NaN or inf"):
        DriftHparams(drift_params={"w_in": jnp.full((8, 2), jnp.nan), "w_out": jnp.zeros(2)}).validate()


def test_wrong_network_shape_is_refused_when_tracing():
    env, params = jaxrl_suite.make("CartPole-v1")
    trainer = make_train(DriftConfig(drift="ta_lpo", drift_hidden=4, total_timesteps=512), env, params)
    bad = DriftHparams(drift_params=dr.init_params(None, 4, temporal=False))  # 8 inputs, TA-LPO needs 16
    with pytest.raises(ValueError, match="ta_lpo drift network needs w_in \\[16, H\\]"):
        jax.eval_shape(trainer, jax.random.key(0), bad)


def test_weights_file_round_trip(tmp_path):
    params = random_net(5, False, hidden=6, scale=1.0)
    path = tmp_path / "drift.json"
    path.write_text(
        json.dumps(
            {
                "drift": "lpo",
                "hidden": 6,
                "drift_params": {k: np.asarray(v).tolist() for k, v in params.items()},
            }
        )
    )
    loaded, info = load_drift_params(path)
    assert info == {"drift": "lpo", "hidden": 6}
    np.testing.assert_allclose(loaded["w_in"], params["w_in"], rtol=1e-6)
    env, env_params = jaxrl_suite.make("CartPole-v1")
    trainer = make_train(DriftConfig(drift="lpo", drift_hidden=6, drift_weights=str(path)), env, env_params)
    np.testing.assert_allclose(trainer.drift_params(DriftHparams())["w_out"], params["w_out"], rtol=1e-6)
    with pytest.raises(ValueError, match="holds a 'lpo' drift, not 'ta_lpo'"):
        make_train(DriftConfig(drift="ta_lpo", drift_hidden=6, drift_weights=str(path)), env, env_params)
    with pytest.raises(ValueError, match="has 6 hidden units but the config says drift_hidden=8"):
        make_train(DriftConfig(drift="lpo", drift_hidden=8, drift_weights=str(path)), env, env_params)
