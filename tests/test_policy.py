"""Loading a trained policy and the shared evaluation module: a script that loads a run sees what
``jaxrl-suite eval`` sees, and evaluation and rollouts give what the code they replaced gave (recorded)."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from subprocesses import child_env

import jaxrl_suite
from jaxrl_suite import evaluation
from jaxrl_suite.algos import ppo
from jaxrl_suite.cli import main as cli_main
from jaxrl_suite.runtime import train_runs
from jaxrl_suite.runtime.checkpoint import Checkpointer


@pytest.fixture(scope="module")
def two_runs(tiny_trainer, tmp_path_factory):
    """Two CartPole runs trained briefly into a run directory, as a script would: ``(run_dir, result)``."""
    out = tmp_path_factory.mktemp("policy") / "run"
    spec = {"algo": "ppo", "env": "CartPole-v1", "config": dataclasses.asdict(tiny_trainer.config)}
    keys = jax.random.split(jax.random.key(0), 2)
    res = train_runs(tiny_trainer, keys, ppo.PPOHparams(), out_dir=out, spec=spec, progress=False)
    return out, res


def test_loaded_policy_is_run_1_and_evaluates_as_the_cli_does(two_runs, tiny_trainer, capsys):
    out, res = two_runs
    policy = jaxrl_suite.load_policy(out, run=1)
    assert policy.run == 1 and policy.spec["env"] == "CartPole-v1" and policy.meta["update"] == 12

    # the same actions as the trainer acting with run 1's final state, greedy and sampled
    state1 = jax.tree.map(lambda x: x[1], res.state)
    obs, _ = jax.vmap(policy.env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.key(1), 64), policy.env_params
    )
    for greedy in (True, False):
        mine = jax.jit(lambda a, o, k, g=greedy: a(o, k, greedy=g))(policy.act, obs, jax.random.key(2))
        theirs = tiny_trainer.act(state1, obs, jax.random.key(2), greedy)
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    loaded = jax.tree.leaves(policy.act.args[0].params)
    run0 = jax.tree.leaves(jax.tree.map(lambda x: x[0], res.state).params)
    assert all(np.array_equal(a, b) for a, b in zip(loaded, jax.tree.leaves(state1.params), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(loaded, run0, strict=True))

    # evaluated in a script == `jaxrl-suite eval --run 1` == the learner module's evaluate
    ep = jax.jit(lambda a, k: evaluation.evaluate(policy.env, policy.env_params, a, k, 8))(
        policy.act, jax.random.key(5)
    )
    assert (
        cli_main(["eval", "--checkpoint", str(out), "--run", "1", "--episodes", "8", "--seed", "5", "--json"])
        == 0
    )
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    returns = np.asarray(ep.returns)
    assert ev["run"] == 1 and ev["update"] == 12 and ev["greedy"] is True
    assert ev["return_mean"] == float(returns.mean()) and ev["return_std"] == float(returns.std())
    assert ev["length_mean"] == float(np.asarray(ep.lengths).mean()) and bool(np.asarray(ep.finished).all())
    old_api = jax.jit(lambda s, k: ppo.evaluate(tiny_trainer, s, k, 8))(state1, jax.random.key(5))
    np.testing.assert_array_equal(np.asarray(old_api["return"]), returns)


def test_load_errors_are_one_clear_line(two_runs, tmp_path, monkeypatch):
    out, _ = two_runs
    missing = tmp_path / "runz" / "cp"
    with pytest.raises(ValueError, match="no run directory or checkpoint folder"):
        jaxrl_suite.load_policy(missing)
    assert not missing.parent.exists()  # nothing created
    with pytest.raises(ValueError, match="no checkpoint found"):
        jaxrl_suite.load_policy(tmp_path)  # a directory without checkpoints
    for run in (2, -1):
        with pytest.raises(
            ValueError, match=r"run -?\d is out of range: .* holds 2 run\(s\), numbered 0 to 1"
        ):
            jaxrl_suite.load_policy(out, run=run)

    restore = Checkpointer.restore

    def diverged_run_1(self, template, step=None):
        state, meta = restore(self, template, step)
        return state, {**meta, "diverged": {"1": 7}}

    monkeypatch.setattr(Checkpointer, "restore", diverged_run_1)
    with pytest.raises(ValueError, match="run 1 of .* diverged at update 7: its parameters are not finite"):
        jaxrl_suite.load_policy(out, run=1)
    assert jaxrl_suite.load_policy(out, run=0).run == 0  # the survivor still loads

    read_meta = Checkpointer.read_meta
    monkeypatch.setattr(
        Checkpointer, "read_meta", lambda self, step=None: {**read_meta(self, step), "spec": {}}
    )
    with pytest.raises(ValueError, match="does not name its learner and environment"):
        jaxrl_suite.load_policy(out)


# Outputs recorded from the implementations this module replaced (algos/ppo.py evaluate/rollout_states and
# experiments/quadrotor_hover.py fly) with a key-dependent policy: the key layouts and results are unchanged.


LAST_STATE = [-0.26960275, -0.74845523, 0.21257035, 1.1693889]  # x, x_dot, theta, theta_dot
X_LAST = [0.14164758, -0.17444399, 0.15642925, 0.091037072, -0.22142473]  # cart positions after 40 steps
X_10 = [0.076513723, 0.085631177, -0.027630573, 0.033729803, 0.071308605]  # ... after 11


def _policy(obs, key):
    """Balance the pole, with 30% of the actions flipped at random (every key matters)."""
    a = (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(jnp.int32)
    return jnp.where(jax.random.uniform(key, a.shape) < 0.3, 1 - a, a)


def test_evaluation_and_rollouts_match_the_recorded_outputs():
    env, params = jaxrl_suite.make("CartPole-v1")
    ep = jax.jit(lambda k: evaluation.evaluate(env, params, _policy, k, 6))(jax.random.key(11))
    np.testing.assert_array_equal(np.asarray(ep.returns), [188, 25, 74, 67, 171, 162])
    np.testing.assert_array_equal(np.asarray(ep.lengths), [188, 25, 74, 67, 171, 162])
    assert np.asarray(ep.finished).all()

    # one episode for rendering: reset state, 32 steps, the final state held after the end
    ro = jax.jit(lambda k: evaluation.rollout(env, params, _policy, k))(jax.random.key(12))
    ended, time = np.asarray(ro.ended), np.asarray(ro.states.time)
    n = int(np.argmax(ended))
    assert ended.shape == (501,) and n == 33 and not ended[:n].any() and ended[n:].all()
    np.testing.assert_array_equal(time[:n], np.arange(n))
    assert (time[n:] == n - 1).all() and bool(ro.finished)
    for i in (n - 1, -1):
        got = [float(np.asarray(getattr(ro.states, f))[i]) for f in ("x", "x_dot", "theta", "theta_dot")]
        np.testing.assert_allclose(got, LAST_STATE, rtol=1e-6)

    # a batch stepped past its end, recording one value per step
    ro = jax.jit(
        lambda k: evaluation.rollout(
            env,
            params.replace(max_steps_in_episode=10**9),
            _policy,
            k,
            40,
            num_episodes=5,
            hold=False,
            record=lambda s, _: s.x,
        )
    )(jax.random.key(13))
    assert ro.states is None and ro.info.shape == (40, 5) and ro.ended.shape == (41, 5)
    np.testing.assert_array_equal(np.asarray(ro.finished), [False, False, True, False, True])
    np.testing.assert_allclose(np.asarray(ro.info[-1]), X_LAST, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ro.info[10]), X_10, rtol=1e-6)


def test_a_run_trained_on_two_devices_loads_on_one(tmp_path):
    """Checkpoints restore onto this process's devices, not the ones they were saved from."""
    import subprocess
    import sys

    two = child_env(2)
    train = ["train", "ppo", "--env", "CartPole-v1", "--total-steps", "256", "--num-steps", "32",
             "--num-minibatches", "2", "--update-epochs", "1", "--seeds", "2", "--no-progress"]  # fmt: skip
    cli = [sys.executable, "-m", "jaxrl_suite"]
    out = subprocess.run([*cli, *train, "--out", str(tmp_path)], env=two, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    one = child_env()
    ev = subprocess.run([*cli, "eval", "--checkpoint", str(tmp_path), "--run", "1", "--episodes", "2"], env=one,
                        capture_output=True, text=True)  # fmt: skip
    assert ev.returncode == 0, ev.stderr[-2000:]
