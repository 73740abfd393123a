"""The conformance suite: every registered environment honours the API contract of ``jaxrl_suite.env``.

One jitted, vmapped random rollout per id (compiled once, shared by all checks through a fixture) plus an
unbatched jit of reset/step. Gymnax and Brax ids run a representative subset to keep CI time down, and so do
MiniGrid's size variants (``conformance_ids``; ``make test-slow`` checks every one). A few ids
also run the rollout checks through ``VecEnv`` (the batched path PPO trains on; grid envs take its
state-only step there), one grid id through its pooled resets.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest
from runs import trees_equal

import jaxrl_suite
from jaxrl_suite.registry import spec
from jaxrl_suite.vector import VecEnv

NUM_ENVS = 4
NUM_STEPS = 40
MAX_STEPS = 12  # short episodes so truncation and auto-reset happen inside the rollout

GYMNAX_SUBSET = [
    "CartPole-v1",
    "Pendulum-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Breakout-MinAtar",
    "SpaceInvaders-MinAtar",
    "Catch-bsuite",
    "DeepSea-bsuite",
    "MemoryChain-bsuite",
    "UmbrellaChain-bsuite",
    "FourRooms-misc",
    "MetaMaze-misc",
    "GaussianBandit-misc",
]
# Every gymnax id has passed this suite except MNISTBandit-bsuite, which downloads MNIST at
# construction (no network in CI), and three whose declared spaces were wrong (corrected in adapters/gymnax.py).
BRAX_SUBSET = ["brax/inverted_pendulum"]
# (id, VecEnv reset mode): the env kinds VecEnv steps differently (gymnax and probes through step_env, grid envs
# through their state-only protocol), plus the pooled resets that procedural levels use
VEC_CASES = [
    ("CartPole-v1", "always"),
    ("MiniGrid-DoorKey-5x5-v0", "always"),
    ("MiniGrid-DoorKey-5x5-v0", "pooled"),
    ("Probe-obs-continuous-v0", "always"),
]


def conformance_ids() -> tuple[list[str], list[str]]:
    """(ids CI checks, ids only ``make test-slow`` checks). A MiniGrid id that differs from an earlier one of
    its family only in integer options (sizes, counts: the same code on other array shapes) is a variant;
    the first of each kind stands for it in CI."""
    ids, variants, seen = [], [], set()
    for env_id in jaxrl_suite.registered():
        s = spec(env_id)
        if s.family == "gymnax" and env_id not in GYMNAX_SUBSET:
            continue
        if s.family == "brax" and env_id not in BRAX_SUBSET:
            continue
        kind = (str(s.entry_point), sorted((k, str(v)) for k, v in s.kwargs.items() if not _is_int(v)))
        if s.family == "minigrid" and repr(kind) in seen:
            variants.append(env_id)
            continue
        seen.add(repr(kind))
        ids.append(env_id)
    return ids, variants


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def short_params(params):
    names = {f.name for f in dataclasses.fields(params)}
    assert "max_steps_in_episode" in names, "params must carry max_steps_in_episode"
    return params.replace(max_steps_in_episode=MAX_STEPS)


def make_rollout(env, params, reset_mode=None):
    """The random rollout, through ``vmap(env.step)`` or (``reset_mode`` given) ``VecEnv``'s batched step."""
    obs_space, act_space = env.observation_space(params), env.action_space(params)
    if reset_mode is None:
        vstep = jax.vmap(env.step, in_axes=(0, 0, 0, None))
        vreset = lambda key: jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, NUM_ENVS), params)
    else:
        vec = VecEnv(env, NUM_ENVS, reset_mode=reset_mode, pool_size=2 if reset_mode == "pooled" else None)
        vstep = lambda keys, state, action, params: vec.step(keys[0], state, action, params)
        vreset = lambda key: vec.reset(key, params)

    def rollout(key):
        k_reset, k_steps = jax.random.split(key)
        obs0, state0 = vreset(k_reset)

        def body(carry, k):
            state = carry
            ka, ks = jax.random.split(k)
            action = jax.vmap(act_space.sample)(jax.random.split(ka, NUM_ENVS))
            obs, state, reward, term, trunc, info = vstep(
                jax.random.split(ks, NUM_ENVS), state, action, params
            )
            out = {
                "obs": obs,
                "reward": reward,
                "terminated": term,
                "truncated": trunc,
                "final_obs": info["final_observation"],
                "info_terminated": info["terminated"],
                "info_truncated": info["truncated"],
                "time": state.time,
                "obs_in_space": jax.vmap(obs_space.contains)(obs),
                "final_in_space": jax.vmap(obs_space.contains)(info["final_observation"]),
                "action_in_space": jax.vmap(act_space.contains)(action),
            }
            if "privileged_observation" in info:
                out["privileged"] = info["privileged_observation"]
                out["final_privileged"] = info["final_privileged_observation"]
            return state, out

        _, traj = jax.lax.scan(body, state0, jax.random.split(k_steps, NUM_STEPS))
        return obs0, state0, jax.vmap(obs_space.contains)(obs0), traj

    return jax.jit(rollout)


_CI_IDS, _VARIANT_IDS = conformance_ids()
CASES = (
    [pytest.param((env_id, None), id=env_id) for env_id in _CI_IDS]
    + [pytest.param((env_id, None), id=env_id, marks=pytest.mark.slow) for env_id in _VARIANT_IDS]
    + [pytest.param((env_id, mode), id=f"{env_id}-VecEnv-{mode}") for env_id, mode in VEC_CASES]
)


@pytest.fixture(scope="module", params=CASES)
def case(request):
    env_id, reset_mode = request.param
    env, params = jaxrl_suite.make(env_id)
    params = short_params(params)
    rollout = make_rollout(env, params, reset_mode)
    key = jax.random.key(7)
    first = jax.device_get(rollout(key))
    return {"id": env_id, "env": env, "params": params, "rollout": rollout, "key": key, "out": first,
            "vec": reset_mode is not None}  # fmt: skip


def env_level_only(case):
    """Checks of the env itself (not of the batched rollout path): run once per id, not again per VecEnv."""
    if case["vec"]:
        pytest.skip("an env-level check: run on the vmapped case of this id")


def _done_mask(traj):
    return np.asarray(traj["terminated"]) | np.asarray(traj["truncated"])


def test_registered_with_description(case):
    env_level_only(case)
    assert jaxrl_suite.registered()[case["id"]].strip()


def test_same_key_same_trajectory(case):
    again = jax.device_get(case["rollout"](case["key"]))
    assert trees_equal(case["out"], again)


def test_unbatched_jit_matches_vmapped_row(case):
    env_level_only(case)
    env, params = case["env"], case["params"]
    keys = jax.random.split(jax.random.split(case["key"])[0], NUM_ENVS)
    obs, state = jax.jit(env.reset)(keys[1], params)
    obs0_batched = jax.tree.map(lambda x: x[1], case["out"][0])
    # vmapped and unbatched programs may fuse float math differently: equal up to rounding, integers exactly
    for a, b in zip(jax.tree.leaves(jax.device_get(obs)), jax.tree.leaves(obs0_batched), strict=True):
        if np.issubdtype(a.dtype, np.floating):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(a, b)
    action = env.action_space(params).sample(jax.random.key(3))
    out = jax.jit(env.step)(jax.random.key(4), state, action, params)
    assert len(out) == 6 and isinstance(out[5], dict)


def test_observations_in_space(case):
    obs0_in, traj = case["out"][2], case["out"][3]
    assert np.all(obs0_in), "reset observation outside observation_space"
    assert np.all(traj["obs_in_space"]), "step observation outside observation_space"
    assert np.all(traj["final_in_space"]), "final observation outside observation_space"


def test_sampled_actions_accepted(case):
    assert np.all(case["out"][3]["action_in_space"])


def test_flags_shapes_and_dtypes(case):
    traj = case["out"][3]
    for name in ("terminated", "truncated"):
        assert traj[name].dtype == np.bool_ and traj[name].shape == (NUM_STEPS, NUM_ENVS)
        assert np.array_equal(traj[name], traj["info_" + name])
    assert traj["reward"].shape == (NUM_STEPS, NUM_ENVS)


def test_truncation_at_time_limit(case):
    """An episode is truncated exactly when it reaches max_steps_in_episode, and never runs longer."""
    traj = case["out"][3]
    done = _done_mask(traj)
    length = np.zeros(NUM_ENVS, int)
    for t in range(NUM_STEPS):
        length += 1
        assert np.all(length <= MAX_STEPS), "episode ran past max_steps_in_episode"
        trunc = traj["truncated"][t]
        np.testing.assert_array_equal(
            trunc, length >= MAX_STEPS, err_msg=f"truncation flag wrong at step {t}"
        )
        length[done[t]] = 0


def test_autoreset_and_final_observation(case):
    """After a done step the state is a fresh episode (time 0); otherwise time advances and obs is final obs."""
    obs0_state, traj = case["out"][1], case["out"][3]
    done = _done_mask(traj)
    prev_time = np.asarray(obs0_state.time)
    assert np.all(prev_time == 0)
    for t in range(NUM_STEPS):
        time = np.asarray(traj["time"][t])
        np.testing.assert_array_equal(time[done[t]], 0)
        np.testing.assert_array_equal(time[~done[t]], prev_time[~done[t]] + 1)
        prev_time = time
    for obs, final in zip(jax.tree.leaves(traj["obs"]), jax.tree.leaves(traj["final_obs"]), strict=True):
        np.testing.assert_array_equal(obs[~done], final[~done])
    assert done.any(), "no episode ended inside the rollout"


def test_no_nan_or_inf(case):
    for leaf in jax.tree.leaves(case["out"]):
        if np.issubdtype(leaf.dtype, np.floating):
            assert np.all(np.isfinite(leaf)), "NaN/inf in a random rollout"


def test_unknown_override_rejected(case):
    env_level_only(case)
    with pytest.raises(ValueError, match="unknown option"):
        jaxrl_suite.make(case["id"], no_such_option_xyz=1)
