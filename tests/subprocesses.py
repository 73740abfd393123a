"""How tests start JAX processes: every test process compiles with LLVM optimisation off (the programs are
tiny, so compiling dominates: about a quarter less CPU time, same HLO passes and semantics), and a child
process gets exactly the CPU layout its test asks for."""

from __future__ import annotations

import os

FAST_COMPILE = "--xla_backend_optimization_level=0"


def with_fast_compile(flags: str) -> str:
    """``flags`` plus the tests' compile setting (once)."""
    return flags if FAST_COMPILE in flags else f"{flags} {FAST_COMPILE}".strip()


def child_env(devices: int | None = None, fast_compile: bool = True, **extra: str) -> dict:
    """This process's environment for a JAX child on the CPU: the user's XLA_FLAGS and NPROC dropped, the
    tests' compile setting kept (``fast_compile=False``: XLA's defaults, where a test measures compiling as a
    user meets it), ``devices`` forced host devices when given, then ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "NPROC")}
    flags = f"--xla_force_host_platform_device_count={devices}" if devices else ""
    return {
        **env,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": with_fast_compile(flags) if fast_compile else flags,
        **extra,
    }
