"""Bad input on the command line is one clear line before anything compiles: never a traceback, never a
directory created by mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jaxrl_suite.cli import main as cli_main

TRAIN = ["train", "ppo", "--env", "CartPole-v1", "--total-steps", "1536", "--num-steps", "32",
         "--num-minibatches", "2", "--update-epochs", "2", "--no-progress"]  # fmt: skip


def _error(capsys) -> str:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]


@pytest.mark.parametrize("seeds", ["0", "-2"])
def test_seeds_below_one_are_refused_before_anything_runs(tmp_path, capsys, seeds):
    out = tmp_path / "run"
    assert cli_main([*TRAIN, "--seeds", seeds, "--out", str(out), "--json"]) == 2
    assert "--seeds must be >= 1" in _error(capsys) and not out.exists()


def test_bad_number_names_its_type(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main([*TRAIN, "--total-steps", "abc"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid int value: 'abc'" in err and "<lambda>" not in err


def test_unwritable_out_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)  # root ignores chmod: simulate read-only
    assert cli_main([*TRAIN, "--out", str(tmp_path / "ro"), "--json"]) == 2
    assert "cannot write to output directory" in _error(capsys)


@pytest.fixture(scope="module")
def one_run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "run"
    assert cli_main([*TRAIN, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("run", ["3", "-1"])
def test_eval_run_out_of_range(one_run_dir, capsys, run):
    assert cli_main(["eval", "--checkpoint", str(one_run_dir), "--run", run, "--json"]) == 2
    err = _error(capsys)
    assert "out of range" in err and "holds 1 run(s)" in err


def test_eval_of_a_missing_checkpoint_creates_nothing(tmp_path, capsys):
    typo = tmp_path / "runz" / "cp"
    assert cli_main(["eval", "--checkpoint", str(typo), "--json"]) == 2
    assert "no run directory" in _error(capsys) and not typo.exists() and not typo.parent.exists()


def test_render_checks_the_writer_before_compiling(one_run_dir, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "imageio_ffmpeg" else real(n, *a)
    )
    calls = []
    monkeypatch.setattr("jaxrl_suite.cli._restore", lambda *a: calls.append(a))
    assert cli_main(["render", "--checkpoint", str(one_run_dir), "--out", "x.mp4", "--json"]) == 2
    assert "imageio-ffmpeg" in _error(capsys)
    assert cli_main(["render", "--checkpoint", str(one_run_dir), "--out", "x.avi", "--json"]) == 2
    assert ".gif or .mp4" in _error(capsys) and not calls  # nothing loaded, nothing compiled


def test_list_family_grid_and_unknown_family(capsys):
    assert cli_main(["list", "--family", "grid", "--json"]) == 0
    envs = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["envs"]
    assert "MiniGrid-DoorKey-5x5-v0" in envs and all(e["family"] == "minigrid" for e in envs.values())
    assert cli_main(["list", "--family", "gridz", "--json"]) == 2
    err = _error(capsys)
    assert "unknown family" in err and "minigrid" in err and "quadrotor" in err


def test_list_into_a_closed_pipe_is_quiet():
    proc = subprocess.run(
        f"{sys.executable} -m jaxrl_suite list | head -n 1", shell=True, capture_output=True, text=True
    )
    assert proc.stdout.count("\n") == 1 and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_progress_bar_shows_one_speed(tiny_trainer, tmp_path, capsys):
    import jax

    from jaxrl_suite.algos.ppo import PPOHparams
    from jaxrl_suite.runtime import train_runs

    train_runs(tiny_trainer, jax.random.split(jax.random.key(0), 2), PPOHparams(), chunk_updates=4)
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert bar.count("/s") == 1 and "steps/s over 2 run(s)" in bar, bar


def test_bench_outside_a_checkout_says_it_needs_the_repository(tmp_path):
    from jaxrl_suite import cli

    (tmp_path / "experiments").mkdir()  # a folder of that name without our scripts is not the repository
    with pytest.raises(ValueError, match="needs the repository"):
        cli._experiments_dir([tmp_path])
    assert cli._experiments_dir([tmp_path, Path(cli.__file__).resolve().parents[1]]).name == "experiments"


def test_list_and_help_import_no_learner():
    code = (
        "import sys; from jaxrl_suite.cli import main; main(['list']);"
        "print(sorted(m for m in ('flax', 'optax', 'evosax', 'gymnax', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    code = (
        "import sys; from jaxrl_suite.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in ('flax', 'optax', 'evosax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_quick_benchmark_writes_only_its_smoke_file():
    """A smoke run says it is one and writes experiments/results/quick/, never the committed figures' file."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, str(root / "experiments" / "bench_grid.py"), "--quick", "--impls", "ours", "--json"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["smoke"] is True
    assert summary["results_file"] == "experiments/results/quick/bench_grid.json"
    assert (root / summary["results_file"]).is_file()


def test_tensorboard_writer_is_a_declared_option():
    import tomllib
    from pathlib import Path

    meta = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    assert any(d.startswith("tensorboardX") for d in extras["tensorboard"] + extras["dev"])


def test_results_paths_are_relative_to_the_repository(tmp_path):
    from jaxrl_suite.results import REPO, portable_path

    assert portable_path(REPO / "experiments" / "results" / "x.png") == "experiments/results/x.png"
    assert portable_path(tmp_path / "scratch") == "outside the repository: scratch"


def test_bad_env_param_overrides_fail_at_make():
    import jaxrl_suite

    with pytest.raises(ValueError, match="must be a number"):
        jaxrl_suite.make("CartPole-v1", gravity="abc")
    with pytest.raises(ValueError, match="max_steps_in_episode must be >= 1"):
        jaxrl_suite.make("CartPole-v1", max_steps_in_episode=-5)
    with pytest.raises(ValueError, match="finite"):
        jaxrl_suite.make("Pendulum-v1", max_speed=float("inf"))
    _, params = jaxrl_suite.make("CartPole-v1", gravity=9.0)
    assert params.gravity == 9.0


def test_ued_maze_refuses_an_out_stem_that_is_a_path():
    """``--out`` names a results file beside the others; a path would write outside experiments/results.
    Refused at argument parsing, before any level is built or compiled."""
    from experiment_scripts import experiment

    mod = experiment("ued_maze")
    for bad in ("../ued", "a/b", ""):
        with pytest.raises(SystemExit, match="file stem"):
            mod.main(["--out", bad, "--quick"])
