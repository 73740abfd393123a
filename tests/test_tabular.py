"""Exact tabular tools: value iteration, min_k, EPW and the effective horizon on MDPs with known answers and on
the reference's KeyCorridorS3R1 fixture; the enumerated tables agree with the environment's own step."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.algos import tabular as tb
from jaxrl_suite.envs.grid import bridge

# s0 --a0--> s1 --a0--> +1 (a1: 0); s0 --a1--> s2 --any--> +0.6; state 3 absorbing. The random policy
# prefers a1 at s0 (0.6 for sure against a coin flip for 1): one backup is needed (min_k 2).
TRAP = tb.TabularMDP(
    np.array([[1, 2], [3, 3], [3, 3], [3, 3]]),
    np.array([[0, 0], [1, 0], [0.6, 0.6], [0, 0]], np.float32),
)
# s0 --a1--> s1 --a1--> +1; a0 stays (0); state 2 absorbing
CHAIN = tb.TabularMDP(np.array([[0, 1], [1, 2], [2, 2]]), np.array([[0, 0], [0, 1], [0, 0]], np.float32))


def test_value_iteration_min_k_and_epw_on_hand_made_mdps():
    trap = tb.analyze(TRAP, 2)
    assert trap["v_star"] == 1.0 and trap["v_rand"] == pytest.approx(0.55) and trap["v_worst"] == 0.0
    assert trap["min_k"] == 2 and trap["epw"] == 2
    chain = tb.analyze(CHAIN, 2)
    assert chain["v_rand"] == pytest.approx(0.25) and chain["min_k"] == 1 and chain["epw"] == 2
    # sticky: from s1, repeating the previous action (a1, the one that got there) also earns the +1
    sticky = tb.analyze(CHAIN, 2, sticky=0.25)
    assert sticky["v_star"] == 1.0 and sticky["model_states"] == 6
    assert sticky["v_rand"] == pytest.approx(0.5 * (0.75 * 0.5 + 0.25 * 1.0))


def test_policy_values_are_exact():
    with jax.enable_x64(True):
        m = tb.model(TRAP)
        vals = tb.value_iteration(m, 2)
        uniform = jnp.full((2, 4, 2), 0.5)
        assert float(tb.policy_value(m, uniform)[0, 0]) == pytest.approx(float(vals.v_rand[0, 0]))
        greedy = jax.nn.one_hot(vals.q_star.argmax(-1), 2)
        assert float(tb.policy_value(m, greedy)[0, 0]) == 1.0
        lured = jax.nn.one_hot(vals.q_rand.argmax(-1), 2)  # greedy on Q^rand: the 0.6 branch
        assert float(tb.policy_value(m, lured)[0, 0]) == pytest.approx(0.6)


@pytest.fixture(scope="module")
def key_corridor():
    """minigrid's KeyCorridorS3R1 at seed 0 (the reference's fixture level) as our state, tabulated."""
    from grid_parity import extra_fields, make_minigrid, to_state

    env_id = "MiniGrid-KeyCorridorS3R1-v0"
    env, params = jaxrl_suite.make(env_id)
    mg = make_minigrid(env_id)
    mg.reset(seed=0)
    start = to_state(env, mg.unwrapped, env_id, extra_fields(env_id, mg.unwrapped))
    mdp, states = bridge.enumerate_mdp(env, start, 6, params)
    return env, params, mdp, states


def test_the_reference_key_corridor_figures_are_reproduced(key_corridor):
    """EffectiveHorizon.jl's KeyCorridorS3R1 fixture (horizon 100): deterministic min_k 1, EPW 15, Theorem
    5.4 effective horizon 16.0; sticky 0.25: V* 1.0, V^rand 0.001007, min_k 1, EPW 16."""
    _, _, mdp, _ = key_corridor
    assert mdp.num_states == 157  # 156 reachable states and the absorbing one
    det = tb.analyze(mdp, 100)
    assert (det["min_k"], det["epw"], det["effective_horizon"]) == (1, 15, 16.0)
    sticky = tb.analyze(mdp, 100, sticky=0.25, bound=False)
    assert sticky["v_star"] == pytest.approx(1.0) and sticky["v_rand"] == pytest.approx(0.001007, abs=5e-7)
    assert (sticky["min_k"], sticky["epw"]) == (1, 16)


def test_the_tables_reproduce_the_environment_step(key_corridor):
    env, params, mdp, states = key_corridor
    rng = np.random.default_rng(0)
    S = mdp.num_states - 1
    s, a = rng.integers(S, size=64), rng.integers(6, size=64)
    picked = jax.tree.map(lambda x: jnp.asarray(x[s]), states)
    step = jax.jit(jax.vmap(lambda st, act: env.step_env(jax.random.key(0), st, act, params)[1:4]))
    nxt, reward, term = step(picked, jnp.asarray(bridge.action_table(6))[a])
    np.testing.assert_array_equal(mdp.rewards[s, a], np.asarray(reward > 0, np.float32))
    t = mdp.transitions[s, a]
    np.testing.assert_array_equal(t == S, np.asarray(term))
    live = t < S
    for name in ("grid", "agent_pos", "agent_dir", "carrying"):
        got = np.asarray(getattr(nxt, name))[live]
        np.testing.assert_array_equal(got, getattr(states, name)[t[live]], err_msg=name)


def test_horizon_cli_agrees_on_a_level_and_its_minigrid_export(tmp_path, capsys):
    """A Maze-v0 level analysed through --env and through its MiniGrid-encoding export: the same MDP."""
    from jaxrl_suite.cli import main
    from jaxrl_suite.envs.grid.level import to_minigrid

    env, params = jaxrl_suite.make("Maze-v0", size=5)
    _, state = env.reset(jax.random.key(3), params)
    mg = to_minigrid(env.level_of(state))
    path = tmp_path / "level.json"
    path.write_text(json.dumps({"grid": mg["encoding"].tolist(), "agent_pos": mg["agent_pos"],
                                "agent_dir": mg["agent_dir"]}))  # fmt: skip
    outs = []
    for argv in (["--level", str(path)], ["--env", "Maze-v0", "--seed", "3"]):
        extra = ["--env-opt", "size=5"] if "--env" in argv else []
        assert main(["horizon", *argv, "--horizon", "30", "--json", *extra]) == 0
        outs.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    keys = ("states", "v_star", "v_rand", "min_k", "epw", "effective_horizon")
    assert {k: outs[0][k] for k in keys} == {k: outs[1][k] for k in keys}
    assert outs[0]["v_star"] > 0


def test_the_bridge_env_plays_the_tabulated_mdp(key_corridor):
    """The shortest rewarding plan read off the tables (breadth-first), played in the ``Bridge`` env: reward 1
    on its last step, 0 before, then a termination; the observation is the full grid with the agent drawn
    in. Its length is within the horizon, as V* = 1 says."""
    import collections

    env, params, mdp, states = key_corridor
    start = jax.tree.map(lambda x: jnp.asarray(x[0]), states)
    game = bridge.Bridge(env, start, 6, horizon=100)
    T, R = np.asarray(mdp.transitions), np.asarray(mdp.rewards)
    seen, queue, plan = {0: []}, collections.deque([0]), None
    while queue and plan is None:
        s = queue.popleft()
        for a in range(6):
            if R[s, a] > 0:
                plan = seen[s] + [a]
                break
            if T[s, a] not in seen:
                seen[int(T[s, a])] = seen[s] + [a]
                queue.append(int(T[s, a]))
    obs, state = game.reset(jax.random.key(0), game.default_params)
    assert obs.shape == start.grid.shape and int(obs[start.agent_pos[1], start.agent_pos[0], 0]) == 10
    rewards = []
    for a in plan:
        obs, state, r, term, trunc, _ = game.step(jax.random.key(1), state, a, game.default_params)
        rewards.append(float(r))
    assert rewards[-1] == 1.0 and sum(rewards) == 1.0 and bool(term)
    assert len(plan) < 100
