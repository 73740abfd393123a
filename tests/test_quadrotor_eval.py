"""What experiments/quadrotor_hover.py's evaluations measure: a flight stops at its first termination, a crashed
drone is excluded from the error figures, and an evaluation without survivors reports no error at all."""

from __future__ import annotations

import json
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from experiment_scripts import experiment

from jaxrl_suite.envs.quadrotor import dynamics as dyn
from jaxrl_suite.envs.quadrotor.hover import Hover


@pytest.fixture(scope="module")
def script():
    return experiment("quadrotor_hover")


def test_a_crashed_drone_is_frozen_and_left_out_of_the_survivor_error(script):
    """Four drones start level on target: the even ones hold the hover command, the odd ones cut their
    motors, fall through the 0.6 m floor and are held there."""
    env = Hover()
    params = env.default_params
    hover = float(dyn.rpm_to_action(params.dynamics, dyn.hover_rpm(params.dynamics)))
    quiet = dict(init_guidance=1.0, init_max_linear_velocity=0.0, init_max_angular_velocity=0.0)
    quiet |= dict(force_std=0.0, torque_std=0.0, init_rpm=hover)
    cut = jnp.arange(4) % 2 == 1

    def act(state, obs, key, greedy):
        return jnp.where(cut[:, None], -1.0, hover) * jnp.ones((obs.shape[0], 4))

    trainer = SimpleNamespace(env=env, env_params=params.replace(**quiet), act=act)
    run = jax.jit(lambda k: script.fly(trainer, None, k, 4, 1.5))
    errors, crashed = jax.device_get(run(jax.random.key(0)))
    assert errors.shape == (150, 4) and crashed.tolist() == [False, True, False, True]
    crash_s = {}
    for i in (1, 3):
        at = int(np.argmax(errors[:, i] > 0.6))  # the crash step: just through the floor
        assert 0 < at < 100 and errors[at, i] < 0.7
        assert np.all(errors[at:, i] == errors[at, i])  # frozen there, not falling on
        crash_s[i] = (at + 1) * 0.01  # errors[t] is the error after step t
    metrics = script.to_json(script.hover_metrics(jnp.asarray(errors), jnp.asarray(crashed)))
    assert metrics["crash_rate"] == 0.5 and metrics["survivors"] == 2 and metrics["success_rate"] == 0.5
    assert metrics["final_error_survivors_mean_m"] < 1e-3  # the survivors' error only
    assert metrics["hold_error_max_survivors_median_m"] < 1e-3
    # the per-flight view of the same flights (10 s): who crashed, when, and from where
    flights = jax.device_get(jax.jit(lambda k: script.hover_flights(trainer, None, k, 4))(jax.random.key(0)))
    assert flights["crashed"].tolist() == [False, True, False, True]
    np.testing.assert_allclose(flights["crash_s"][1::2], [crash_s[1], crash_s[3]], atol=1e-6)
    np.testing.assert_allclose(flights["tilt_deg"], 0.0, atol=0.1)  # level, on target, no force
    np.testing.assert_allclose(flights["force_over_weight"], 0.0)
    report = script.failure_breakdown(flights)
    assert report["crash_rate"] == 0.5 and report["hold_miss_rate"] == 0.0 and report["crashes_after_1s"] == 0
    assert report["by_start"]["tilt_deg"][0] == {
        "from": 0,
        "flights": 4,
        "crash_rate": 0.5,
        "hold_miss_rate": 0.0,
    }


def test_the_failure_breakdown_bins_each_flight_by_where_it_started(script):
    """Crash and hold-miss rates per start bin: bins are [edge, next edge), the last open above; a crash is
    never counted as a hold miss; an empty bin reports no rate."""
    f = {
        "crashed": np.array([True, False, False, False, True]),
        "crash_s": np.array([0.4, 0.0, 0.0, 0.0, 1.5]),
        "hold_worst_m": np.array([0.5, 0.05, 0.2, 0.1, 0.3]),  # 0.1 is a miss: success needs < 0.1
        "tilt_deg": np.array([80.0, 10.0, 30.0, 59.9, 75.0]),
        "z_m": np.zeros(5),
        "vz_m_s": np.array([-0.9, 0.2, 0.2, 0.6, -0.5]),
        "force_over_weight": np.array([0.01, 0.01, 0.2, 0.12, 0.01]),
    }
    r = script.failure_breakdown(f)
    assert r["flights"] == 5 and r["crash_rate"] == 0.4 and r["hold_miss_rate"] == 0.4
    assert r["crashes_after_1s"] == 1
    tilt = {
        row["from"]: (row["flights"], row["crash_rate"], row["hold_miss_rate"])
        for row in r["by_start"]["tilt_deg"]
    }
    assert tilt == {0: (1, 0.0, 0.0), 30: (2, 0.0, 1.0), 60: (0, None, None), 75: (2, 1.0, 0.0)}
    force = [row["hold_miss_rate"] for row in r["by_start"]["force_over_weight"]]
    assert force == [0.0, None, 1.0, 1.0]
    json.dumps(r, allow_nan=False)


def test_a_variant_sets_the_curriculum_caps_and_the_training_starts(script):
    """``curriculum_target``: the position weight grows x1.2 per stage past L2F's cap of 40, up to the
    variant's 160; the variants without one keep L2F's caps."""
    _, _, params, stage = script.build("hover", 16_384, 1, {"num_envs": 16, "num_steps": 16}, "position-160")
    stage.started_at = 0
    assert float(stage(10**9).reward.position) == pytest.approx(160.0)
    assert float(stage(10**9).reward.action) == pytest.approx(1.0)
    _, _, _, default = script.build("hover", 16_384, 1, {"num_envs": 16, "num_steps": 16})
    default.started_at = 0
    assert float(default(10**9).reward.position) == pytest.approx(40.0)
    # ``train_starts``: wider starts for training only; the evaluations fly from the trainer's (L2F's)
    trainer, _, _, wide = script.build("hover", 16_384, 1, {"num_envs": 16, "num_steps": 16}, "wide-starts")
    assert float(wide(0).init_max_linear_velocity) == 1.5
    assert float(trainer.env_params.init_max_linear_velocity) == 1.0


def test_every_variant_builds_and_keeps_its_training_changes_out_of_the_evaluation(script):
    """Each ablation variant names real fields (a typo would raise here, not minutes into a run); its
    training-only start changes reach the curriculum's params, never the trainer's (the evaluation's)."""
    shapes = {"num_envs": 16, "num_steps": 16}
    _, _, base, _ = script.build("hover", 16_384, 1, shapes)
    for name, v in script.VARIANTS.items():
        trainer, _, params, stage = script.build("hover", 16_384, 1, shapes, name)
        for field, value in v.get("train_starts", {}).items():
            assert float(getattr(stage(0), field)) == pytest.approx(value), (name, field)
            assert float(getattr(trainer.env_params, field)) == float(getattr(base, field)), (name, field)
        for field, value in v.get("reward", {}).items():
            assert float(getattr(params.reward, field)) == value, (name, field)
    _, _, _, strong = script.build("hover", 16_384, 1, shapes, "force-x2")
    assert float(strong(0).force_std) == pytest.approx(2 * float(base.force_std))
    # the growing crash cost: -100 until the curriculum starts, then scaled with the position weight (x8)
    _, _, _, grows = script.build("hover", 16_384, 1, shapes, "crash-grows")
    assert float(grows(0).reward.termination_penalty) == -100.0
    grows.started_at = 0
    late = grows(10_000_000).reward
    assert float(late.position) == pytest.approx(40.0)
    assert float(late.termination_penalty) == pytest.approx(-800.0)
    assert float(grows(100_000).reward.termination_penalty) == pytest.approx(-120.0)


def test_an_evaluation_without_survivors_reports_no_error_figure(script):
    errors = jnp.full((300, 8), 0.3)
    every = script.to_json(script.tracking_metrics(errors, jnp.ones(8, bool)))
    assert every["rms_error_survivors_m"] is None and every["mean_error_survivors_m"] is None
    assert every["survivor_fraction"] == 0.0 and every["survivors"] == 0 and every["crash_rate"] == 1.0
    json.dumps(every, allow_nan=False)  # valid JSON: null, not NaN
    hover = script.to_json(script.hover_metrics(errors, jnp.ones(8, bool)))
    assert (
        hover["final_error_survivors_mean_m"] is None and hover["hold_error_max_survivors_median_m"] is None
    )
    # per seed (a leading seed axis): one survivor at 0.3 m in the second seed, none in the first
    crashed = jnp.stack([jnp.ones(8, bool), jnp.arange(8) > 0])
    per_seed = jax.vmap(script.tracking_metrics)(jnp.stack([errors, errors]), crashed)
    rms = np.asarray(per_seed["rms_error_survivors_m"])
    assert np.isnan(rms[0]) and rms[1] == pytest.approx(0.3)
    np.testing.assert_allclose(per_seed["survivor_fraction"], [0.0, 0.125])


def test_a_two_seed_smoke_run_reports_every_seed_and_the_collapse_check(script, tmp_path):
    """A tiny run of the script (CI smoke): two seeds in one program, evaluated on the same starts; the
    summary carries per-seed figures, the best-to-end drop and whether every seed reached the target."""
    argv = [
        "--tasks",
        "hover",
        "--seeds",
        "2",
        "--total-steps",
        "2048",
        "--num-envs",
        "16",
        "--num-steps",
        "16",
    ]
    argv += ["--chunk-updates", "2", "--eval-every", "1", "--eval-episodes", "8", "--final-episodes", "8"]
    argv += ["--rescue", "--rescue-iterations", "2"]
    out = script.main([*argv, "--json", "--out", str(tmp_path), "--results", str(tmp_path / "s.json")])
    hover = out["results"]["hover"]
    evals = [r for r in hover["curve"] if "success_rate" in r]
    assert len(evals) == 4 and all(len(r["success_rate"]) == 2 for r in evals)
    best = [max(r["success_rate"][s] for r in evals) for s in range(2)]
    assert hover["best_eval_success_per_seed"] == best
    assert hover["drop_best_to_end_per_seed"] == [
        b - e for b, e in zip(best, evals[-1]["success_rate"], strict=True)
    ]
    assert hover["no_collapse"] == all(d <= 0.02 for d in hover["drop_best_to_end_per_seed"])
    assert len(hover["final_eval"]["crash_rate"]) == 2 and out["hover_success_rate"]["min"] is not None
    # the failure breakdown flies the final evaluation's flights again: the same crash rate per seed
    failures = hover["final_failures_per_seed"]
    assert [f["crash_rate"] for f in failures] == hover["final_eval"]["crash_rate"]
    assert all(sum(row["flights"] for row in f["by_start"]["tilt_deg"]) == 8 for f in failures)
    # --rescue: every start some seed crashed from went to the optimiser (an untrained policy crashes often)
    rescue = hover["final_crashes_rescue"]
    crashed = [round(f["crash_rate"] * 8) for f in failures]
    assert rescue["crashed_per_seed"] == crashed and rescue["crashed_any_seed"] >= max(crashed)
    assert (
        0 <= rescue["saved"] <= rescue["crashed_any_seed"]
        and sum(rescue["saved_by_guess"].values()) == rescue["saved"]
    )
    assert json.loads((tmp_path / "s.json").read_text())["seeds"] == 2
    assert (tmp_path / "hover" / "learning_curve.png").stat().st_size > 0


def test_the_flying_curriculum_waits_for_every_seed_to_fly(script):
    """``curriculum_start="flying"``: the initial weights until every seed's training episodes last 80% of the
    limit, then L2F's stages counted from that chunk; a fixed start counts from its step."""
    params = Hover().default_params
    stage = script.Curriculum(params, 100, "flying")
    limit = float(params.max_steps_in_episode)
    assert stage(1_000, np.array([limit, 0.5 * limit])) is params  # one seed still crashes
    assert stage(2_000, np.array([limit, np.nan])) is params  # no finished episode: not known to fly
    assert stage(3_000, np.array([0.9 * limit, 0.8 * limit])).reward == params.reward  # starts: stage 0
    later = stage(3_250, np.array([0.1 * limit, 0.1 * limit]))  # started stays started
    assert stage.started_at == 3_000 and float(later.reward.position) == pytest.approx(
        float(params.reward.position) * 1.2**2
    )
    fixed = script.Curriculum(params, 100, 500)
    assert float(fixed(650).reward.position) == pytest.approx(float(params.reward.position) * 1.2)
