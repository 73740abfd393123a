"""Runtime: chunked runs, exact resume, sweeps equal lone runs, multi-device equality, checkpoint errors, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from runs import trees_equal
from subprocesses import child_env

from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams
from jaxrl_suite.cli import main as cli_main
from jaxrl_suite.runtime import CheckpointError, train_runs
from jaxrl_suite.sweep import grid, random_search, sweep

TINY = PPOConfig(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 12, update_epochs=2, num_minibatches=2)


@pytest.fixture(scope="module")
def trainer(tiny_trainer):
    assert tiny_trainer.config == TINY
    return tiny_trainer


def test_resume_equals_uninterrupted(trainer, tmp_path):
    keys = jax.random.split(jax.random.key(0), 2)
    kw = dict(chunk_updates=3, checkpoint_every=1, progress=False, spec={"t": "resume"})
    full = train_runs(trainer, keys, PPOHparams(), out_dir=tmp_path / "full", **kw)
    part = train_runs(trainer, keys, PPOHparams(), out_dir=tmp_path / "part", stop_after_chunks=2, **kw)
    assert part.interrupted and part.summary["updates_done"] == 6
    resumed = train_runs(trainer, keys, PPOHparams(), out_dir=tmp_path / "part", resume=True, **kw)
    assert not resumed.interrupted and resumed.summary["updates_done"] == 12
    assert trees_equal(jax.device_get(full.state), jax.device_get(resumed.state))
    np.testing.assert_array_equal(full.metrics["return"], resumed.metrics["return"])  # whole run's metrics
    lines = (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["update"] for ln in lines] == list(range(12))
    assert (tmp_path / "full" / "learning_curve.png").stat().st_size > 1000


def test_resume_refuses_a_different_run(trainer, tmp_path):
    keys = jax.random.split(jax.random.key(0), 2)
    train_runs(trainer, keys, PPOHparams(), out_dir=tmp_path, progress=False, spec={"t": "a"})
    with pytest.raises(CheckpointError, match="different run"):
        train_runs(
            trainer, keys, PPOHparams(lr=1e-3), out_dir=tmp_path, resume=True, progress=False, spec={"t": "a"}
        )


def test_corrupted_checkpoint_gives_clear_error(trainer, tmp_path):
    keys = jax.random.split(jax.random.key(0), 2)
    train_runs(trainer, keys, PPOHparams(), out_dir=tmp_path, progress=False, spec={"t": "c"})
    step_dir = sorted((tmp_path / "checkpoints").iterdir())[-1]
    for f in (step_dir / "state").rglob("*"):
        if f.is_file() and f.stat().st_size > 0 and "metadata" not in f.name:
            f.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupted or does not match"):
        train_runs(
            trainer, keys, PPOHparams(), out_dir=tmp_path, resume=True, progress=False, spec={"t": "c"}
        )


def test_sweep_setting_equals_the_same_setting_alone(trainer, tmp_path):
    settings = grid(lr=[1e-3, 2.5e-4])
    key = jax.random.key(5)
    res = sweep(
        trainer, settings, seeds=2, base_hparams=PPOHparams(), key=key, out_dir=tmp_path, progress=False
    )
    assert res.metrics["return"].shape == (2, 2, TINY.num_updates) and res.axes == (
        "seed",
        "setting",
        "update",
    )
    seed_keys = jax.random.split(key, 2)
    alone = train_runs(trainer, seed_keys[1:2], PPOHparams(lr=2.5e-4), progress=False)
    np.testing.assert_allclose(res.metrics["value_loss"][1, 1], alone.metrics["value_loss"][0], rtol=1e-4)
    np.testing.assert_allclose(res.metrics["return"][1, 1], alone.metrics["return"][0], rtol=1e-5)
    assert (tmp_path / "sweep.csv").read_text().count("\n") == 3 and (tmp_path / "sweep.png").exists()
    with pytest.raises(ValueError, match="not shape-free"):
        sweep(trainer, [{"num_envs": 8}], 1, PPOHparams(), key)


def test_random_search_respects_ranges():
    settings = random_search(
        jax.random.key(0), 50, lr=(1e-5, 1e-2, "log"), clip_eps=(0.1, 0.3), ent_coef=[0.0, 0.01]
    )
    lrs = np.array([s["lr"] for s in settings])
    assert lrs.min() >= 1e-5 and lrs.max() <= 1e-2 and lrs.min() < 1e-4 < lrs.max()
    assert {s["ent_coef"] for s in settings} == {0.0, 0.01}


MULTI_DEVICE_SCRIPT = """
import json, sys, jax, numpy as np, jaxrl_suite
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train
from jaxrl_suite.runtime import train_runs
from jaxrl_suite.sweep import grid, sweep
cfg = PPOConfig(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 12, update_epochs=2, num_minibatches=2)
env, params = jaxrl_suite.make("CartPole-v1")
trainer = make_train(cfg, env, params)
# several chunks: the state a chunk returns must go back in on the run sharding
res = train_runs(trainer, jax.random.split(jax.random.key(3), 4), PPOHparams(), chunk_updates=4, progress=False)
sw = sweep(trainer, grid(lr=[1e-3, 2.5e-4]), 2, PPOHparams(), jax.random.key(4), chunk_updates=4, progress=False)
print(json.dumps({"devices": res.summary["devices"], "sweep_devices": sw.summary["devices"],
                  "return": np.asarray(res.metrics["return"]).tolist(),
                  "value_loss": np.asarray(res.metrics["value_loss"]).tolist(),
                  "sweep_value_loss": np.asarray(sw.metrics["value_loss"]).tolist()}))
"""


def _run_with_devices(n: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE_SCRIPT], env=child_env(n), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_sharded_over_four_devices_equals_one_device(trainer):
    four = _run_with_devices(4)
    one = train_runs(trainer, jax.random.split(jax.random.key(3), 4), PPOHparams(), progress=False)
    assert four["devices"] == 4 and four["sweep_devices"] == 4
    assert one.summary["devices"] == len(jax.devices()) == 1
    np.testing.assert_allclose(np.array(four["return"], float), one.metrics["return"], rtol=1e-6)
    np.testing.assert_allclose(four["value_loss"], one.metrics["value_loss"], rtol=1e-4)
    sw = sweep(trainer, grid(lr=[1e-3, 2.5e-4]), 2, PPOHparams(), jax.random.key(4), progress=False)
    np.testing.assert_allclose(four["sweep_value_loss"], sw.metrics["value_loss"], rtol=1e-4)


def test_cli_applies_the_cpu_layout_it_documents(tmp_path):
    """A CLI process lays out one CPU device per core that divides the seeds (before gymnax starts JAX)."""
    from jaxrl_suite import cpu

    env = child_env()
    argv = ["train", "ppo", "--env", "CartPole-v1", "--total-steps", "1024", "--num-steps", "32",
            "--num-minibatches", "2", "--update-epochs", "1", "--seeds", "2", "--chunk", "2",
            "--out", str(tmp_path / "cli"), "--no-progress", "--json"]  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "jaxrl_suite", *argv], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["devices"] == cpu.devices_for(2) and summary["updates_done"] == 8  # 4 chunks


def test_cli_list_json_and_typo(capsys):
    assert cli_main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "CartPole-v1" in listing["envs"] and "brax/ant" in listing["envs"]
    assert cli_main(["train", "ppo", "--env", "CartPol-v1", "--json"]) == 2
    out = capsys.readouterr()
    assert "CartPole-v1" in json.loads(out.out.strip().splitlines()[-1])["error"]


def test_cli_train_eval_roundtrip(tmp_path, capsys):
    rc = cli_main(
        [
            "train",
            "ppo",
            "--env",
            "CartPole-v1",
            "--total-steps",
            "1536",
            "--num-steps",
            "32",
            "--num-minibatches",
            "2",
            "--update-epochs",
            "2",
            "--seeds",
            "2",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--json",
        ]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in (
        "env",
        "algo",
        "seeds",
        "total_steps",
        "compile_s",
        "train_s",
        "steps_per_s",
        "final_return_mean",
        "final_return_std",
        "steps_to_threshold",
    ):
        assert key in summary
    assert summary["seeds"] == 2 and summary["total_steps"] == 1536
    assert Path(summary["learning_curve"]).exists()
    assert cli_main(["eval", "--checkpoint", str(tmp_path), "--episodes", "4", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["episodes"] == 4 and ev["return_mean"] >= 8.0 and ev["update"] == 12


def test_compiled_program_cache_follows_the_env_params(trainer):
    """A trainer acting on other env params (``with_env_params``) never reuses the first program."""
    keys = jax.random.split(jax.random.key(0), 2)
    first = train_runs(trainer, keys, PPOHparams(), progress=False)
    short = trainer.with_env_params(trainer.env_params.replace(max_steps_in_episode=10))
    second = train_runs(short, keys, PPOHparams(), progress=False)
    assert np.nanmax(first.metrics["length"]) > 10
    assert np.nanmax(second.metrics["length"]) <= 10
    again = train_runs(trainer, keys, PPOHparams(), progress=False)  # and the original keeps its own
    np.testing.assert_array_equal(again.metrics["length"], first.metrics["length"])


def test_cli_persistent_compile_cache_makes_a_second_run_start_fast(tmp_path):
    env = child_env(fast_compile=False)  # the cache saves what a user compiles: XLA at its defaults
    env.update(JAXRL_SUITE_COMPILE_CACHE="1", JAXRL_SUITE_COMPILE_CACHE_DIR=str(tmp_path / "cache"))
    argv = ["train", "ppo", "--env", "CartPole-v1", "--total-steps", "2048", "--num-steps", "32",
            "--num-minibatches", "2", "--update-epochs", "2", "--no-progress", "--json"]  # fmt: skip
    runs, entries = [], []
    for name in ("first", "second"):
        out = subprocess.run(
            [sys.executable, "-m", "jaxrl_suite", *argv, "--out", str(tmp_path / name)],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        entries.append(sorted(p.name for p in (tmp_path / "cache").iterdir()))
    assert entries[0], "the first run wrote nothing to the cache"
    # Every program the second run needed was found: a miss would have written a new entry. This is the
    # check that cannot flake; the wall-time one below only has to show the hit paid off.
    assert entries[1] == entries[0], (entries, runs)
    assert runs[1]["compile_s"] < 0.8 * runs[0]["compile_s"], runs
    assert runs[1]["final_return_mean"] == runs[0]["final_return_mean"]
    metrics = [(tmp_path / n / "metrics.jsonl").read_text() for n in ("first", "second")]
    assert metrics[0] == metrics[1]  # the cached program computes exactly what the compiled one did
