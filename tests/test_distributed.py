"""Runs across processes: two processes on localhost (CPU collectives over gloo) run an interrupted, then
resumed, 4-run sweep; process 0's outputs equal a single-process run on the same four devices, bit for bit."""

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from subprocesses import child_env

from jaxrl_suite.cli import main as cli_main
from jaxrl_suite.runtime import distributed

ROOT = Path(__file__).resolve().parents[1]
WORKER = str(ROOT / "tests" / "distributed_worker.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(devices: int | None = None, **extra) -> dict:
    return child_env(devices, **{"JAXRL_SUITE_COMPILE_CACHE": "0", **extra})


def test_two_processes_equal_one_process_bit_for_bit(tmp_path):
    port = free_port()
    cache = {"JAXRL_SUITE_COMPILE_CACHE": "1", "JAXRL_SUITE_COMPILE_CACHE_DIR": str(tmp_path / "xla")}

    def start(out, port, rank, **extra):  # each process runs, is interrupted, resumes (a cached compile)
        return subprocess.Popen(
            [sys.executable, WORKER, str(tmp_path / out), str(port), str(rank)],
            env=env(**cache, **extra),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # the reference, alongside: one process, the same four devices (the layout sets the per-device batch)
    procs = [start("multi", port, 0), start("multi", port, 1)]
    procs.append(start("single", 0, 0, devices=4, NPROC="1"))
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    outs = outs[:2]
    multi = tmp_path / "multi"
    assert (multi / "metrics.jsonl").read_bytes() == (tmp_path / "single" / "metrics.jsonl").read_bytes()
    a, b = (json.loads((d / "sweep.json").read_text()) for d in (multi, tmp_path / "single"))
    assert a["table"] == b["table"] and a["status"] == "finished" and a["summary"]["updates_done"] == 12
    assert a["summary"]["processes"] == 2 and a["summary"]["devices"] == 4
    assert b["summary"]["processes"] == 1 and b["summary"]["devices"] == 4
    reports = [[ln for ln in out.splitlines() if ln.startswith("{")] for out, _ in outs]
    assert len(reports[0]) == 2 and json.loads(reports[0][-1])["status"] == "finished"
    assert reports[1] == [], "only process 0 reports"


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--coordinator", "localhost:1234"], "go together"),
        (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"], "HOST:PORT"),
        (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"], r"\[0, 2\)"),
        (["--coordinator", "h:1", "--num-processes", "two", "--process-id", "0"], "whole numbers"),
    ],
)
def test_bad_process_layouts_are_refused_before_anything_starts(argv, match, capsys):
    assert cli_main(["train", "ppo", "--env", "CartPole-v1", *argv]) == 2
    assert re.search(match, capsys.readouterr().err)


def test_cluster_launchers_are_detected(monkeypatch):
    for var in ("JAX_COORDINATOR_ADDRESS", "SLURM_NTASKS", "SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE",
                "OMPI_MCA_orte_hnp_uri", "JAXRL_SUITE_DISTRIBUTED"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    assert not distributed.launched_by_cluster()
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    assert not distributed.launched_by_cluster(), "one task is a single-process run"
    monkeypatch.setenv("SLURM_NTASKS", "4")
    assert distributed.launched_by_cluster()
    monkeypatch.setenv("JAXRL_SUITE_DISTRIBUTED", "0")
    assert not distributed.launched_by_cluster()
