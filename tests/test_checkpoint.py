"""Checkpointer: damaged steps fail quietly with a way out, readers create nothing, interrupted saves vanish."""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jax.numpy as jnp
import orbax.checkpoint as ocp
import pytest
from runs import make_state, trees_equal
from subprocesses import child_env

from jaxrl_suite.runtime.checkpoint import Checkpointer, CheckpointError

NOISE = ("Traceback", "Event loop", "tensorstore_spec", "ERROR", "Future exception", "WARNING")


def saved(directory: Path, steps=(1, 2, 3)) -> Path:
    ckpt = Checkpointer(directory)
    for step in steps:
        ckpt.save(step, make_state(step), {"update": step, "spec": {"lr": 1e-3}})
    ckpt.close()
    return directory


def files(path: Path, under: str = "") -> list[Path]:
    return [f for f in sorted((path / under).rglob("*")) if f.is_file()]


def corrupt(step_dir: Path, how: str) -> None:
    """Damage a saved step the ways disks and killed copies do."""
    data = files(step_dir, "state/ocdbt.process_0/d")
    if how == "garbage":  # as tests/test_runtime.py does: every non-metadata file of the state
        for f in files(step_dir, "state"):
            if f.stat().st_size > 0 and "metadata" not in f.name:
                f.write_bytes(b"garbage")
    elif how == "delete_index":  # the b-tree node naming every array: all reads fail at once
        for f in files(step_dir, "state/d"):
            f.unlink()
    elif how == "delete_data":
        for f in data:
            f.unlink()
    elif how == "truncate":
        for f in data:
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    elif how == "flip_bit":  # still decodes, to wrong numbers: only the digest notices
        big = max(data, key=lambda f: f.stat().st_size)
        b = bytearray(big.read_bytes())
        b[len(b) // 2] ^= 0x01
        big.write_bytes(bytes(b))
    elif how == "meta_json":
        (step_dir / "meta" / "metadata").write_text("{not json")
    elif how == "meta_deleted":
        (step_dir / "meta" / "metadata").unlink()
    else:
        raise ValueError(how)


@pytest.fixture
def quiet(capfd, caplog, monkeypatch):
    """Yields a check that nothing was printed, logged by orbax/asyncio, or reported as unraisable."""
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    capfd.readouterr()

    def check():
        time.sleep(0.2)  # TensorStore reads left in flight report late, from their own threads
        gc.collect()
        err = capfd.readouterr().err
        assert not any(n in err for n in NOISE), err
        assert not [r for r in caplog.records if r.name in ("absl", "asyncio")], caplog.text
        assert not unraisable, [u.exc_value for u in unraisable]

    return check


def test_save_restore_roundtrip(tmp_path):
    ckpt = Checkpointer(saved(tmp_path / "checkpoints"))
    assert ckpt.all_steps() == [1, 2, 3] and ckpt.latest_step() == 3
    state, meta = ckpt.restore(make_state())
    assert trees_equal(state, make_state(3)) and state["empty"].shape == (0, 4)
    assert meta == {"update": 3, "spec": {"lr": 1e-3}} == ckpt.read_meta()
    assert ckpt.read_meta(1)["update"] == 1 and trees_equal(
        ckpt.restore(make_state(), step=2)[0], make_state(2)
    )
    with pytest.raises(CheckpointError, match="no checkpoint step 5") as info:
        ckpt.restore(make_state(), step=5)
    assert info.value.step == 5


@pytest.mark.parametrize(
    "how", ["garbage", "delete_index", "delete_data", "truncate", "flip_bit", "meta_json", "meta_deleted"]
)
def test_damaged_newest_step_names_intact_one_quietly(tmp_path, how, quiet):
    directory = saved(tmp_path / "checkpoints")
    corrupt(directory / "3", how)
    ckpt = Checkpointer(directory)
    with pytest.raises(CheckpointError, match="step 3 .*corrupted or does not match") as info:
        ckpt.restore(make_state())
    error = info.value
    assert (error.step, error.intact_step) == (3, 2)
    assert "newest intact checkpoint is step 2" in str(error) and "restore_newest_intact" in str(error)
    assert "tensorstore_spec" not in str(error) and len(str(error)) < 1000
    if how.startswith("meta"):
        with pytest.raises(CheckpointError, match="step 3 .*is corrupted: cannot read its metadata") as info:
            ckpt.read_meta()
        assert (info.value.step, info.value.intact_step) == (3, 2)
    else:
        assert ckpt.read_meta() == {"update": 3, "spec": {"lr": 1e-3}}  # the metadata itself is intact
    quiet()


def test_damaged_step_reported_quietly_in_a_fresh_process(tmp_path):
    """Outside pytest's capturing: a real process's stderr stays empty."""
    directory = saved(tmp_path / "checkpoints")
    corrupt(directory / "3", "delete_index")
    script = (
        "import sys; sys.path.insert(0, sys.argv[2]); from runs import make_state\n"
        "from jaxrl_suite.runtime.checkpoint import Checkpointer, CheckpointError\n"
        "try: Checkpointer(sys.argv[1]).restore(make_state())\n"
        "except CheckpointError as e: print(e.step, e.intact_step)\n"
        "import gc, time; time.sleep(0.3); gc.collect()\n"
    )
    env = child_env()
    out = subprocess.run(
        [sys.executable, "-c", script, str(directory), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.stdout.split() == ["3", "2"] and out.stderr == "", out.stderr


def test_restore_newest_intact_moves_damaged_steps_aside(tmp_path, quiet):
    directory = saved(tmp_path / "checkpoints")
    corrupt(directory / "3", "delete_data")
    corrupt(directory / "2", "meta_json")
    before = {f.relative_to(directory / "3") for f in files(directory / "3")}
    ckpt = Checkpointer(directory)
    with pytest.raises(CheckpointError) as info:
        ckpt.restore(make_state())
    assert (info.value.step, info.value.intact_step) == (3, 1)
    state, meta, step, damaged = ckpt.restore_newest_intact(make_state())
    assert step == 1 and damaged == [3, 2] and meta["update"] == 1 and trees_equal(state, make_state(1))
    moved = tmp_path / "damaged-checkpoints"
    assert ckpt.damaged_directory == moved and sorted(p.name for p in moved.iterdir()) == ["2", "3"]
    assert {f.relative_to(moved / "3") for f in files(moved / "3")} == before  # kept, file for file
    assert ckpt.all_steps() == [1] and ckpt.latest_step() == 1
    quiet()

    ckpt.save(2, make_state(20), {"update": 2})  # the same step numbers save again
    ckpt.save(3, make_state(30), {"update": 3})
    assert trees_equal(ckpt.restore(make_state())[0], make_state(30))
    fresh = Checkpointer(directory)
    assert fresh.all_steps() == [1, 2, 3] and trees_equal(
        fresh.restore(make_state(), step=2)[0], make_state(20)
    )

    corrupt(directory / "3", "truncate")  # damaged again: kept next to the first copy
    assert fresh.restore_newest_intact(make_state())[2:] == (2, [3])
    assert sorted(p.name for p in moved.iterdir()) == ["2", "3", "3.1"]


def test_no_intact_step_raises_and_moves_nothing(tmp_path, quiet):
    directory = saved(tmp_path / "checkpoints", steps=(1, 2))
    corrupt(directory / "1", "truncate")
    corrupt(directory / "2", "garbage")
    ckpt = Checkpointer(directory)
    with pytest.raises(CheckpointError, match="no intact checkpoint") as info:
        ckpt.restore_newest_intact(make_state())
    assert (info.value.step, info.value.intact_step) == (2, None)
    with pytest.raises(CheckpointError, match="no older checkpoint is intact") as info:
        ckpt.restore(make_state())
    assert ckpt.all_steps() == [1, 2] and not ckpt.damaged_directory.exists()
    quiet()


def test_state_of_another_shape_is_a_mismatch_not_damage(tmp_path, quiet):
    ckpt = Checkpointer(saved(tmp_path / "checkpoints"))
    other = make_state() | {"w": jnp.zeros((8, 8)), "b": jnp.zeros(4)}  # two leaves differ
    with pytest.raises(CheckpointError, match="does not match this run's state") as info:
        ckpt.restore(other)
    assert (info.value.step, info.value.intact_step) == (3, None)
    with pytest.raises(CheckpointError, match="does not match"):
        ckpt.restore(make_state() | {"opt": {"mu": jnp.zeros((2, 5), jnp.int32), "count": jnp.asarray(7)}})
    with pytest.raises(CheckpointError, match="no intact checkpoint"):
        ckpt.restore_newest_intact(other)
    assert ckpt.all_steps() == [1, 2, 3]
    quiet()


def test_readers_never_create_directories(tmp_path):
    typo = tmp_path / "run" / "checkpionts"
    with pytest.raises(CheckpointError, match="no checkpoint found in"):
        Checkpointer(typo, create=False)
    assert not typo.exists() and not typo.parent.exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint found in"):
        Checkpointer(empty, create=False).read_meta()
    assert list(empty.iterdir()) == []

    directory = saved(tmp_path / "checkpoints")
    listing = files(tmp_path)
    reader = Checkpointer(directory, create=False)
    assert reader.read_meta()["update"] == 3 and trees_equal(reader.restore(make_state())[0], make_state(3))
    reader.close()
    assert files(tmp_path) == listing


def test_interrupted_save_leaves_no_step(tmp_path, monkeypatch):
    directory = saved(tmp_path / "checkpoints", steps=(1,))
    ckpt = Checkpointer(directory)

    async def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(ocp.JsonCheckpointHandler, "async_save", interrupted)
        with pytest.raises(KeyboardInterrupt):
            ckpt.save(2, make_state(2), {"update": 2})
    assert (directory / "2.orbax-checkpoint-tmp").is_dir() and not (directory / "2").exists()
    shutil.copytree(directory / "1", directory / "7.orbax-checkpoint-tmp")  # complete files, never renamed
    for reader in (ckpt, Checkpointer(directory, create=False)):
        assert reader.all_steps() == [1] and reader.latest_step() == 1
        assert reader.restore_newest_intact(make_state())[2:] == (1, [])
    ckpt.save(2, make_state(2), {"update": 2})  # replaces the unfinished folder
    assert not (directory / "2.orbax-checkpoint-tmp").exists()
    assert trees_equal(Checkpointer(directory).restore(make_state())[0], make_state(2))


def test_latest_step_is_the_highest_step(tmp_path):
    """orbax's latest_step is the last saved by this process; a new process would pick the highest."""
    ckpt = Checkpointer(saved(tmp_path / "checkpoints", steps=(10, 20, 30)))
    ckpt.save(25, make_state(25), {"update": 25})
    assert (
        ckpt.all_steps() == [20, 25, 30]
        and ckpt.latest_step() == 30 == Checkpointer(ckpt.directory).latest_step()
    )
    ckpt.save(30, make_state(99), {"update": 99})  # an existing step is kept as it is
    assert trees_equal(ckpt.restore(make_state())[0], make_state(30))
    assert json.loads(json.dumps(ckpt.read_meta())) == {"update": 30, "spec": {"lr": 1e-3}}
