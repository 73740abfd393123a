"""XLA:CPU layout for small RL programs: one execution thread per device, one device per core.

XLA's CPU client spreads each program's kernels over an intra-op pool with one thread per core. A PPO update
on a tiny environment is thousands of microsecond kernels, so the pool spends more time handing work
between threads than it saves (figures from ``experiments/bench_ppo.py``: the README's "CPU layout").
Seeds and sweep settings then run in parallel, one device per core (``runtime.sharding.run_sharding``);
a single run keeps one device.

Call ``configure(runs=...)`` before JAX initialises its CPU backend (before the first computation, and
before importing gymnax, which computes at import); the CLI does.
"""

from __future__ import annotations

import os
import re
import sys
import warnings


def backend_initialized() -> bool:
    if "jax" not in sys.modules:  # not even imported (`jaxrl-suite list` never imports it)
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # private API moved: assume not yet
        return False


def devices_for(runs: int | None, cores: int | None = None) -> int:
    """CPU devices for ``runs`` independent runs: the most, up to one per core, that divide them evenly
    (``run_sharding`` uses that many). A single run gets one device: a second, idle one still splits the
    first one's kernels over two threads (~20% slower here)."""
    cores = int(cores or len(os.sched_getaffinity(0)))
    if runs is None:
        return cores
    return max(d for d in range(1, cores + 1) if int(runs) % d == 0)


def configure(runs: int | None = None, devices: int | None = None, threads_per_device: int = 1) -> dict:
    """Set the CPU device count (default ``devices_for(runs)``) and intra-op threads (default 1).

    Leaves alone whatever the user already chose: ``NPROC`` in the environment, or a forced device count in
    ``XLA_FLAGS``. Returns what is in effect; warns and changes nothing once the backend is up.
    """
    import jax

    if int(threads_per_device) < 1:
        raise ValueError(f"threads_per_device must be >= 1, got {threads_per_device}")
    if devices is not None and int(devices) < 1:
        raise ValueError(f"devices must be >= 1, got {devices}")
    if runs is not None and int(runs) < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    if backend_initialized():
        warnings.warn(
            "jaxrl_suite.cpu.configure() called after JAX initialised its backends; the CPU layout is unchanged",
            stacklevel=2,
        )
        return {"applied": False}
    os.environ.setdefault("NPROC", str(int(threads_per_device)))  # read by XLA when it builds the CPU client
    forced = re.search(r"--xla_force_host_platform_device_count=(\d+)", os.environ.get("XLA_FLAGS", ""))
    n = int(forced.group(1)) if forced else int(devices or devices_for(runs))
    if not forced:
        jax.config.update("jax_num_cpu_devices", n)
    return {"applied": True, "cpu_devices": n, "threads_per_device": int(os.environ["NPROC"])}
