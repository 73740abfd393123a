"""Runs you can trust: no mixed run directories, exact resume from any Ctrl-C instant, divergence detected,
interrupted sweeps marked and resumable, damaged checkpoints with a way out."""

from __future__ import annotations

import functools
import json
import os
import signal

import jax
import numpy as np
import pytest
from runs import trees_equal

import jaxrl_suite.runtime as runtime
import jaxrl_suite.sweep as sweep_module
from jaxrl_suite.algos.ppo import PPOHparams
from jaxrl_suite.cli import main as cli_main
from jaxrl_suite.runtime import CheckpointError, DivergedError, RunDirError, train_runs
from jaxrl_suite.runtime.episodes import THRESHOLD_RULE
from jaxrl_suite.runtime.loop import summarize
from jaxrl_suite.runtime.metrics import MetricsWriter, read_metrics
from jaxrl_suite.sweep import grid, sweep

KW = dict(chunk_updates=4, checkpoint_every=1, progress=False, spec={"t": "trust"})
KEYS = jax.random.split(jax.random.key(0), 2)


@pytest.fixture(scope="module")
def full(tiny_trainer, tmp_path_factory):
    """The uninterrupted reference run (3 chunks of 4 updates)."""
    return train_runs(tiny_trainer, KEYS, PPOHparams(), out_dir=tmp_path_factory.mktemp("full"), **KW)


def _metric_rows(path):
    return [json.loads(ln) for ln in (path / "metrics.jsonl").read_text().splitlines()]


# 1. a run directory is never silently mixed ------------------------------------------------------------


def test_nonempty_run_dir_needs_resume_or_overwrite(tiny_trainer, full, tmp_path):
    out = tmp_path / "run"
    train_runs(tiny_trainer, KEYS, PPOHparams(lr=1e-3), out_dir=out, **KW)
    with pytest.raises(RunDirError, match="not empty.*--resume.*--overwrite"):
        train_runs(tiny_trainer, KEYS, PPOHparams(), out_dir=out, **KW)
    res = train_runs(tiny_trainer, KEYS, PPOHparams(), out_dir=out, overwrite=True, **KW)
    # every trace of the old run is gone: checkpoint, metrics and summary are the new run's
    assert trees_equal(res.state, full.state)
    ckpt = runtime.Checkpointer(out / "checkpoints")
    restored, meta = ckpt.restore(res.state)
    ckpt.close()
    assert trees_equal(restored, full.state) and meta["update"] == 12
    assert [r["value_loss"] for r in _metric_rows(out)] == [
        r["value_loss"] for r in _metric_rows(full.out_dir)
    ]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="files that no run wrote.*notes.txt"):
        train_runs(tiny_trainer, KEYS, PPOHparams(), out_dir=out, overwrite=True, **KW)
    assert (out / "notes.txt").exists() and (out / "checkpoints").exists()


def test_cli_refuses_a_used_out_dir_and_bad_paths(tmp_path, capsys):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "metrics.jsonl").write_text("")
    (tmp_path / "afile").write_text("x")
    base = ["train", "ppo", "--env", "CartPole-v1", "--total-steps", "256", "--num-steps", "32", "--json"]
    for out, msg in [
        (tmp_path / "used", "not empty"),
        (tmp_path / "afile", "is a file"),
        (tmp_path / "afile" / "sub", "under the file"),
    ]:
        assert cli_main([*base, "--out", str(out)]) == 2
        assert msg in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]


# 2. the README's resume example -----------------------------------------------------------------------


def test_cli_resume_takes_the_stored_configuration(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "cp")
    first = [
        "train", "ppo", "--env", "CartPole-v1", "--total-steps", "1536", "--seeds", "2", "--lr", "2.5e-4",
        "--num-steps", "32", "--num-minibatches", "2", "--update-epochs", "2", "--chunk", "4",
        "--out", out, "--no-progress", "--json",
    ]  # fmt: skip
    monkeypatch.setattr(runtime, "train_runs", functools.partial(train_runs, stop_after_chunks=1))
    assert cli_main(first) == 130  # stopped as Ctrl-C stops it
    text = capsys.readouterr().out
    assert json.loads(text.strip().splitlines()[-1])["status"] == "interrupted"
    monkeypatch.undo()
    resume = [
        "train",
        "ppo",
        "--env",
        "CartPole-v1",
        "--seeds",
        "2",
        "--out",
        out,
        "--resume",
        "--no-progress",
    ]
    assert cli_main([*resume, "--lr", "1e-3", "--num-envs", "8", "--json"]) == 2
    err = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert "hparams.lr: run has 0.00025, given 0.001" in err and "config.num_envs: run has 4, given 8" in err
    assert cli_main([*resume, "--json"]) == 0
    done = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert done["status"] == "finished" and done["updates_done"] == done["total_updates"] == 12
    assert [r["update"] for r in _metric_rows(tmp_path / "cp")] == list(range(12))
    assert cli_main([*resume]) == 0  # a finished run resumed: nothing to do, the same summary
    assert "INTERRUPTED" not in capsys.readouterr().out


def test_interrupted_summary_line_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runtime, "train_runs", functools.partial(train_runs, stop_after_chunks=1))
    argv = ["train", "ppo", "--env", "CartPole-v1", "--total-steps", "1536", "--num-steps", "32",
            "--num-minibatches", "2", "--update-epochs", "2", "--chunk", "4", "--out", str(tmp_path / "i"),
            "--no-progress"]  # fmt: skip
    assert cli_main(argv) == 130
    out = capsys.readouterr().out
    assert out.startswith("INTERRUPTED at update 4/12") and "--resume" in out


# 3. Ctrl-C at any instant gives an exact resume --------------------------------------------------------

EVENTS = ("chunk_start", "chunk_computed", "metrics_written", "committed", "checkpoint_saved")


def _interrupt_at(k: int, how: str):
    seen = []

    def hook(name: str) -> None:
        seen.append(name)
        if len(seen) == k:
            if how == "signal":  # a real Ctrl-C, through the loop's handler
                os.kill(os.getpid(), signal.SIGINT)
            else:  # an interrupt that bypasses the handler (a second Ctrl-C)
                raise KeyboardInterrupt

    return hook


@pytest.mark.parametrize("how", ["signal", "raise"])
def test_interrupt_at_every_point_of_the_chunk_cycle_resumes_exactly(tiny_trainer, full, tmp_path, how):
    kw = {**KW, "checkpoint_every": 2}  # also interrupts between periodic checkpoints
    cycle = len(EVENTS) * 3
    for k in range(1, cycle + 1):
        out = tmp_path / f"{how}{k}"
        part = train_runs(tiny_trainer, KEYS, PPOHparams(), out_dir=out, _events=_interrupt_at(k, how), **kw)
        if not part.interrupted:  # the interrupt came after the last chunk was committed: nothing to redo
            assert part.summary["updates_done"] == 12 and trees_equal(part.state, full.state)
            continue
        done = part.summary["updates_done"]
        assert done % 4 == 0 and [r["update"] for r in _metric_rows(out)][:done] == list(range(done))
        resumed = train_runs(tiny_trainer, KEYS, PPOHparams(), out_dir=out, resume=True, **kw)
        assert resumed.summary["updates_done"] == 12, k
        assert trees_equal(resumed.state, full.state), f"{how} at event {k}"
        assert _metric_rows(out) == _metric_rows(full.out_dir), f"{how} at event {k}"


# 4. divergence is detected -----------------------------------------------------------------------------


def test_divergence_stops_the_run_naming_the_update(tiny_trainer, tmp_path):
    bad = PPOHparams(reward_scale=1e38)  # rewards overflow to inf: the value loss and then the parameters
    with pytest.raises(DivergedError, match=r"run 0 at update 0.*run 1 at update 0") as info:
        train_runs(tiny_trainer, KEYS, bad, out_dir=tmp_path, threshold=475.0, **KW)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["status"] == "diverged" and s["runs_diverged"] == 2 and s["final_return_mean"] is None
    assert info.value.result.diverged == {0: 0, 1: 0}
    rows = _metric_rows(tmp_path)
    assert len(rows) == 4 and "nan" in rows[0]["value_loss"] + rows[1]["value_loss"]  # written as NaN


def test_cli_divergence_exits_nonzero(tmp_path, capsys):
    argv = ["train", "ppo", "--env", "CartPole-v1", "--total-steps", "1536", "--num-steps", "32",
            "--num-minibatches", "2", "--update-epochs", "2", "--reward-scale", "1e38", "--out", str(tmp_path),
            "--no-progress", "--json"]  # fmt: skip
    assert cli_main(argv) == 3
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["status"] == "diverged" and "diverged" in out["error"] and "update 0" in out["error"]


def test_sweep_masks_diverged_runs(tiny_trainer, tmp_path):
    res = sweep(
        tiny_trainer, grid(reward_scale=[1.0, 1e38]), 2, PPOHparams(), jax.random.key(1), out_dir=tmp_path,
        on_divergence="mask", chunk_updates=4, progress=False,
    )  # fmt: skip
    table = res.table()
    assert [r["seeds_diverged"] for r in table] == [0, 2]
    assert table[1]["final_return_mean"] is None and table[0]["final_return_mean"] > 0
    assert res.best() == {"reward_scale": 1.0}
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["summary"]["runs_diverged"] == 2 and "survivors" in saved["summary"]["final_return_over"]


def test_no_episode_and_nan_are_distinct_in_metrics(tmp_path):
    w = MetricsWriter(tmp_path, tensorboard=False)
    nan = np.nan
    m = {
        "return": np.array([[nan, 5.0], [nan, nan]]),
        "episodes": np.array([[0, 2], [3, 1]]),
        "value_loss": np.array([[1.0, 1.0], [1.0, np.inf]]),
        "steps": np.array([[128, 256], [128, 256]]),
    }
    w.write_chunk(0, m, diverged_at=np.array([2**62, 0]))
    w.close()
    rows = _metric_rows(tmp_path)
    assert rows[0]["return"] == [None, "nan"]  # run 0: no episode finished; run 1: episodes, NaN return
    assert rows[1]["value_loss"] == [1.0, "inf"]
    back = read_metrics(tmp_path / "metrics.jsonl")
    assert np.isnan(back["return"][0, 0]) and np.isinf(back["value_loss"][1, 1])


# 7. one rule for time-to-threshold ---------------------------------------------------------------------


def test_steps_to_threshold_uses_the_last_20_episodes():
    steps = np.tile(np.arange(1, 6) * 100, (2, 1))
    metrics = {
        "return": np.array([[10, 500, 10, 480, 490], [480, 480, 480, 480, 480]], float),  # lucky update 1
        "return_last20": np.array([[np.nan, 200, 190, 470, 476], [np.nan, 480, 480, 480, 480]]),
        "steps": steps,
    }
    s = summarize(metrics, 475.0)
    assert s["steps_to_threshold_per_run"] == [500, 200] and s["threshold_rule"] == THRESHOLD_RULE
    assert s["steps_to_threshold"] == 350.0 and s["steps_to_threshold_range"] == [200, 500]
    s = summarize(metrics, 475.0, diverged={0: 3})  # a diverged run's later updates do not count
    assert s["steps_to_threshold_per_run"] == [None, 200] and s["final_return_per_run"][0] is None


# 9. interrupted sweeps say so and resume ---------------------------------------------------------------


def test_interrupted_sweep_is_marked_and_resumes(tiny_trainer, tmp_path):
    kw = dict(chunk_updates=4, progress=False)
    args = (tiny_trainer, grid(lr=[1e-3, 2.5e-4]), 2, PPOHparams(), jax.random.key(2))
    part = sweep(*args, out_dir=tmp_path / "s", stop_after_chunks=1, **kw)
    assert part.interrupted and all(r["status"] == "interrupted" for r in part.table())
    saved = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert saved["interrupted"] and saved["updates_done"] == 4 and saved["total_updates"] == 12
    assert "interrupted" in (tmp_path / "s" / "sweep.csv").read_text()
    resumed = sweep(*args, out_dir=tmp_path / "s", resume=True, **kw)
    whole = sweep(*args, out_dir=tmp_path / "w", **kw)
    assert not resumed.interrupted and resumed.summary["updates_done"] == 12
    np.testing.assert_array_equal(resumed.metrics["value_loss"], whole.metrics["value_loss"])


def test_cli_sweep_interrupt_exit_code_and_resume(tmp_path, capsys, monkeypatch):
    argv = ["sweep", "ppo", "--env", "CartPole-v1", "--total-steps", "1536", "--num-steps", "32",
            "--num-minibatches", "2", "--update-epochs", "2", "--chunk", "4", "--seeds", "1",
            "--grid", "lr=1e-3,2.5e-4", "--out", str(tmp_path), "--no-progress", "--json"]  # fmt: skip
    monkeypatch.setattr(sweep_module, "train_runs", functools.partial(train_runs, stop_after_chunks=1))
    assert cli_main(argv) == 130
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["interrupted"] is True
    monkeypatch.undo()
    assert cli_main(["sweep", "ppo", "--out", str(tmp_path), "--resume", "--no-progress", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["status"] == "finished" and out["updates_done"] == 12 and len(out["table"]) == 2


# 10. a damaged newest checkpoint has a way out ---------------------------------------------------------


def test_damaged_newest_checkpoint_falls_back_to_an_intact_one(tiny_trainer, full, tmp_path):
    train_runs(tiny_trainer, KEYS, PPOHparams(), out_dir=tmp_path, stop_after_chunks=2, **KW)
    newest = tmp_path / "checkpoints" / "8"
    for f in (newest / "state").rglob("*"):
        if f.is_file() and f.stat().st_size > 0 and "metadata" not in f.name:
            f.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"step 8.*step 4"):
        train_runs(tiny_trainer, KEYS, PPOHparams(), out_dir=tmp_path, resume=True, **KW)
    res = train_runs(
        tiny_trainer, KEYS, PPOHparams(), out_dir=tmp_path, resume=True, fallback_checkpoint=True, **KW
    )
    assert trees_equal(res.state, full.state)
    assert _metric_rows(tmp_path) == _metric_rows(full.out_dir)
    assert any((tmp_path / "damaged-checkpoints").iterdir())  # moved aside, not deleted


# the per-chunk hook: curricula without recompiling, checkpointed with the state ---------------------------


def _curriculum(trainer):
    def on_chunk(state, metrics):
        steps = int(metrics["steps"][0, -1])  # env steps per run so far: a pure function of progress
        limit = 10 if steps >= 1024 else 500
        return trainer.env_params.replace(max_steps_in_episode=limit), False

    return on_chunk


def test_on_chunk_changes_env_params_without_recompiling_and_resumes_exactly(tiny_trainer, tmp_path):
    hook = _curriculum(tiny_trainer)
    cfg = dict(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 12, update_epochs=2, num_minibatches=2)
    kw = {**KW, "checkpoint_every": 1, "spec": {"algo": "ppo", "env": "CartPole-v1", "config": cfg}}
    full = train_runs(tiny_trainer, KEYS, PPOHparams(), out_dir=tmp_path / "f", on_chunk=hook, **kw)
    programs = [k for k in tiny_trainer._runtime_cache if k[0] == "chunk" and k[2]]
    assert len(programs) == 1  # one compiled chunk served every curriculum stage
    length = full.metrics["length"]
    assert np.nanmax(length[:, :8]) > 10 and np.nanmax(length[:, 9:]) <= 10  # the limit took effect
    assert int(full.env_params.max_steps_in_episode) == 10
    part = train_runs(
        tiny_trainer, KEYS, PPOHparams(), out_dir=tmp_path / "p", on_chunk=hook, stop_after_chunks=2, **kw
    )
    assert part.interrupted
    resumed = train_runs(
        tiny_trainer, KEYS, PPOHparams(), out_dir=tmp_path / "p", on_chunk=hook, resume=True, **kw
    )
    assert trees_equal(resumed.state, full.state)
    assert _metric_rows(tmp_path / "p") == _metric_rows(tmp_path / "f")
    from jaxrl_suite import load_policy

    assert (
        int(load_policy(tmp_path / "f").env_params.max_steps_in_episode) == 10
    )  # the curriculum's last stage


def test_on_chunk_can_stop_the_run(tiny_trainer, tmp_path):
    def stop_when_long(state, metrics):
        return None, bool(metrics["steps"][0, -1] >= 512)

    res = train_runs(tiny_trainer, KEYS, PPOHparams(), out_dir=tmp_path, on_chunk=stop_when_long, **KW)
    assert res.summary["status"] == "stopped" and res.summary["updates_done"] == 4 and not res.interrupted
    ckpt = runtime.Checkpointer(tmp_path / "checkpoints", create=False)
    assert ckpt.latest_step() == 4
    ckpt.close()
