"""Meta-training: the ES maximises (sign), one generation is deterministic, exact resume, CRN seeds, sharding,
a trained drift keeps the constraints, and (slow) DPO >= PPO - 2 SE on CartPole over 8 seeds.

One tiny ``DriftMeta`` (4 members x 1 seed, 6 inner updates) is compiled once for the whole module.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from meta_configs import TINY, TINY_INNER
from runs import trees_equal
from subprocesses import child_env

import jaxrl_suite
from jaxrl_suite import cli_meta
from jaxrl_suite.algos import drift as dr
from jaxrl_suite.algos.drift_ppo import DriftConfig, DriftHparams
from jaxrl_suite.algos.meta import DriftMeta, ESConfig, Evolution, meta_train
from jaxrl_suite.algos.meta import loop as meta_loop
from jaxrl_suite.learner import check_learner
from jaxrl_suite.runtime import CheckpointError
from jaxrl_suite.runtime.rundir import RunDirError
from jaxrl_suite.stats import ci95, ci95_summary, finite_or_none, finite_stat, nanmean, welch_diff


@pytest.fixture(scope="module")
def meta():
    return DriftMeta(TINY)


@pytest.fixture(scope="module")
def initial(meta):
    return meta.init(jax.random.key(0))


# ---------------------------------------------------------------------------------------------------------
# The evolution strategy alone


def test_es_maximises_a_quadratic_and_samples_antithetic_pairs():
    target = jnp.array([1.5, -2.0, 0.5, 3.0, -1.0])
    evo = Evolution(ESConfig(population=16, sigma=0.1, lr=0.1), jnp.zeros(5))
    state = evo.init(jax.random.key(0), jnp.zeros(5))
    fit = lambda pop, k: (-jnp.sum((pop - target) ** 2, axis=-1), None)  # noqa: E731  (maximised)
    step = jax.jit(lambda s, k: evo.step(s, k, fit))
    dist0 = float(jnp.linalg.norm(evo.mean(state) - target))
    for g in range(150):
        state, fitness, _, _ = step(state, jax.random.key(g))
    dist = float(jnp.linalg.norm(evo.mean(state) - target))
    assert dist < 0.1 * dist0, f"ES did not climb the quadratic: distance {dist0:.2f} -> {dist:.2f}"


def test_es_fits_a_temporally_aware_drift_with_a_known_optimum():
    """OpenES on the drift network itself: recover a TA-LPO target drift (error 0 at the target weights),
    including how it changes with training progress, from the PPO-init start meta-training uses."""
    hp = DriftHparams()
    r, a, p = (
        x.ravel()
        for x in jnp.meshgrid(jnp.linspace(0.5, 1.8, 14), jnp.linspace(-2, 2, 9), jnp.linspace(0, 1, 5))
    )
    target = dr.init_params(jax.random.key(1), 4, True, scale=2.0)
    target["w_out"] = jnp.array([0.6, -0.4, 0.3, -0.5])
    drift = lambda net, prog=p: dr.drift_value("ta_lpo", r, a, hp, prog, net)  # noqa: E731
    goal = drift(target)
    temporal = lambda net: jnp.sqrt(jnp.mean((drift(net) - drift(net, jnp.zeros_like(p))) ** 2))  # noqa: E731
    evo = Evolution(ESConfig(population=32, sigma=0.05, lr=0.03), target)
    state = evo.init(jax.random.key(0), dr.init_params(jax.random.key(2), 4, True))
    fit = lambda pop, k: (-jax.vmap(lambda net: jnp.mean((drift(net) - goal) ** 2))(pop), None)  # noqa: E731
    step = jax.jit(lambda s, k: evo.step(s, k, fit))
    error = lambda s: float(jnp.mean((drift(evo.mean(s)) - goal) ** 2))  # noqa: E731
    before = error(state)
    for g in range(150):
        state, *_ = step(state, jax.random.key(g))
    assert error(state) < 0.01 * before, f"ES did not fit the drift: {before:.4f} -> {error(state):.5f}"
    assert float(temporal(evo.mean(state))) == pytest.approx(float(temporal(target)), rel=0.15)


def test_es_pairs_are_exactly_antithetic():
    evo = Evolution(ESConfig(population=6, sigma=0.2), {"a": jnp.zeros(3), "b": jnp.zeros(())})
    mean = {"a": jnp.array([1.0, 2.0, 3.0]), "b": jnp.array(-1.0)}
    state = evo.init(jax.random.key(1), mean)
    pop, _ = evo.es.ask(jax.random.key(2), state, evo.params)
    for name in ("a", "b"):
        np.testing.assert_allclose(
            pop[name][:3] + pop[name][3:], 2 * np.broadcast_to(mean[name], pop[name][:3].shape), rtol=1e-6
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(es=ESConfig(population=5)), "even number"),
        (dict(crn="sometimes"), "unknown crn mode"),
        (dict(envs=("CartPol-v1",)), "unknown environment id"),
        (dict(drift="dpo"), "learns a network drift"),
        (dict(base="trpo"), "unknown base drift"),
        (dict(fitness_tail=0.0), "fitness_tail"),
        (dict(es=ESConfig(sigma_decay=1.5)), "sigma_decay"),
    ],
)
def test_bad_meta_configs_raise_before_compiling(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DriftMeta(dataclasses.replace(TINY, **kwargs))


def test_cli_options_build_the_config_and_reject_bad_values():
    ap = cli_meta.add_arguments(__import__("argparse").ArgumentParser())
    cfg, gens = cli_meta.config_from_args(
        ap.parse_args(
            [
                "--drift",
                "ta_lpo",
                "--population",
                "8",
                "--total-steps",
                "4096",
                "--generations",
                "3",
                "--env",
                "Acrobot-v1",
            ]
        )
    )
    assert (cfg.drift, cfg.es.population, cfg.inner.total_timesteps, gens, cfg.envs) == (
        "ta_lpo",
        8,
        4096,
        3,
        ("Acrobot-v1",),
    )
    assert cfg.inner_config.drift == "ta_lpo" and cfg.inner_config.drift_hidden == 16
    with pytest.raises(ValueError, match="even number"):
        cli_meta.config_from_args(ap.parse_args(["--population", "7"]))


# ---------------------------------------------------------------------------------------------------------
# Generations on a tiny inner task


def test_one_generation_is_deterministic_under_its_key(meta, initial):
    a, row_a = meta.step(initial, jax.random.key(7))
    b, row_b = meta.step(initial, jax.random.key(7))
    c, _ = meta.step(initial, jax.random.key(8))
    assert trees_equal(a, b) and row_a["fitness_mean"] == row_b["fitness_mean"]
    assert int(a.generation) == 1 and row_a["nan_members"] == 0 and row_a["fitness_mean"] > 0
    assert row_a["fitness_std"] > 0, "the members' fitness must differ, or tell has nothing to rank"
    assert not np.allclose(a.es.mean, initial.es.mean), "tell did not move the mean"
    assert not np.allclose(a.es.mean, c.es.mean), "a different key must give a different generation"


def with_crn(meta: DriftMeta, mode: str) -> DriftMeta:
    """The same (already built) problem under another common-random-numbers mode, without rebuilding."""
    copy = object.__new__(DriftMeta)
    copy.__dict__.update(meta.__dict__, config=dataclasses.replace(meta.config, crn=mode))
    return copy


def test_crn_modes_share_seeds_as_documented(meta):
    base = jax.random.key(3)
    data = lambda k: np.asarray(jax.random.key_data(k)).reshape(-1, 2)  # noqa: E731  one row per inner run
    expected = {"fixed": (True, True), "generation": (True, False), "off": (False, False)}
    for mode, (shared_by_members, same_next_generation) in expected.items():
        m = with_crn(meta, mode)
        g0, g1 = data(m.train_keys(jax.random.key(10), base)), data(m.train_keys(jax.random.key(11), base))
        assert (g0 == g0[:1]).all() == shared_by_members, mode
        assert np.array_equal(g0, g1) == same_next_generation, mode
    held_out = data(meta.eval_keys(base))
    train = data(with_crn(meta, "fixed").train_keys(jax.random.key(10), base))
    assert not (held_out[:, None] == train[None]).all(-1).any(), (
        "held-out seeds must differ from training seeds"
    )


def test_ppo_is_a_zero_network_and_methods_share_one_program(meta):
    keys = meta.eval_keys(jax.random.key(1))
    zero = dr.init_params(jax.random.key(5), TINY.hidden, temporal=True)  # random w_in, zero w_out
    out = meta.evaluate(
        {
            "ppo": meta.method_hparams("ppo"),
            "zero-net": meta.method_hparams("learned", zero),
            "dpo": meta.method_hparams("dpo"),
        },
        keys,
    )
    np.testing.assert_array_equal(out["ppo"]["return"], out["zero-net"]["return"])
    np.testing.assert_array_equal(out["ppo"]["final"], out["zero-net"]["final"])
    np.testing.assert_array_equal(out["ppo"]["policy_loss"], out["zero-net"]["policy_loss"])
    assert not np.array_equal(out["ppo"]["policy_loss"], out["dpo"]["policy_loss"]), "DPO is another learner"
    assert out["ppo"]["return"].shape == (1, 2, TINY_INNER.num_updates)


@pytest.fixture(scope="module")
def whole(meta, tmp_path_factory):
    """Two generations in the runtime loop, uninterrupted (shared by the resume and the sharding tests)."""
    out = tmp_path_factory.mktemp("meta") / "a"
    return meta_train(meta, jax.random.key(2), 2, out_dir=out, progress=False, final_eval=False, eval_every=2)


def test_meta_training_runs_in_the_runtime_loop(meta, whole):
    learner = meta_loop._learner(meta, 2, jax.random.key(2))
    check_learner(learner)
    assert learner._runtime_cache, "meta_train must compile its generations through train_runs"
    files = {p.name for p in whole.out_dir.iterdir()}
    assert {"run.json", "metrics.jsonl", "checkpoints", "drift.json", "meta_metrics.jsonl"} <= files
    rows = [json.loads(line) for line in (whole.out_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["update"] for r in rows] == [0, 1] and rows[1]["steps"] == 2 * learner.config.batch_size
    # the per-chunk hook evaluates the ES mean on held-out seeds every eval_every generations
    assert "eval_fitness" not in whole.history[0] and np.isfinite(whole.history[1]["eval_fitness"])
    held_out = meta.evaluate(
        {"m": meta.method_hparams("learned", whole.drift_params)}, meta.eval_keys(jax.random.key(2))
    )
    assert whole.history[1]["eval_fitness"] == pytest.approx(float(np.mean(nanmean(held_out["m"]["final"]))))
    np.testing.assert_allclose(
        [r["fitness_mean"][0] for r in rows], [h["fitness_mean"] for h in whole.history]
    )
    one, row = meta.step(meta.init(jax.random.key(2)))  # the eager generation equals the compiled one
    two, _ = meta.step(one)
    assert row["fitness_mean"] == pytest.approx(whole.history[0]["fitness_mean"], rel=1e-6)
    np.testing.assert_allclose(np.asarray(two.es.mean), np.asarray(whole.state.es.mean), rtol=1e-5, atol=1e-7)
    with pytest.raises(RunDirError, match="not empty"):  # the runtime's trust rules hold for meta-training
        meta_train(meta, jax.random.key(2), 2, out_dir=whole.out_dir, progress=False)


def test_resume_equals_uninterrupted_and_refuses_another_run(meta, whole, tmp_path):
    key = jax.random.key(2)
    part = meta_train(meta, key, 2, out_dir=tmp_path / "b", progress=False, stop_after=1, final_eval=False)
    assert part.interrupted and int(part.state.generation) == 1
    resumed = meta_train(meta, key, 2, out_dir=tmp_path / "b", resume=True, progress=False, final_eval=False)
    assert int(resumed.state.generation) == 2 and not resumed.interrupted
    assert trees_equal(whole.state, resumed.state)
    assert [r["fitness_mean"] for r in whole.history] == [r["fitness_mean"] for r in resumed.history]
    saved = json.loads((tmp_path / "b" / "drift.json").read_text())
    np.testing.assert_allclose(saved["drift_params"]["w_out"], resumed.drift_params["w_out"], rtol=1e-6)
    other = DriftMeta(dataclasses.replace(TINY, hidden=5))
    with pytest.raises(CheckpointError, match="different run"):
        meta_train(other, key, 2, out_dir=tmp_path / "b", resume=True, progress=False)


def test_trained_drift_keeps_the_constraints(meta, initial):
    state, _ = meta.step(initial, jax.random.key(4))
    state, _ = meta.step(state, jax.random.key(5))
    trained = meta.mean_params(state)
    assert np.abs(trained["w_out"]).max() > 0, "after two generations the mean should have left zero"
    stretched = {"w_in": trained["w_in"], "w_out": trained["w_out"] * 1e3}  # exaggerate what was learned
    r, a = (
        jnp.asarray(x, jnp.float32) for x in np.meshgrid(np.linspace(0.2, 3, 301), np.linspace(-3, 3, 61))
    )
    for params in (trained, stretched):
        for progress in (0.0, 0.5, 1.0):
            fn = lambda r_, a_, p=params, n=progress: dr.drift_value(  # noqa: E731
                "ta_lpo", r_, a_, meta.hparams, jnp.float32(n), p
            )
            assert float(jnp.min(fn(r, a))) >= 0.0
            ones, adv = jnp.ones(61), jnp.linspace(-3.0, 3.0, 61)
            np.testing.assert_array_equal(np.asarray(fn(ones, adv)), 0.0)
            np.testing.assert_array_equal(np.asarray(jax.vmap(jax.grad(fn))(ones, adv)), 0.0)


# ---------------------------------------------------------------------------------------------------------
# Statistics (jaxrl_suite.stats, shared with experiments/eval_drift.py)


def test_ci95_matches_a_hand_computed_student_t_interval():
    # [1, 2, 3, 4]: mean 2.5, s^2 = (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3, se = sqrt(5/3) / 2 = 0.6454972,
    # t(0.975, 3 dof) = 3.1824463 (tables) -> half-width 2.0542603. [0, 10]: se = sqrt(50) / sqrt(2) = 5,
    # t(0.975, 1 dof) = 12.7062047 -> 63.5310237. A constant row (one NaN dropped) has half-width 0.
    x = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, np.nan, 2.0], [0.0, np.nan, 10.0, np.nan]])
    mean, half = ci95(x)
    np.testing.assert_allclose(mean, [2.5, 2.0, 5.0])
    np.testing.assert_allclose(half, [2.0542603, 0.0, 63.5310237], rtol=1e-6)
    mean0, half0 = ci95(x.T, axis=0)  # any axis
    np.testing.assert_allclose(mean0, mean)
    np.testing.assert_allclose(half0, half)
    assert ci95_summary(x[2]) == {
        "mean": 5.0,
        "ci95": pytest.approx(63.5310237),
        "per_seed": [0.0, None, 10.0, None],
    }


def test_welch_diff_matches_scipys_unequal_variance_interval():
    from scipy import stats

    a, b = np.array([0.36, 0.38, 0.43, np.nan]), np.array([0.43, 0.25, 0.26, 0.31, 0.05])
    got = welch_diff(a, b)
    ref = stats.ttest_ind(a[:3], b, equal_var=False).confidence_interval(0.95)
    assert got["difference"] == pytest.approx(a[:3].mean() - b.mean())
    assert got["difference"] - got["ci95"] == pytest.approx(ref.low)
    assert got["difference"] + got["ci95"] == pytest.approx(ref.high)
    assert welch_diff([1.0, 1.0], [0.0, 0.0]) == {"difference": 1.0, "ci95": 0.0, "dof": 2.0}
    assert welch_diff([1.0], [0.0, 2.0]) == {"difference": 0.0, "ci95": None, "dof": None}


def test_nan_tolerant_helpers_stay_json_ready():
    with np.errstate(all="raise"):  # no empty-slice warnings
        np.testing.assert_array_equal(nanmean(np.array([[np.nan, np.inf], [1.0, np.nan]])), [np.nan, 1.0])
    assert finite_or_none(np.float32(1.5)) == 1.5 and finite_or_none(np.nan) is None
    assert finite_or_none(-np.inf) is None
    assert finite_stat(np.nanmax, np.array([np.nan, 3.0])) == 3.0
    assert finite_stat(np.nanmax, np.array([np.nan, np.nan])) is None


# ---------------------------------------------------------------------------------------------------------
# Sharding the population over devices

SHARDED_SCRIPT = """
import json, jax, numpy as np
from meta_configs import TINY
from jaxrl_suite.algos.meta import DriftMeta, meta_train
res = meta_train(DriftMeta(TINY), jax.random.key(2), 2, progress=False, final_eval=False)
print(json.dumps({"devices": res.summary["devices"], "mean": np.asarray(res.state.es.mean).tolist(),
                  "fitness": [h["fitness_mean"] for h in res.history]}))
"""


def test_population_sharded_over_four_devices_equals_one_device(whole):
    """The runtime loop shards the population over 4 devices; generations equal the 1-device run's."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = child_env(4)
    env["PYTHONPATH"] = os.pathsep.join([here, env.get("PYTHONPATH", "")])  # the tests' support modules
    root = os.path.dirname(here)
    proc = subprocess.run(
        [sys.executable, "-c", SHARDED_SCRIPT], env=env, cwd=root, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    four = json.loads(proc.stdout.strip().splitlines()[-1])
    assert four["devices"] == 4 and len(jax.devices()) == 1
    assert four["fitness"] == pytest.approx([h["fitness_mean"] for h in whole.history], rel=1e-5)
    np.testing.assert_allclose(four["mean"], np.asarray(whole.state.es.mean), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------------------------
# Slow: DPO vs PPO on CartPole (a tie is the expectation, as in Lu et al. 2022)


@pytest.mark.slow
def test_dpo_at_least_ppo_minus_two_standard_errors_on_cartpole():
    from jaxrl_suite.algos import drift_ppo, ppo
    from jaxrl_suite.runtime.plots import forward_fill

    env, params = jaxrl_suite.make("CartPole-v1")
    common = dict(num_envs=8, num_steps=128, total_timesteps=100_000, update_epochs=4, num_minibatches=4)
    keys = jax.random.split(jax.random.key(0), 8)
    finals = {}
    for name, trainer, hp in [
        ("ppo", ppo.make_train(ppo.PPOConfig(**common), env, params), ppo.PPOHparams()),
        ("dpo", drift_ppo.make_train(DriftConfig(drift="dpo", **common), env, params), DriftHparams()),
    ]:
        ret = jax.jit(jax.vmap(trainer, in_axes=(0, None)))(keys, hp).metrics["return"]
        finals[name] = forward_fill(np.asarray(ret))[:, -5:].mean(axis=1)
    se = np.sqrt(sum(np.var(f, ddof=1) / len(f) for f in finals.values()))
    assert finals["dpo"].mean() >= finals["ppo"].mean() - 2 * se, {k: v.mean() for k, v in finals.items()}
    assert finals["ppo"].mean() > 150, "PPO should learn CartPole in 1e5 steps"
