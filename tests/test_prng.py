"""jaxrl_suite.prng (unrolled threefry keys, bit-identical to JAX's) and jaxrl_suite.cpu (XLA:CPU layout)."""

import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from subprocesses import child_env

from jaxrl_suite.prng import default_key, fast_key


def _data(x):
    return np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x)


DRAWS = {
    "split": lambda k: jax.random.split(k, (3, 4)),
    "fold_in": lambda k: jax.random.fold_in(k, 12345),
    "bits8": lambda k: jax.random.bits(k, (5, 3), jnp.uint8),
    "bits16": lambda k: jax.random.bits(k, (7,), jnp.uint16),
    "bits32": lambda k: jax.random.bits(k, (2, 9)),
    "uniform": lambda k: jax.random.uniform(k, (1000,)),
    "normal": lambda k: jax.random.normal(k, (10, 7)),
    "categorical": lambda k: jax.random.categorical(k, jnp.zeros((50, 3))),
    "permutation": lambda k: jax.random.permutation(k, 512),
    "vmapped": lambda k: jax.vmap(lambda kk: jax.random.normal(kk, (4,)))(jax.random.split(k, 8)),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_fast_keys_draw_exactly_what_default_keys_draw(name):
    key = jax.random.key(42)
    np.testing.assert_array_equal(_data(DRAWS[name](fast_key(key))), _data(DRAWS[name](key)))


def test_fast_key_conversions_and_no_loop():
    key = jax.random.key(7)
    fast = fast_key(key)
    assert fast.dtype != key.dtype and fast_key(fast) is fast
    np.testing.assert_array_equal(_data(default_key(fast)), _data(key))
    np.testing.assert_array_equal(_data(fast_key(jax.random.key_data(key))), _data(key))
    text = jax.jit(lambda k: jax.random.uniform(k, (4,))).lower(fast).as_text()
    assert "while" not in text  # JAX's CPU lowering of its own threefry is a 5-trip loop


def test_derived_keys_are_not_fused_into_the_next_hash():
    # a split of a split feeding random bits: each hash in its own kernel (one hash = 20 rotation xors + 1),
    # not one fused chain that LLVM takes up to a second to compile
    draw = jax.jit(lambda k: jax.random.bits(jax.random.split(jax.random.split(k, 3)[1], 256)[7], (4,)))
    text = draw.lower(fast_key(jax.random.key(0))).compile().as_text()
    fused = re.findall(r"\n(%fused\S* .*?\n\})", text, re.S)
    xors = [body.count(" xor(") for body in fused]
    assert len(xors) >= 3 and max(xors) < 2 * 21, xors


def test_cpu_configure_sets_one_device_per_core_before_the_backend_starts():
    env = child_env()
    code = (
        "import warnings; from jaxrl_suite import cpu; r = cpu.configure(); import jaxrl_suite.algos.ppo, jax;"
        "n = jax.device_count();"
        "w = warnings.catch_warnings(record=True); ws = w.__enter__(); warnings.simplefilter('always');"
        "late = cpu.configure(); print(r['cpu_devices'], n, r['threads_per_device'], late['applied'], len(ws))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    devices, seen, threads, late, warned = out.stdout.split()
    assert int(devices) == int(seen) == len(os.sched_getaffinity(0))
    assert threads == "1" and late == "False" and warned == "1"
    with pytest.raises(ValueError, match="threads_per_device"):
        from jaxrl_suite import cpu

        cpu.configure(threads_per_device=0)


def test_cpu_devices_divide_the_runs_evenly():
    from jaxrl_suite.cpu import devices_for

    assert [devices_for(r, cores=2) for r in (1, 2, 3, 8)] == [1, 2, 1, 2]
    assert devices_for(None, cores=2) == 2 and devices_for(6, cores=4) == 3
