"""The reference SQIRL (PyPI ``effective-horizon`` 0.1.3, ``effective_horizon/sb3/algorithms/sqirl.py``) on a
tabulated MDP, for ``bench_sqirl.py``. Runs in the reference's own environment (``make reference``:
stable-baselines3 2.2.1, CPU torch, no JAX), so it imports nothing from this suite.

Input: an ``.npz`` written by ``bench_sqirl.py`` with the MDP (``obs`` [X, D] float32, the absorbing state's
row last; ``transitions`` and ``rewards`` [X, A]; ``horizon``; ``sticky``) and the settings. The env steps
the table exactly as ``Bridge`` (+ ``StickyActions``) does: the previous executed action repeated with
probability ``sticky`` (never on the first step), termination on entering the absorbing state, truncation at
the horizon. Output (``.npz``): per seed and per finished iteration the env steps so far and the greedy policy
table ``[T, S]`` (``predict`` at every timestep, deterministic: frozen network for t < i, current after), and
the training wall time so far (model construction to that point, the evaluations excluded).

Usage: .venv-ref/bin/python -P experiments/sqirl_reference.py IN.npz OUT.npz   (-P: experiments/effective_horizon.py
would otherwise shadow the reference package)
"""

from __future__ import annotations

import importlib.util
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv


def _load_reference_sqirl():
    """The reference's ``sqirl.py`` module, loaded by path: importing it through its package would run
    ``effective_horizon/__init__.py``, which imports the Atari, Procgen and MiniGrid env registrations (their
    heavy requirements are not installed; ``sqirl.py`` itself needs only numpy, torch, gymnasium and SB3)."""
    spec = importlib.util.find_spec("effective_horizon")
    path = next(iter(spec.submodule_search_locations)) + "/sb3/algorithms/sqirl.py"
    module_spec = importlib.util.spec_from_file_location("reference_sqirl", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


SQIRL = _load_reference_sqirl().SQIRL


class TableEnv(gym.Env):
    """A tabulated MDP: obs rows, transitions (absorbing = last row), rewards, horizon, sticky actions."""

    def __init__(self, obs, transitions, rewards, horizon, sticky):
        self.obs, self.transitions, self.rewards = obs, transitions, rewards
        self.horizon, self.sticky = int(horizon), float(sticky)
        self.absorbing = obs.shape[0] - 1
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, obs.shape[1:], np.float32)
        self.action_space = gym.spaces.Discrete(transitions.shape[1])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s, self.t, self.prev = 0, 0, 0
        return self.obs[0], {}

    def step(self, action):
        a = int(action)
        if self.sticky > 0 and self.t > 0 and self.np_random.random() < self.sticky:
            a = self.prev
        r = float(self.rewards[self.s, a])
        self.s, self.prev, self.t = int(self.transitions[self.s, a]), a, self.t + 1
        terminated = self.s == self.absorbing
        return self.obs[self.s], r, terminated, (self.t >= self.horizon) and not terminated, {}


class Recorded(SQIRL):
    """SQIRL that records, before each collection (so after each finished iteration) and at the end, the
    env steps so far and its greedy non-stationary policy on every state."""

    def setup_recording(self, obs_table: np.ndarray, horizon: int):
        self._table, self._horizon = obs_table, horizon
        self.record_steps, self.record_policies, self.record_wall, self.eval_s = [], [], [], 0.0
        self.start = time.perf_counter()

    def _record(self):
        t0 = time.perf_counter()
        self.record_wall.append(t0 - self.start - self.eval_s)  # training time so far, evaluations excluded
        n = self._table.shape[0]
        policy = [
            self.predict(
                self._table, state=(np.full(n, t),), episode_start=np.zeros(n, bool), deterministic=True
            )[0]
            for t in range(self._horizon)
        ]
        self.record_steps.append(int(self.num_timesteps))
        self.record_policies.append(np.stack(policy).astype(np.int32))
        self.eval_s += time.perf_counter() - t0

    def collect_rollouts(self, *args, **kwargs):
        if self._current_timestep > 0:
            self._record()
        return super().collect_rollouts(*args, **kwargs)


def main(src: str, dst: str) -> None:
    d = np.load(src)
    torch.set_num_threads(1)
    horizon, m, k = int(d["horizon"]), int(d["m"]), int(d["k"])
    out: dict = {}
    for seed in [int(s) for s in d["seeds"]]:
        envs = DummyVecEnv(
            [lambda: TableEnv(d["obs"], d["transitions"], d["rewards"], horizon, float(d["sticky"]))]
            * min(8, m)
        )
        model = Recorded(
            "MlpPolicy",
            envs,
            learning_rate=float(d["lr"]),
            buffer_size=int(d["buffer_size"]),
            episodes_per_timestep=m,
            planning_depth=k,
            batch_size=int(d["minibatch_size"]),
            gamma=float(d["gamma"]),
            n_epochs=int(d["epochs"]),
            scale_losses=True,
            loss_scale_smoothing=0.99,
            policy_kwargs={"net_arch": [int(h) for h in d["hidden"]]},
            seed=seed,
            device="cpu",
        )
        model.setup_recording(d["obs"][:-1], horizon)
        model.learn(total_timesteps=int(d["budget"]))
        model._record()  # after the last iteration
        out[f"steps_{seed}"] = np.asarray(model.record_steps)
        out[f"policies_{seed}"] = np.stack(model.record_policies)
        out[f"wall_s_{seed}"] = np.asarray(model.record_wall)
        out[f"iterations_{seed}"] = np.int64(model._current_timestep)
    np.savez(dst, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
