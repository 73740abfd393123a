"""Crazyflie simulator throughput: the RK4 dynamics over a batch of drones, and the full hover env step.

``dynamics``: ``N`` drones in structure-of-arrays layout (every state component a ``(N,)`` array) stepped by
``dynamics.step`` (RK4 at dt = 0.01 s plus quaternion renormalisation and RPM clamping) inside
``jit(scan)``; per-drone commands near hover. ``env``: ``VecEnv(Quadrotor-Hover-v0, N)`` with random actions,
auto-reset (``always``: a fresh reset computed every step, gymnax semantics; ``pooled``: N/8 per step), the
146-dim observation, reward and the privileged critic observation all summed into the scan carry so XLA
cannot drop them. Compile = first call minus the best timed call; throughput from the best of ``--reps``.
Reference (the project's measurements, same 2-core CPU): a straightforward pure-JAX version of this model ran
1.6 M steps/s at 1,024 drones and 2.6 M at 16,384; the target here is >= 5 M steps/s. Flight seconds per
wall second = steps/s x dt.

Usage: ``python experiments/bench_quadrotor.py [--json] [--quick]``; writes
experiments/results/bench_quadrotor.json (``--quick``, a smoke run, writes
experiments/results/quick/bench_quadrotor.json with ``"smoke": true`` instead).
"""

from __future__ import annotations

import argparse
import json
import os
import platform

import jax
import jax.numpy as jnp

import jaxrl_suite
from jaxrl_suite.envs.quadrotor import dynamics as dyn
from jaxrl_suite.results import first_and_best
from jaxrl_suite.vector import VecEnv

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "bench_quadrotor.json")
QUICK_RESULTS = os.path.join(os.path.dirname(RESULTS), "quick", "bench_quadrotor.json")  # git-ignored
DT = 0.01


def dynamics_rollout(n: int, steps: int):
    """``jit(seed -> final state summed)``: ``steps`` RK4 steps of ``n`` drones from random tilts and rates."""
    params = dyn.crazyflie()

    def run(seed):
        k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
        hover = dyn.hover_state(params, (n,))
        tilt = jax.random.normal(k1, (3, n)) * 0.2
        quat = jnp.concatenate([jnp.ones((1, n)), tilt])
        quat = quat / jnp.linalg.norm(quat, axis=0)
        state = hover.replace(
            quaternion=dyn.unstack(quat), angular_velocity=dyn.unstack(jax.random.normal(k2, (3, n)))
        )
        cmd = dyn.unstack(hover.rpm[0] * (1 + 0.02 * jax.random.normal(k3, (4, n))))

        def body(s, _):
            return dyn.step(params, s, cmd), None

        final, _ = jax.lax.scan(body, state, None, length=steps)
        return sum(jnp.sum(x) for x in jax.tree.leaves(final))

    return jax.jit(run)


def env_rollout(n: int, steps: int, mode: str):
    """``jit(seed -> checksum)``: ``steps`` auto-resetting hover-env steps of ``n`` envs, random actions."""
    env, params = jaxrl_suite.make("Quadrotor-Hover-v0")
    vec = VecEnv(env, n, reset_mode=mode)

    def run(seed):
        key = jax.random.key(seed)
        obs, state = vec.reset(key, params)

        def body(carry, k):
            state, acc = carry
            ka, ks = jax.random.split(k)
            action = jax.random.uniform(ka, (n, 4), minval=-1.0, maxval=1.0)
            obs, state, reward, term, trunc, info = vec.step(ks, state, action, params)
            acc = (
                acc + jnp.sum(obs) + jnp.sum(reward) + jnp.sum(info["privileged_observation"]) + jnp.sum(term)
            )
            return (state, acc), None

        (_, acc), _ = jax.lax.scan(body, (state, jnp.float32(0)), jax.random.split(key, steps))
        return acc

    return jax.jit(run)


def record(kind: str, n: int, steps: int, fn, reps: int, **extra) -> dict:
    first, run_s = first_and_best(fn, 0, reps)
    compile_s = max(first - run_s, 0.0)
    rate = n * steps / run_s
    row = {
        "kind": kind,
        **extra,
        "num": n,
        "steps": steps,
        "compile_s": round(compile_s, 3),
        "run_s": round(run_s, 4),
        "steps_per_s": round(rate),
        "flight_s_per_s": round(rate * DT),
    }
    print(
        f"{kind:9s} {extra.get('reset_mode', ''):7s} N={n:6d} x {steps:5d} steps: {rate / 1e6:7.3f} M steps/s "
        f"({rate * DT / 3600:7.1f} flight h/s)  compile {compile_s:5.2f} s",
        flush=True,
    )
    return row


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the JSON summary as the last line")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, to check the script")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.quick:
        dyn_sizes, env_sizes = [(1, 200), (256, 50)], [(1, 50), (256, 20)]
    else:
        dyn_sizes = [(1, 20_000), (1024, 2_000), (16384, 300)]
        env_sizes = [(1, 2_000), (1024, 200), (16384, 40)]
    rows = [record("dynamics", n, steps, dynamics_rollout(n, steps), args.reps) for n, steps in dyn_sizes]
    for mode in ("always", "pooled"):
        for n, steps in env_sizes:
            rows.append(record("env", n, steps, env_rollout(n, steps, mode), args.reps, reset_mode=mode))
    best = max(r["steps_per_s"] for r in rows if r["kind"] == "dynamics")
    summary = {
        "script": "bench_quadrotor",
        "quick": args.quick,
        "smoke": args.quick,
        "device": str(jax.devices()[0]),
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_start": load,
        "jax": jax.__version__,
        "python": platform.python_version(),
        "dt_s": DT,
        "target_steps_per_s": 5_000_000,
        "best_dynamics_steps_per_s": best,
        "meets_target": best >= 5_000_000,
        "peer_straightforward_jax_steps_per_s": {"1024": 1_600_000, "16384": 2_600_000},
        "rows": rows,
    }
    path = QUICK_RESULTS if args.quick else RESULTS
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(summary, f, indent=2)
    if args.json:
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
