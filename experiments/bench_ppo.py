"""Benchmark: PPO on CartPole-v1 with PureJaxRL's defaults, ours vs stable-baselines3 in the same process.

Work: 4 envs x 128 steps, 5e5 steps, 4 epochs x 4 minibatches, lr 2.5e-4 annealed (PureJaxRL ``ppo.py``).
Reports compile and train seconds (medians of ``--repeats`` fresh compiles and runs; all values are kept in
the JSON), env steps/s, and 8 seeds vmapped in one program, sharded one device per core with one XLA thread
each (``jaxrl_suite.cpu.configure``, as the CLI runs; the single seed uses one device, so one core).
Time to 475 follows one rule on both sides (``jaxrl_suite.runtime.episodes.THRESHOLD_RULE``): the first
update (rollout) after which the mean return of the run's last 20 finished episodes is >= 475. Ours reads the
learner's ``return_last20`` metric; stable-baselines3 PPO (PyTorch, CPU, 2 threads, same settings) checks its
episode buffer at the end of each rollout. Steps to 475 are reported for every seed of the 8-seed run
(min/median/max), wall seconds (compile included) from the single-seed timing. PureJaxRL and rejax cannot be
installed beside gymnax 1.0 (their step API broke), so their figures are quiet-machine measurements carried
here as constants.

``--quick`` is a smoke run (2 seeds, 16 K steps, one repeat) written to ``experiments/results/quick/`` with
``"smoke": true``; only a full run writes the committed ``experiments/results/bench_ppo.json``.

Usage: python experiments/bench_ppo.py [--json] [--seeds 8] [--repeats 3] [--no-sb3] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from jaxrl_suite import cpu

# Each timing runs in its own process, laid out for its number of runs before anything (gymnax's import)
# starts XLA's CPU backend, as the CLI does: one device for one seed, one device per core for 8.
_worker = argparse.ArgumentParser(add_help=False)
_worker.add_argument("--worker-seeds", type=int, default=None)
WORKER_SEEDS = _worker.parse_known_args()[0].worker_seeds if __name__ == "__main__" else None
LAYOUT = cpu.configure(runs=WORKER_SEEDS or 1) if __name__ == "__main__" else {}

import jax  # noqa: E402
import numpy as np  # noqa: E402

import jaxrl_suite  # noqa: E402
from jaxrl_suite.algos.ppo import PPOConfig, PPOHparams, make_train  # noqa: E402
from jaxrl_suite.results import publish  # noqa: E402
from jaxrl_suite.runtime.episodes import METRIC, THRESHOLD_RULE, WINDOW  # noqa: E402
from jaxrl_suite.runtime.plots import forward_fill  # noqa: E402
from jaxrl_suite.runtime.sharding import run_sharding  # noqa: E402
from jaxrl_suite.stats import censored_spread as spread  # noqa: E402

THRESHOLD = 475.0
RESULTS = Path(__file__).parent / "results"
PEERS_MEASURED = {  # 2-core CPU, quiet machine, jax 0.10.2 (the project's reference measurements)
    "purejaxrl": {"compile_s": 8.1, "train_s": 4.6, "steps_to_475": 62_000, "seeds8_train_s": 32.9},
    "rejax": {"compile_s": 6.2, "train_s": 4.2},
    "sb3": {"wall_s_to_475": 33.0, "steps_to_475": 126_000},
}


def time_ours(seeds: int, total_steps: int, repeats: int, policy: str = "mlp") -> dict:
    """Compile and train times; ``policy="gru"`` is the recurrent row: a GRU (64) on CartPole-masked-v1 with
    the same settings (4 envs x 128 steps, 4 epochs x 4 minibatches, which split along envs)."""
    env_id = "CartPole-v1" if policy == "mlp" else "CartPole-masked-v1"
    env, params = jaxrl_suite.make(env_id)
    trainer = make_train(PPOConfig(total_timesteps=total_steps, policy=policy, rnn_hidden=64), env, params)
    if seeds > 1:
        sharding = run_sharding(seeds)
        keys = jax.device_put(jax.random.split(jax.random.key(0), seeds), sharding)
        fn = jax.jit(
            jax.vmap(trainer, in_axes=(0, None)), in_shardings=(sharding, None), out_shardings=sharding
        )
    else:
        keys, fn = jax.random.key(0), jax.jit(trainer)
    compile_times, train_times = [], []
    for _ in range(repeats):  # each a fresh trace + compile
        jax.clear_caches()
        t0 = time.perf_counter()
        compiled = fn.lower(keys, PPOHparams()).compile()
        compile_times.append(time.perf_counter() - t0)
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = compiled(keys, PPOHparams())
        jax.block_until_ready(out)
        train_times.append(time.perf_counter() - t0)
    compile_s, train_s = float(np.median(compile_times)), float(np.median(train_times))
    ret = forward_fill(np.asarray(out.metrics["return"]).reshape(seeds, -1))  # per-update learning curve
    last20 = np.asarray(out.metrics[METRIC]).reshape(seeds, -1)  # NaN until 20 episodes: never a hit
    steps = np.asarray(out.metrics["steps"]).reshape(seeds, -1)[0]
    first = []
    for r in last20:
        hit = np.flatnonzero(r >= THRESHOLD)
        first.append(int(steps[hit[0]]) if hit.size else None)
    final = ret[:, -max(1, ret.shape[1] // 20) :].mean(axis=1)
    reached = [f for f in first if f is not None]
    res = {
        "env": env_id,
        "policy": policy,
        "seeds": seeds,
        "devices": len(keys.sharding.device_set),
        "cpu_layout": LAYOUT,
        "compile_s": compile_s,
        "train_s": train_s,
        "compile_s_all": compile_times,
        "train_s_all": train_times,
        "steps_per_s": seeds * trainer.config.num_updates * trainer.config.batch_size / train_s,
        "final_return_mean": float(final.mean()),
        "threshold_rule": THRESHOLD_RULE,
        "steps_to_475_per_seed": first,
        "steps_to_475_spread": spread(first),
        "seeds_reaching_475": len(reached),
    }
    if seeds == 1 and first[0] is not None:
        res["steps_to_475"] = first[0]
        res["wall_s_to_475"] = compile_s + train_s * first[0] / (
            trainer.config.num_updates * trainer.config.batch_size
        )
    return res


def time_sb3(max_steps: int) -> dict:
    import gymnasium
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(2)

    class StopAt475(BaseCallback):
        """THRESHOLD_RULE, checked where ours is: after each rollout (update), on the last 20 finished episodes.

        SB3 appends a step's finished episodes to ``ep_info_buffer`` (a deque of the last 100, in env order)
        only after calling ``on_step``, so a check in ``on_step`` lags one vector step; at the rollout's end
        the buffer holds every episode of the rollout. The next ``on_step`` then stops training.
        """

        def __init__(self):
            super().__init__()
            self.hit_steps = None
            self.hit_time = None

        def _on_rollout_end(self) -> None:
            buf = self.model.ep_info_buffer
            if self.hit_steps is None and len(buf) >= WINDOW:
                if np.mean([e["r"] for e in list(buf)[-WINDOW:]]) >= THRESHOLD:
                    self.hit_steps, self.hit_time = self.num_timesteps, time.perf_counter()

        def _on_step(self) -> bool:
            return self.hit_steps is None

    del gymnasium
    t0 = time.perf_counter()
    venv = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=128,
        batch_size=128,
        n_epochs=4,
        learning_rate=lambda f: 2.5e-4 * f,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        ent_coef=0.01,
        vf_coef=0.5,
        max_grad_norm=0.5,
        policy_kwargs={"net_arch": [64, 64], "activation_fn": torch.nn.Tanh},
        seed=0,
        device="cpu",
    )
    cb = StopAt475()
    model.learn(total_timesteps=max_steps, callback=cb)
    end = time.perf_counter()
    return {
        "wall_s_to_475": None if cb.hit_time is None else cb.hit_time - t0,
        "steps_to_475": cb.hit_steps,
        "wall_s": end - t0,
        "steps": int(model.num_timesteps),
        "threshold_rule": THRESHOLD_RULE,
        "torch": torch.__version__,
    }


def _worker_run(seeds: int, args: argparse.Namespace, policy: str = "mlp") -> dict:
    cmd = [sys.executable, __file__, "--worker-seeds", str(seeds), "--total-steps", str(args.total_steps)]
    cmd += ["--worker-policy", policy]
    out = subprocess.run(cmd + ["--repeats", str(args.repeats)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--total-steps", type=int, default=500_000)
    ap.add_argument("--repeats", type=int, default=3, help="fresh compiles and runs; medians are reported")
    ap.add_argument(
        "--no-sb3", action="store_true", help="skip stable-baselines3 (not installed: make bench)"
    )
    ap.add_argument(
        "--quick", action="store_true", help="smoke run (2 seeds, 16 K steps) into results/quick/"
    )
    ap.add_argument("--worker-seeds", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--worker-policy", default="mlp", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker_seeds:  # one timing, in this (freshly laid out) process
        print(json.dumps(time_ours(args.worker_seeds, args.total_steps, args.repeats, args.worker_policy)))
        return {}
    if args.quick:
        args.seeds, args.total_steps, args.repeats = 2, 16_384, 1
        args.no_sb3 = args.no_sb3 or importlib.util.find_spec("stable_baselines3") is None
    one = _worker_run(1, args)
    many = _worker_run(args.seeds, args)
    gru = _worker_run(1, args, "gru")  # the recurrent row: same settings, same run
    walls = [
        None if s is None else one["compile_s"] + s / one["steps_per_s"]
        for s in many["steps_to_475_per_seed"]
    ]
    result = {
        "benchmark": "bench_ppo",
        "smoke": args.quick,
        "work": "CartPole-v1, PureJaxRL defaults: 4 envs x 128 steps, 4 epochs x 4 minibatches, lr 2.5e-4 annealed",
        "total_steps": args.total_steps,
        "threshold_rule": THRESHOLD_RULE,
        # over the seeds of the vmapped run; wall = single-seed compile + steps at single-seed speed
        "steps_to_475": {"seeds": args.seeds, **many["steps_to_475_spread"]},
        "wall_s_to_475": {"seeds": args.seeds, **spread(walls)},
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {jax.devices()[0].device_kind}",
        "jax": jax.__version__,
        "ours_1_seed": one,
        f"ours_{args.seeds}_seeds": many,
        "seeds_time_ratio": many["train_s"] / one["train_s"],
        "peers_measured": PEERS_MEASURED,
        "compile_speedup_vs_rejax": PEERS_MEASURED["rejax"]["compile_s"] / one["compile_s"],
        "train_speedup_vs_rejax": PEERS_MEASURED["rejax"]["train_s"] / one["train_s"],
        "train_speedup_vs_purejaxrl": PEERS_MEASURED["purejaxrl"]["train_s"] / one["train_s"],
        "recurrent_1_seed": gru,
        "recurrent_vs_feed_forward": {
            "work": "GRU (64) PPO on CartPole-masked-v1 vs feed-forward PPO on CartPole-v1, same settings",
            "compile_ratio": gru["compile_s"] / one["compile_s"],
            "train_ratio": gru["train_s"] / one["train_s"],
            "targets": "train <= 2x, compile <= 1.5x",
        },
    }
    if not args.no_sb3:
        sb3 = time_sb3(args.total_steps)
        result["sb3"] = sb3
        if sb3["wall_s_to_475"] and one.get("wall_s_to_475"):
            result["wall_to_475_speedup_vs_sb3"] = sb3["wall_s_to_475"] / one["wall_s_to_475"]
        if sb3["wall_s_to_475"] and result["wall_s_to_475"]["median"]:
            result["wall_to_475_speedup_vs_sb3_seed_median"] = (
                sb3["wall_s_to_475"] / result["wall_s_to_475"]["median"]
            )

    def lines():
        yield (
            f"ours, 1 seed: compile {one['compile_s']:.2f}s, train {one['train_s']:.2f}s "
            f"({one['steps_per_s']:.3g} steps/s), 475 at {one.get('steps_to_475')} steps, "
            f"{one.get('wall_s_to_475') or float('nan'):.2f}s wall incl. compile"
        )
        spread_475 = result["steps_to_475"]
        yield (
            f"ours, {args.seeds} seeds vmapped: train {many['train_s']:.2f}s = {result['seeds_time_ratio']:.2f}x one "
            f"seed; {many['seeds_reaching_475']}/{args.seeds} reach 475, steps to 475 min/median/max "
            f"{spread_475['min']}/{spread_475['median']}/{spread_475['max']} ({THRESHOLD_RULE})"
        )
        yield (
            f"vs rejax (measured): compile {result['compile_speedup_vs_rejax']:.2f}x, "
            f"train {result['train_speedup_vs_rejax']:.2f}x faster"
        )
        rec = result["recurrent_vs_feed_forward"]
        yield (
            f"recurrent (GRU, CartPole-masked-v1), 1 seed: compile {gru['compile_s']:.2f}s "
            f"({rec['compile_ratio']:.2f}x feed-forward), train {gru['train_s']:.2f}s ({rec['train_ratio']:.2f}x)"
        )
        if "sb3" in result:
            yield (
                f"stable-baselines3: 475 at {result['sb3']['steps_to_475']} steps, "
                f"{result['sb3']['wall_s_to_475']}s wall; speedup {result.get('wall_to_475_speedup_vs_sb3')}"
            )

    out = RESULTS / "quick" / "bench_ppo.json" if args.quick else RESULTS / "bench_ppo.json"
    return publish(result, out, lines, args.json)


if __name__ == "__main__":
    main()
