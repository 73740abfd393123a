"""Runs across processes (hosts): ``jax.distributed`` set-up and the three things the loop needs from it.

Every process runs the same command with the same keys and settings; ``jax.devices()`` then lists all the
processes' devices and the run axis is sharded over them. Only process 0 writes the run directory's files
and prints; checkpoints are written by all processes together (orbax), so the run directory must be on a
filesystem every process sees. On CPU, cross-process collectives use gloo (JAX's default).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

# environments in which ``jax.distributed.initialize()`` finds its own arguments (with several processes)
_LAUNCHERS = {
    "JAX_COORDINATOR_ADDRESS": None,  # set by hand or by a launcher, with JAX_NUM_PROCESSES / JAX_PROCESS_ID
    "SLURM_NTASKS": "SLURM_JOB_ID",  # srun with several tasks
    "OMPI_COMM_WORLD_SIZE": "OMPI_MCA_orte_hnp_uri",  # mpirun
}


def launched_by_cluster() -> bool:
    """Whether a cluster launcher started this process as one of several (``JAXRL_SUITE_DISTRIBUTED=1``
    forces it, ``=0`` turns it off)."""
    forced = os.environ.get("JAXRL_SUITE_DISTRIBUTED", "").lower()
    if forced in ("0", "1", "off", "on", "false", "true"):
        return forced in ("1", "on", "true")
    for var, companion in _LAUNCHERS.items():
        value = os.environ.get(var)
        if value is None or (companion is not None and companion not in os.environ):
            continue
        if companion is None or (value.isdigit() and int(value) > 1):
            return True
    return False


def check_args(coordinator: str | None, num_processes: int | None, process_id: int | None) -> None:
    """Refuse an incomplete or impossible process layout before anything starts."""
    given = [x is not None for x in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise ValueError("--coordinator HOST:PORT, --num-processes N and --process-id I go together")
    if not any(given):
        return
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--coordinator must be HOST:PORT, got {coordinator!r}")
    if num_processes < 1:
        raise ValueError(f"--num-processes must be >= 1, got {num_processes}")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"--process-id must be in [0, {num_processes}), got {process_id}")


def initialize(
    coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> bool:
    """Join a multi-process run (before JAX starts its backend); False when this is a single-process run."""
    check_args(coordinator, num_processes, process_id)
    if coordinator is None and not launched_by_cluster():
        return False
    import jax

    if coordinator is None:
        jax.distributed.initialize()  # the launcher's environment says who is who
    else:
        jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id)
    return True


def is_multiprocess() -> bool:
    import jax

    return jax.process_count() > 1


def is_writer() -> bool:
    """Process 0 writes the run's files and prints; the others compute their share."""
    import jax

    return jax.process_index() == 0


def to_host(tree: Any) -> Any:
    """Whole arrays on the host, on every process (gathered over processes when sharded across them)."""
    import jax

    if not is_multiprocess():
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    def leaf(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(jax.device_get(x))

    return jax.tree.map(leaf, tree)


def barrier(name: str) -> None:
    """Wait until every process gets here (no-op in a single process)."""
    if is_multiprocess():
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def put(tree: Any, sharding: Any) -> Any:
    """``jax.device_put`` onto a sharding that may span several processes (every process holds the same
    values: each places its own shards)."""
    import jax

    if not is_multiprocess():
        return jax.device_put(tree, sharding)

    def leaf(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return jax.device_put(x, sharding)
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = np.asarray(jax.random.key_data(x))
            arr = jax.make_array_from_callback(data.shape, sharding, lambda idx: data[idx])
            return jax.random.wrap_key_data(arr, impl=jax.random.key_impl(x))
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    return jax.tree.map(leaf, tree)
