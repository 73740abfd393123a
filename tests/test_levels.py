"""Levels as data (envs/grid/level.py), generators and the in-graph shortest-path solver: against a plain
Python breadth-first search over MiniGrid's own actions, against the real ``minigrid`` package (a level
exported there steps as ours does), round trips, and the optimal planner reaching the goal."""

from __future__ import annotations

import collections
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.cli import main as cli_main
from jaxrl_suite.envs.grid import constants, generators, solve
from jaxrl_suite.envs.grid.level import from_ascii, from_minigrid, to_ascii, to_minigrid

N = 48


def _python_bfs(grid: np.ndarray, pos, direction) -> int | None:
    """Fewest actions to the goal by breadth-first search over (pose, doors opened, key held), stepping
    MiniGrid's rules literally: left/right turn, forward onto empty/goal/open doors (lava ends the episode),
    toggle opens a closed door ahead (a locked one only with its key held), pickup takes the key ahead.
    None when the goal cannot be reached."""
    start = (int(pos[0]), int(pos[1]), int(direction), frozenset(), False)
    seen, queue = {start}, collections.deque([(start, 0)])
    while queue:
        (x, y, d, opened, held), n = queue.popleft()
        dx, dy = constants.DIR_TO_VEC[d]
        fx, fy = x + int(dx), y + int(dy)
        t, s = int(grid[fy, fx, 0]), int(grid[fy, fx, 2])
        if t == constants.KEY and held:
            t = constants.EMPTY  # the level's one key, picked up: its cell is free
        is_open = t == constants.DOOR and (s == constants.OPEN or (fx, fy) in opened)
        nexts = [(x, y, (d + 3) % 4, opened, held), (x, y, (d + 1) % 4, opened, held)]
        if t == constants.GOAL:
            return n + 1
        if t in (constants.EMPTY, constants.FLOOR) or is_open:
            nexts.append((fx, fy, d, opened, held))
        if (
            t == constants.DOOR
            and (s == constants.CLOSED or (s == constants.LOCKED and held))
            and (fx, fy) not in opened
        ):
            nexts.append((x, y, d, opened | {(fx, fy)}, held))
        if t == constants.KEY and not held:
            nexts.append((x, y, d, opened, True))
        for nxt in nexts:
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, n + 1))
    return None


@pytest.fixture(scope="module")
def batches():
    """N levels from each generator (one compiled vmap each) and the solver's answer for each."""
    out = {}
    solve_batch = jax.jit(jax.vmap(solve.shortest_path))  # one program for every same-shaped batch
    for name, opts in [
        ("random_walls", dict(height=9, width=9, max_walls=40)),
        ("random_walls_solvable", dict(height=9, width=9, max_walls=40, solvable=True)),
        ("perfect_maze", dict(height=9, width=9)),
        ("rooms", dict(height=9, width=9)),
        ("rooms_locked", dict(height=9, width=9, locked=True)),
        ("lava_field", dict(height=9, width=9, max_lava=25)),
    ]:
        gen = generators.make_generator(name.removesuffix("_solvable").removesuffix("_locked"), **opts)
        levels = generators.generate_batch(gen, jax.random.key(7), N)
        out[name] = (levels, np.asarray(solve_batch(levels)))
    return out


def test_in_graph_shortest_paths_equal_a_python_bfs(batches):
    unsolvable = 0
    for name, (levels, paths) in batches.items():
        for i in range(N):
            grid = np.asarray(levels.grid[i])
            want = _python_bfs(grid, levels.agent_pos[i], levels.agent_dir[i])
            got = int(paths[i])
            assert (got if got < solve.UNREACHABLE else None) == want, f"{name} level {i}"
            unsolvable += want is None
    assert unsolvable > 0, "some unconstrained random-wall levels are unsolvable: the solver can say no"


def test_generators_give_valid_levels_and_solvable_ones_when_asked(batches):
    for name, (levels, paths) in batches.items():
        grid = np.asarray(levels.grid)
        t = grid[..., 0]
        assert (t[:, [0, -1], :] == constants.WALL).all() and (t[:, :, [0, -1]] == constants.WALL).all(), name
        assert ((t == constants.GOAL).sum(axis=(1, 2)) == 1).all(), f"{name}: one goal per level"
        ax, ay = np.asarray(levels.agent_pos).T
        assert (t[np.arange(N), ay, ax] == constants.EMPTY).all(), (
            f"{name}: the agent stands on an empty cell"
        )
        if name != "random_walls":
            assert (paths < solve.UNREACHABLE).all(), f"{name}: every level solvable"
    walls = (np.asarray(batches["random_walls"][0].grid)[:, 1:-1, 1:-1, 0] == constants.WALL).sum(axis=(1, 2))
    assert walls.max() <= 40 and walls.min() < walls.max(), "a uniform number of walls up to the bound"
    # a perfect maze is a tree: free cells = edges + 1 over the rooms' grid
    free = (np.asarray(batches["perfect_maze"][0].grid)[..., 0] != constants.WALL).sum(axis=(1, 2))
    assert (free == 2 * 25 - 1).all()
    # locked rooms: one locked door, one key of its colour; on some levels fetching the key is shorter than
    # going round the locked door (2x2 rooms form a ring, so there is always a way round)
    levels, paths = batches["rooms_locked"]
    g = np.asarray(levels.grid)
    assert ((g[..., 0] == constants.KEY).sum(axis=(1, 2)) == 1).all()
    lock = (g[..., 0] == constants.DOOR) & (g[..., 2] == constants.LOCKED)
    assert (lock.sum(axis=(1, 2)) == 1).all() and (g[lock][:, 1] == g[g[..., 0] == constants.KEY][:, 1]).all()
    keyless = levels.replace(
        grid=jnp.where((levels.grid[..., :1] == constants.KEY), jnp.uint8(constants.EMPTY), levels.grid)
    )
    without = np.asarray(jax.jit(jax.vmap(solve.shortest_path))(keyless))
    assert (without > paths).any(), "the key opens a shorter way"


def test_random_cells_are_exactly_n_distinct_cells_uniformly_placed():
    """The sort-free subset draw behind random walls and lava: exactly n cells, each equally likely."""
    from jaxrl_suite.envs.grid.generators import _subset

    draws = 4000
    for size, n in ((169, 37), (169, 0), (169, 169), (30, 7)):
        keys = jax.random.split(jax.random.key(size + n), draws)
        m = np.asarray(jax.jit(jax.vmap(lambda k, size=size, n=n: _subset(k, size, n)))(keys))
        assert (m.sum(axis=1) == n).all(), (size, n)
        p = n / size
        if 0 < p < 1:  # every cell's frequency within 5 sd of n/size
            assert np.abs(m.mean(axis=0) - p).max() < 5 * np.sqrt(p * (1 - p) / draws), (size, n)


def test_minigrid_encoding_and_ascii_round_trip(batches):
    from minigrid.core.grid import Grid

    levels, _ = batches["rooms"]
    one = jax.tree.map(lambda a: a[3], levels)
    mg = to_minigrid(one)
    assert mg["encoding"].shape == (11, 11, 3)  # [x][y], as grid.encode()
    decoded, _ = Grid.decode(mg["encoding"])  # the real package reads it back to the same cells
    np.testing.assert_array_equal(decoded.encode(), mg["encoding"])
    back = from_minigrid(decoded.encode(), mg["agent_pos"], mg["agent_dir"])
    jax.tree.map(np.testing.assert_array_equal, back, one)
    for name in ("random_walls", "perfect_maze", "lava_field"):
        one = jax.tree.map(lambda a: a[0], batches[name][0])
        jax.tree.map(np.testing.assert_array_equal, from_ascii(to_ascii(one)), one)
    # JaxUED-style prefabs come without the border: it is added
    small = from_ascii("..#\n>.G\n...")
    assert small.grid.shape == (5, 5, 3) and tuple(np.asarray(small.agent_pos)) == (1, 2)
    assert int(solve.shortest_path(small)) == 2
    with pytest.raises(ValueError, match="exactly one agent"):
        from_ascii("...\n..G")
    with pytest.raises(ValueError, match="no ASCII letter"):
        to_ascii(
            one.replace(
                grid=one.grid.at[1, 1].set(jnp.array([constants.KEY, constants.YELLOW, 0], jnp.uint8))
            )
        )


def _Exported(mg: dict, size: int, max_steps: int):
    """A MiniGrid env whose level is read from our export with MiniGrid's own ``Grid.decode`` (5x5 view,
    see-through walls: the Maze settings)."""
    from grid_parity import level_env
    from minigrid.core.grid import Grid

    def gen_grid(env):
        env.grid, _ = Grid.decode(mg["encoding"])
        env.agent_pos, env.agent_dir = mg["agent_pos"], mg["agent_dir"]

    return level_env(size, size, gen_grid, "reach the goal", max_steps, see_through_walls=True, view=5)


def test_a_level_exported_to_minigrid_steps_there_as_ours():
    """Our Maze-KeyRooms level -> MiniGrid's encoding -> a MiniGrid env (``Grid.decode``): the same start
    observation, then the same scripted actions (keys picked up, doors toggled, goals sought) give the same
    observations, rewards and terminations step for step."""
    from grid_parity import Stepper, replay

    stepper = Stepper("Maze-KeyRooms-v0")
    env, params = stepper.env, stepper.params
    for seed in range(3):
        level = env.sample_level(jax.random.key(seed))
        mg = to_minigrid(level)
        theirs = _Exported(mg, env.width, int(params.max_steps_in_episode))
        first, _ = theirs.reset(seed=seed)
        obs, _ = env.reset_to_level(jax.random.key(0), level, params)
        np.testing.assert_array_equal(np.asarray(obs["image"]), first["image"])
        assert replay(stepper, theirs, seed, 120, scripted=True) > 0


def _planned_episode(env, params, key):
    """One episode of ``optimal_action`` on a fresh level: (return, ended, steps, shortest path, level)."""
    level = env.sample_level(key)
    d = solve.distances(level)
    _, state = env.reset_to_level(key, level, params)

    def step(carry, _):
        state, ret, done, n = carry
        a = solve.optimal_action(d, level, state)
        _, nxt, r, term, _ = env.step_env(key, state, a, params)
        keep = lambda x, y: jnp.where(done, x, y)  # noqa: E731
        live = (~done).astype(jnp.int32)
        return (jax.tree.map(keep, state, nxt), ret + jnp.where(done, 0.0, r), done | term, n + live), None

    init = (state, jnp.float32(0.0), jnp.bool_(False), jnp.int32(0))
    (_, ret, done, n), _ = jax.lax.scan(step, init, None, length=150)
    return ret, done, n, d[level.agent_dir, level.agent_pos[1], level.agent_pos[0]], level


def test_the_optimal_planner_reaches_the_goal_in_the_shortest_path():
    """Acting ``optimal_action`` from the start reaches the goal in exactly ``shortest_path`` steps with the
    optimal return, on random-wall mazes, rooms with closed doors and lava fields (the demonstrations'
    expert)."""
    for env_id in ("Maze-v0", "Maze-Rooms-v0", "Maze-Lava-v0"):
        env, params = jaxrl_suite.make(env_id)
        episodes = jax.jit(jax.vmap(functools.partial(_planned_episode, env, params)))
        ret, done, n, shortest, levels = episodes(jax.random.split(jax.random.key(3), 16))
        ok = np.asarray(shortest) < solve.UNREACHABLE  # JaxUED's random walls may wall the goal off
        assert ok.sum() >= 12, env_id
        np.testing.assert_array_equal(np.asarray(n)[ok], np.asarray(shortest)[ok], err_msg=env_id)
        assert np.asarray(done)[ok].all() and not np.asarray(done)[~ok].any()
        want = jax.vmap(solve.optimal_return, in_axes=(0, None))(levels, params.max_steps_in_episode)
        np.testing.assert_allclose(np.asarray(ret), np.asarray(want), rtol=1e-6, err_msg=env_id)


def test_levels_cli_prints_encodings_and_shortest_paths(tmp_path, capsys):
    png = tmp_path / "levels.png"
    args = ["levels", "--generator", "perfect_maze", "--num", "3", "--size", "7", "--seed", "2"]
    assert cli_main([*args, "--render", str(png), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["num"] == 3 and png.stat().st_size > 0
    for one in out["levels"]:
        enc = np.asarray(one["encoding"])
        assert enc.shape == (9, 9, 3) and one["solvable"]
        assert one["shortest_path"] == _python_bfs(enc.transpose(1, 0, 2), one["agent_pos"], one["agent_dir"])
    assert cli_main(["levels", "--prefab", "SixteenRooms", "--prefab", "Labyrinth", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [one["shortest_path"] for one in out["levels"]] == [26, 113]
    assert cli_main(["levels", "--generator", "perfect_mase", "--json"]) == 2
    assert "did you mean perfect_maze" in capsys.readouterr().err
    assert cli_main(["levels", "--generator", "perfect_maze", "--size", "8", "--json"]) == 2
    assert "odd" in capsys.readouterr().err
