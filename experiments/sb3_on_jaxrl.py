"""stable-baselines3 training on a jaxrl-suite environment through ``to_gymnasium`` (needs ``make bench``).

Shows the bridge works for gymnasium tools: SB3's own ``check_env`` passes and its PPO learns.
Usage: python experiments/sb3_on_jaxrl.py [--env CartPole-v1] [--steps 20000] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import jaxrl_suite
from jaxrl_suite.wrappers import to_gymnasium


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="CartPole-v1")
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from stable_baselines3 import PPO
    from stable_baselines3.common.env_checker import check_env

    env, params = jaxrl_suite.make(args.env)
    genv = to_gymnasium(env, params=params, seed=0)
    check_env(genv)
    t0 = time.perf_counter()
    model = PPO("MlpPolicy", genv, n_steps=256, seed=0, device="cpu", verbose=0).learn(args.steps)
    train_s = time.perf_counter() - t0
    returns = []
    for ep in range(args.episodes):
        obs, _ = genv.reset(seed=ep)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = genv.step(action)
            total, done = total + reward, terminated or truncated
        returns.append(total)
    summary = {
        "experiment": "sb3_on_jaxrl",
        "env": args.env,
        "steps": args.steps,
        "train_s": train_s,
        "eval_return_mean": float(np.mean(returns)),
        "eval_returns": returns,
    }
    out = Path(__file__).parent / "results" / "sb3_on_jaxrl.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    if not args.json:
        print(
            f"SB3 PPO on jaxrl-suite {args.env}: {args.steps} steps in {train_s:.1f}s, eval return {np.mean(returns):.1f}"
        )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
