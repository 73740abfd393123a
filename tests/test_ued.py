"""UED building blocks: the PLR level buffer's semantics (insert, replace, rank and staleness weights, ties,
the empty buffer), regret scores that stay finite, and ACCEL's edits keeping levels valid."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from experiment_scripts import EXPERIMENTS, experiment
from runs import assert_trees_equal, whole_and_resumed

from jaxrl_suite.algos.ued import buffer as level_buffer
from jaxrl_suite.algos.ued import scores as level_scores
from jaxrl_suite.envs.grid import constants, generators, mutate, solve

NO_STALENESS = level_buffer.PLRParams(staleness_coef=0.0, temperature=1.0, min_fill=0.0)


def _levels(n: int):
    """n distinguishable dummy levels (only their identity matters to the buffer)."""
    return {"id": jnp.arange(n, dtype=jnp.int32), "grid": jnp.zeros((n, 3, 3), jnp.uint8)}


def _filled(scores):
    buf = level_buffer.empty({"id": jnp.int32(0), "grid": jnp.zeros((3, 3), jnp.uint8)}, len(scores))
    n = len(scores)
    return level_buffer.insert(buf, _levels(n), jnp.asarray(scores, jnp.float32), jnp.zeros(n))


def test_an_empty_buffer_never_replays_and_has_no_nan():
    buf = level_buffer.empty({"id": jnp.int32(0)}, 8)
    w = level_buffer.weights(buf, level_buffer.PLRParams())
    assert np.isfinite(np.asarray(w)).all() and float(w.sum()) == 0.0
    p = level_buffer.PLRParams(replay_prob=1.0, min_fill=0.0)
    assert not bool(level_buffer.should_replay(buf, jax.random.key(0), p))
    with pytest.raises(ValueError, match="capacity"):
        level_buffer.empty({"id": jnp.int32(0)}, 0)


def test_insert_fills_free_slots_then_replaces_only_the_lowest_score_when_beaten():
    buf = _filled([0.5, 0.2, 0.9])
    np.testing.assert_array_equal(buf.levels["id"], [0, 1, 2])
    assert int(buf.size) == 3
    offer = {"id": jnp.array([10, 11], jnp.int32), "grid": jnp.zeros((2, 3, 3), jnp.uint8)}
    buf = level_buffer.insert(buf, offer, jnp.array([0.1, 0.3]), jnp.array([1.0, 2.0]))
    # 0.1 is below every stored score: dropped; 0.3 beats the lowest (0.2, slot 1) and takes its slot
    np.testing.assert_array_equal(buf.levels["id"], [0, 11, 2])
    np.testing.assert_allclose(buf.scores, [0.5, 0.3, 0.9])
    np.testing.assert_allclose(buf.max_returns, [0.0, 2.0, 0.0])
    # replayed levels get new scores; their best return only grows
    buf = level_buffer.update(buf, jnp.array([0, 2]), jnp.array([0.05, 0.7]), jnp.array([-1.0, 4.0]))
    np.testing.assert_allclose(buf.scores, [0.05, 0.3, 0.7])
    np.testing.assert_allclose(buf.max_returns, [0.0, 2.0, 4.0])


def test_rank_weights_use_temperature_as_a_power_and_break_ties_by_slot():
    buf = _filled([3.0, 1.0, 2.0])
    h = np.array([1.0, 1 / 3, 1 / 2])
    np.testing.assert_allclose(level_buffer.weights(buf, NO_STALENESS), h / h.sum(), rtol=1e-6)
    cold = NO_STALENESS.replace(temperature=0.5)  # 1 / T = 2: squares, not halves
    np.testing.assert_allclose(level_buffer.weights(buf, cold), h**2 / (h**2).sum(), rtol=1e-6)
    ties = level_buffer.weights(_filled([1.0, 1.0, 1.0]), NO_STALENESS)
    np.testing.assert_allclose(ties, np.array([1, 1 / 2, 1 / 3]) / (11 / 6), rtol=1e-6)
    top = level_buffer.weights(buf, NO_STALENESS.replace(topk=2))
    np.testing.assert_allclose(top, [0.5, 0.0, 0.5])
    # a partly filled buffer: empty slots weigh nothing
    part = level_buffer.insert(level_buffer.empty({"id": jnp.int32(0), "grid": jnp.zeros((3, 3), jnp.uint8)}, 5), _levels(2),
                    jnp.array([1.0, 2.0]), jnp.zeros(2))  # fmt: skip
    w = np.asarray(level_buffer.weights(part, level_buffer.PLRParams()))
    assert (w[2:] == 0).all() and abs(w.sum() - 1) < 1e-6


def test_staleness_favours_levels_not_replayed_for_longest_and_sampling_follows_the_weights():
    buf = _filled([1.0, 1.0, 1.0, 1.0])
    stale_only = level_buffer.PLRParams(staleness_coef=1.0, min_fill=0.0)
    buf, idx, levels = level_buffer.sample(buf, jax.random.key(0), 1, stale_only)
    assert int(levels["id"][0]) == int(idx[0])
    w = np.asarray(level_buffer.weights(buf, stale_only))
    assert w[int(idx[0])] == 0.0, "just replayed: not stale"
    mixed = level_buffer.PLRParams(staleness_coef=0.3, temperature=0.3, min_fill=0.0)
    buf = level_buffer.update(buf, jnp.arange(4), jnp.array([0.4, 0.1, 0.3, 0.2]), jnp.zeros(4))
    want = np.asarray(level_buffer.weights(buf, mixed))
    _, idx, _ = level_buffer.sample(buf, jax.random.key(1), 40_000, mixed)
    freq = np.bincount(np.asarray(idx), minlength=4) / 40_000
    np.testing.assert_allclose(freq, want, atol=0.01)


def test_replay_needs_the_minimum_fill():
    p = level_buffer.PLRParams(replay_prob=1.0, min_fill=0.5)
    buf = level_buffer.empty({"id": jnp.int32(0), "grid": jnp.zeros((3, 3), jnp.uint8)}, 4)
    buf = level_buffer.insert(buf, _levels(1), jnp.ones(1), jnp.zeros(1))
    assert not bool(level_buffer.should_replay(buf, jax.random.key(0), p))
    buf = level_buffer.insert(buf, _levels(1), jnp.ones(1), jnp.zeros(1))
    assert bool(level_buffer.should_replay(buf, jax.random.key(0), p))
    assert not bool(level_buffer.should_replay(buf, jax.random.key(0), p.replace(replay_prob=0.0)))


def test_the_buffer_vmaps_over_seeds():
    bufs = jax.vmap(lambda s: _filled(jnp.array([s, 2 * s])))(jnp.array([1.0, 3.0]))
    np.testing.assert_allclose(bufs.scores, [[1, 2], [3, 6]])
    _, idx, _ = jax.vmap(lambda b, k: level_buffer.sample(b, k, 3, level_buffer.PLRParams()))(
        bufs, jax.random.split(jax.random.key(0))
    )
    assert idx.shape == (2, 3)


def test_scores_are_finite_even_without_a_finished_episode():
    adv = jnp.array([[1.0, -1.0], [-2.0, 3.0], [0.5, 0.0]])
    np.testing.assert_allclose(level_scores.positive_value_loss(adv), [0.5, 1.0])
    rewards = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [3.0, 0.0]])
    done = jnp.array([[False, False], [True, False], [False, False], [True, False]])
    best = level_scores.episode_returns_max(rewards, done)
    assert float(best[0]) == 3.0 and float(best[1]) == -np.inf  # env 1: no episode ended
    np.testing.assert_allclose(
        level_scores.episode_returns_max(rewards, done, jnp.array([5.0, 1.0])), [5.0, 1.0]
    )
    values = jnp.array([[0.5, 0.2], [1.0, 0.4], [0.0, 0.3], [2.0, 0.1]])
    mc = level_scores.max_mc(values, best)
    np.testing.assert_allclose(mc, [3.0 - 0.875, 0.4 - 0.25], rtol=1e-6)
    assert np.isfinite(np.asarray(mc)).all()
    with pytest.raises(ValueError, match="unknown score"):
        level_scores.score("regret", adv, values, best)


def test_accel_edits_keep_levels_valid_and_change_them():
    gen = generators.make_generator("random_walls", height=9, width=9, max_walls=30, solvable=True)
    levels = generators.generate_batch(gen, jax.random.key(0), 64)
    mutated = jax.jit(jax.vmap(lambda lv, k: mutate.mutate(lv, k, 5)))(
        levels, jax.random.split(jax.random.key(1), 64)
    )
    grid = np.asarray(mutated.grid)
    t = grid[..., 0]
    assert (t[:, [0, -1], :] == constants.WALL).all() and (t[:, :, [0, -1]] == constants.WALL).all()
    assert ((t == constants.GOAL).sum(axis=(1, 2)) == 1).all()
    ax, ay = np.asarray(mutated.agent_pos).T
    assert (t[np.arange(64), ay, ax] == constants.EMPTY).all()
    changed = (grid != np.asarray(levels.grid)).any(axis=(1, 2, 3)) | (
        np.asarray(mutated.agent_pos) != np.asarray(levels.agent_pos)
    ).any(axis=1)
    assert changed.mean() > 0.9
    # each edit on its own does what it says
    one = jax.tree.map(lambda a: a[0], levels)
    walls = lambda lv: int((np.asarray(lv.grid)[..., 0] == constants.WALL).sum())  # noqa: E731
    assert walls(mutate.add_wall(one, jax.random.key(2))) == walls(one) + 1
    assert walls(one) > 40  # 40 outer walls on 11 x 11, and some inside
    assert walls(mutate.remove_wall(one, jax.random.key(2))) == walls(one) - 1
    moved = mutate.move_goal(one, jax.random.key(3))
    assert (np.asarray(moved.goal_pos) != np.asarray(one.goal_pos)).any()
    # the agent never ends up on the goal: every mutated level needs at least one action
    assert np.asarray(jax.vmap(solve.shortest_path)(mutated)).min() >= 1


# ------------------------------------------------------------------------------------------------- the loop
TINY = dict(num_envs=8, num_steps=16, total_timesteps=8 * 16 * 8, capacity=12, num_minibatches=2,
            update_epochs=1, hidden=(16,))  # fmt: skip


def same_avals(abstract, concrete) -> bool:
    """Shapes, dtypes and weak types agree: a chunk after the first reuses the compiled program."""
    aval = lambda x: (x.shape, x.dtype, x.weak_type)  # noqa: E731
    return jax.tree.map(aval, abstract) == jax.tree.map(lambda x: aval(jax.typeof(x)), concrete)


@pytest.fixture(scope="module")
def maze():
    import jaxrl_suite

    return jaxrl_suite.make("Maze-v0", size=7, max_steps=40)


def test_curricula_run_in_one_program_and_fill_their_buffers(maze):
    """DR never replays; PLR replays once its buffer is half full and takes gradient steps only on replayed
    batches (robust PLR: the optimiser's step count says exactly how many); ACCEL edits the levels it just
    replayed, on the update after."""
    import optax

    from jaxrl_suite.algos.ued.curriculum import MUTATE, NEW, REPLAY, UEDConfig, UEDHparams, make_train

    env, params = maze
    out = {}
    for method in ("dr", "plr", "accel"):
        trainer = make_train(UEDConfig(method=method, **TINY), env, params)
        res = jax.jit(trainer)(jax.random.key(0), UEDHparams(min_fill=0.5))
        # the state after updates has the avals of a fresh one (weak types included): chunks compile once
        fresh = jax.eval_shape(trainer.init, jax.random.key(0), UEDHparams())
        assert same_avals(fresh, res.state), method
        adam = optax.tree_utils.tree_get(res.state.ppo.opt_state, "ScaleByAdamState")
        steps = int(adam.count)
        out[method] = (res, {k: np.asarray(v) for k, v in res.metrics.items()}, steps)
    per_update = TINY["update_epochs"] * TINY["num_minibatches"]
    _, dr, steps = out["dr"]
    assert (dr["branch"] == NEW).all() and (dr["buffer_size"] == 0).all()
    assert steps == 8 * per_update, "DR steps on every batch"
    res, plr, steps = out["plr"]
    assert list(plr["buffer_size"][:2]) == [8, 12]  # 8 new levels, then 4 more fill the 12 slots
    assert plr["branch"][0] == NEW and (plr["branch"] == REPLAY).any()
    assert steps == (plr["branch"] == REPLAY).sum() * per_update
    assert (plr["approx_kl"][plr["branch"] == NEW] == 0).all(), "no step: the batch's own policy"
    buf = res.state.buffer
    assert bool(buf.filled.all()) and np.isfinite(np.asarray(buf.scores)).all()
    _, accel, steps = out["accel"]
    after_replay = np.flatnonzero(accel["branch"][:-1] == REPLAY) + 1
    assert after_replay.size and (accel["branch"][after_replay] == MUTATE).all()
    assert steps == (accel["branch"] == REPLAY).sum() * per_update
    for method, (_, m, _) in out.items():
        for name, v in m.items():
            if name not in ("return", "return_last20", "length"):
                assert np.isfinite(v).all(), f"{method}: {name}"


def test_a_plr_run_resumes_bit_for_bit(maze, tmp_path):
    from jaxrl_suite.algos.ued.curriculum import UEDConfig, UEDHparams, make_train

    env, params = maze
    trainer = make_train(UEDConfig(method="accel", **TINY), env, params)
    keys = jax.random.split(jax.random.key(3), 2)
    whole, resumed = whole_and_resumed(trainer, keys, UEDHparams(), tmp_path, chunk_updates=3)
    assert_trees_equal(whole.state, resumed.state)
    np.testing.assert_array_equal(whole.metrics["branch"], resumed.metrics["branch"])


def test_ued_configs_are_checked_before_compiling(maze):
    import jaxrl_suite
    from jaxrl_suite.algos.ued.curriculum import UEDConfig, UEDHparams, make_train

    env, params = maze
    with pytest.raises(ValueError, match="unknown UED method"):
        make_train(UEDConfig(method="poet", **TINY), env, params)
    with pytest.raises(ValueError, match="at least one batch"):
        make_train(UEDConfig(**{**TINY, "capacity": 4}), env, params)
    with pytest.raises(ValueError, match="Maze"):
        make_train(UEDConfig(**TINY), *jaxrl_suite.make("CartPole-v1"))
    with pytest.raises(ValueError, match="temperature"):
        make_train(UEDConfig(**TINY), env, params)(jax.random.key(0), UEDHparams(temperature=0.0))


def test_held_out_prefabs_are_the_published_mazes_and_the_student_is_evaluated_on_each():
    """JaxUED's held-out mazes parse, pad to 13 x 13 and are solvable with the published layouts' path
    lengths; ``heldout`` reports a solve rate per level (a random policy solves the trivial maze, never the
    labyrinth, whose shortest path is 113 actions)."""
    import jaxrl_suite
    from jaxrl_suite.algos.ued.curriculum import UEDConfig, UEDHparams, heldout, make_train
    from jaxrl_suite.envs.grid import prefabs

    levels = prefabs.prefabs()
    paths = dict(
        zip(prefabs.PREFABS, np.asarray(jax.vmap(solve.shortest_path)(levels)).tolist(), strict=True)
    )
    assert levels.grid.shape == (len(prefabs.PREFABS), 15, 15, 3)
    assert paths["TrivialMaze"] == 9 and paths["SixteenRooms"] == 26 and paths["Labyrinth"] == 113
    assert all(p < solve.UNREACHABLE for p in paths.values())
    with pytest.raises(ValueError, match="did you mean SixteenRooms"):
        prefabs.prefab("SixteenRoom")
    env, params = jaxrl_suite.make("Maze-v0")
    trainer = make_train(UEDConfig(**{**TINY, "total_timesteps": 8 * 16}), env, params)
    state = trainer.init(jax.random.key(0), UEDHparams())
    two = prefabs.prefabs(["TrivialMaze", "Labyrinth"])
    out = jax.jit(lambda s, k: heldout(trainer, s, k, two, episodes=16, greedy=False))(
        state, jax.random.key(1)
    )
    solved = np.asarray(out["solve_rate"])
    assert solved[0] > 0 and solved[1] == 0
    assert (np.asarray(out["return"])[1] == 0) and np.asarray(out["return"])[0] > 0


def test_the_paired_editor_builds_goal_then_agent_then_walls_as_stepping_it_does():
    """Edit 0 places the goal, 1 turns the agent, 2 places it (the goal's cell: the next one), later edits
    toggle walls but never on the goal or the agent; replaying the actions gives the stepped level."""
    from jaxrl_suite.envs.grid.envs.maze_editor import MazeEditor
    from jaxrl_suite.envs.grid.level import to_ascii

    editor = MazeEditor(size=5, max_walls=6)
    actions = jnp.array([12, 5, 12, 0, 1, 2, 0, 12, 6])  # cell 12 = (3, 3): goal, then agent -> (4, 3)
    built = editor.build(actions)
    assert to_ascii(built).splitlines()[1:4] == ["#.##..#", "#.#...#", "#..Gv.#"]
    _, state = editor.reset(jax.random.key(0), editor.default_params)
    for t, a in enumerate(actions):
        obs, state, reward, term, trunc, info = editor.step(
            jax.random.key(t), state, a, editor.default_params
        )
        assert bool(term) == (t == editor.num_edits - 1) and float(reward) == 0.0 and not bool(trunc)
        if not term:
            stepped = state.level
            assert obs["image"][..., 2:].sum() == (t >= 2), "the agent shows once placed"
    # the last step auto-resets: compare the level before the last edit with the first edits replayed
    assert to_ascii(stepped) == to_ascii(editor.build(actions[:-1]))
    assert to_ascii(stepped) != to_ascii(built)  # the last edit (a wall at cell 6) is the difference


def test_a_paired_run_trains_all_three_agents_on_valid_levels(maze):
    import optax

    from jaxrl_suite.algos.ued.curriculum import UEDConfig, UEDHparams, make_train
    from jaxrl_suite.algos.ued.paired import episode_stats

    env, params = maze
    trainer = make_train(UEDConfig(method="paired", adversary_hidden=(16,), **{**TINY, "num_steps": 48,
                                                                                "total_timesteps": 8 * 48 * 4}),
                         env, params)  # fmt: skip
    hp = UEDHparams()
    res = jax.jit(trainer)(jax.random.key(0), hp)
    fresh = jax.eval_shape(trainer.init, jax.random.key(0), hp)
    assert same_avals(fresh, res.state)
    for name in ("ppo", "antagonist", "adversary"):
        adam = optax.tree_utils.tree_get(getattr(res.state, name).opt_state, "ScaleByAdamState")
        per_update = TINY["update_epochs"] * (TINY["num_minibatches"] if name != "adversary" else
                                              trainer.adversary.config.num_minibatches)  # fmt: skip
        assert int(adam.count) == 4 * per_update, f"{name} steps on every update"
    levels = res.state.levels
    t = np.asarray(levels.grid)[..., 0]
    assert ((t == constants.GOAL).sum(axis=(1, 2)) == 1).all() and (t[:, [0, -1], :] == constants.WALL).all()
    ax, ay = np.asarray(levels.agent_pos).T
    assert (t[np.arange(len(ax)), ay, ax] == constants.EMPTY).all(), "the agent stands on an empty cell"
    m = {k: np.asarray(v) for k, v in res.metrics.items()}
    assert np.isfinite(m["regret"]).all() and (m["walls"] > 0).any()
    # a level where no episode finished counts as return 0: the regret stays finite
    episodes = {"done": jnp.zeros((4, 2), bool), "return": jnp.ones((4, 2))}
    mean, best, finished = episode_stats(episodes)
    assert (np.asarray(mean) == 0).all() and (np.asarray(best) == 0).all() and not np.asarray(finished).any()


def test_minimax_heldout_set_is_solvable_padded_and_evaluated_at_its_own_sizes_and_limits():
    """minimax's procedural held-out mazes: corridors with the goal in an alcove, FourRooms with four
    doorways, a 19x19 perfect maze (a tree), all padded into one 19x19 interior and solvable; ``heldout``
    plays them in the resized maze with each level's own step limit."""
    import jaxrl_suite
    from jaxrl_suite.algos.ued.curriculum import UEDConfig, UEDHparams, heldout, make_train
    from jaxrl_suite.envs.grid.heldout import heldout_set

    names, levels, limits = heldout_set(instances=2)
    assert levels.grid.shape[1:] == (21, 21, 3) and len(names) == len(limits) == 11 + 4 * 2
    paths = dict(zip(names, np.asarray(jax.vmap(solve.shortest_path)(levels)).tolist(), strict=True))
    assert all(p < solve.UNREACHABLE for p in paths.values())
    assert paths["Labyrinth"] == 113, "JaxUED's prefabs keep their layouts when padded to 19x19"
    t = np.asarray(levels.grid)[..., 0]
    i = {n: k for k, n in enumerate(names)}
    small = t[i["SmallCorridor/0"]]
    assert (small[1:14, 14:] == constants.WALL).all(), "a 13x13 level is padded with walls"
    gy, gx = np.argwhere(small == constants.GOAL)[0]
    assert gy in (6, 8) and gx % 2 == 1 and small[gy - 1 if gy == 8 else gy + 1, gx] == constants.WALL
    rooms = t[i["FourRooms/0"]][1:18, 1:18]
    assert (rooms[8] != constants.WALL).sum() == 2 and (rooms[:, 8] != constants.WALL).sum() == 2
    free = (t[i["PerfectMazeMedium/1"]] != constants.WALL).sum()
    assert free == 2 * 100 - 1, "a perfect maze: 100 rooms joined by 99 carved walls"
    assert limits[i["LargeCorridor/0"]] == 2 * 21 * 21 and limits[i["TrivialMaze"]] == 250

    env, params = jaxrl_suite.make("Maze-v0", size=7, max_steps=40)
    trainer = make_train(UEDConfig(**{**TINY, "total_timesteps": 8 * 16}), env, params)
    state = trainer.init(jax.random.key(0), UEDHparams())
    pick = [i["TrivialMaze"], i["Labyrinth"], i["SmallCorridor/0"]]
    two = jax.tree.map(lambda x: x[np.array(pick)], levels)
    out = jax.jit(
        lambda s, k: heldout(trainer, s, k, two, episodes=16, greedy=False, max_steps=limits[pick])
    )(state, jax.random.key(1))
    solved = np.asarray(out["solve_rate"])
    assert solved[0] > 0 and solved[1] == 0, "a random policy finds the trivial goal, never the labyrinth's"


def test_ued_maze_judges_each_method_against_dr_by_an_interval_on_the_difference():
    """experiments/ued_maze.py's ``versus_dr``: method minus DR per-seed mean solve rates with a Welch interval;
    without DR among the methods, None."""
    mod = experiment("ued_maze")
    rates = {"dr": [0.43, 0.25, 0.26], "plr": [0.36, 0.38, 0.43], "accel": [0.38, 0.18, 0.25]}
    results = {m: {"heldout_solve_rate_mean": {"per_seed": v}} for m, v in rates.items()}
    out = mod.versus_dr(results)
    assert set(out) == {"plr", "accel"}
    assert out["plr"]["difference"] == pytest.approx(np.mean(rates["plr"]) - np.mean(rates["dr"]))
    assert out["plr"]["ci95"] > abs(out["plr"]["difference"])  # 3 seeds each: the interval spans zero
    assert mod.versus_dr({"plr": results["plr"]}) is None


def test_ued_maze_script_runs_every_method_and_writes_a_smoke_results_file():
    """The README's UED experiment end to end at smoke size (2 seeds, 4 updates, one draw per procedural
    held-out maze): every method trains and is judged on every held-out level, the file says it was a smoke run
    and compares each method with DR."""
    import json

    mod = experiment("ued_maze")
    out = mod.main(
        ["--quick", "--methods", "dr,plr,accel,paired", "--steps", "1", "--instances", "1", "--json"]
    )
    assert out["smoke"] is True and out["partial"] is False
    assert list(out["methods"]) == ["dr", "plr", "accel", "paired"]
    for r in out["methods"].values():
        assert r["seeds"] == 2 and r["total_steps"] == 4 * 32 * 128
        assert set(r["heldout_solve_rate"]) == set(out["levels"])
        assert 0.0 <= r["heldout_solve_rate_mean"]["mean"] <= 1.0
        assert len(r["curve"]) >= 2
    assert set(out["versus_dr"]) == {"plr", "accel", "paired"}
    path = EXPERIMENTS / "results" / "quick" / "ued_maze.json"
    assert json.loads(path.read_text())["methods"].keys() == out["methods"].keys()
    assert (path.parent / "ued_maze.png").stat().st_size > 0
