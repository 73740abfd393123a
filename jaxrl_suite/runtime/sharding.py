"""Shard the run axis (seeds x settings) across devices with ``jax.sharding``.

Runs are independent, so a 1-D mesh over the run axis needs no communication: each device trains its share.
On several hosts, call ``jax.distributed.initialize()`` first in every process; ``jax.devices()`` then lists
every host's devices and the same code shards the runs over all of them (each process must be given the same
keys and hyperparameters, as with any multi-controller JAX program).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def run_sharding(num_runs: int, devices: list | None = None) -> NamedSharding:
    """Shard a leading axis of ``num_runs`` over the largest number of devices that divides it."""
    devices = list(jax.devices() if devices is None else devices)
    n = max(d for d in range(1, len(devices) + 1) if num_runs % d == 0)
    mesh = Mesh(np.array(devices[:n]), ("runs",))
    return NamedSharding(mesh, PartitionSpec("runs"))
