"""Engine-level parity with MiniGrid: occlusion, core step semantics on random cluttered levels, observation
options (view size, see-through, full observability), rendering, and option validation."""

from __future__ import annotations

import grid_parity
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl_suite
from jaxrl_suite.envs.grid import constants, observation
from jaxrl_suite.envs.grid.base import GridEnv


class FixedLevel(GridEnv):
    """A level-less GridEnv: states come from the test (MiniGrid's core rules, boxes enabled)."""

    box_contents = True

    def generate(self, key, params):  # pragma: no cover - never reset in these tests
        raise AssertionError("FixedLevel has no generator")


def random_level(rng: np.random.Generator, h: int, w: int):
    """A cluttered level: walls, doors in every state, keys, balls, boxes (some holding objects), lava, floor."""
    grid = np.zeros((h, w, 3), np.uint8)
    grid[...] = constants.CELL_EMPTY
    contents = np.zeros((h, w, 2), np.uint8)
    contents[...] = constants.NOTHING
    grid[0, :] = grid[-1, :] = grid[:, 0] = grid[:, -1] = constants.CELL_WALL
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            r = rng.random()
            col = rng.integers(6)
            if r < 0.12:
                grid[y, x] = constants.CELL_WALL
            elif r < 0.22:
                grid[y, x] = (constants.DOOR, col, rng.integers(3))
            elif r < 0.28:
                grid[y, x] = (constants.KEY, col, 0)
            elif r < 0.33:
                grid[y, x] = (constants.BALL, col, 0)
            elif r < 0.40:
                grid[y, x] = (constants.BOX, col, 0)
                if rng.random() < 0.6:
                    contents[y, x] = (
                        rng.choice([constants.KEY, constants.BALL, constants.BOX]),
                        rng.integers(6),
                    )
            elif r < 0.43:
                grid[y, x] = constants.CELL_LAVA
            elif r < 0.46:
                grid[y, x] = (constants.FLOOR, col, 0)
            elif r < 0.48:
                grid[y, x] = constants.CELL_GOAL
    free = np.argwhere(grid[..., 0] == constants.EMPTY)
    gy, gx = free[rng.integers(len(free))]
    grid[gy, gx] = constants.CELL_GOAL  # at least one goal
    free = np.argwhere(grid[..., 0] == constants.EMPTY)
    y, x = free[rng.integers(len(free))]
    carrying = None
    if rng.random() < 0.3:
        carrying = (int(rng.choice([constants.KEY, constants.BALL, constants.BOX])), int(rng.integers(6)))
    return grid, contents, (int(x), int(y)), int(rng.integers(4)), carrying


@pytest.fixture(scope="module")
def steppers():
    """Compiled (step, obs) per (view size, see-through) configuration on 9x9 levels."""
    out = {}
    for view, see in ((7, False), (5, True), (3, False)):
        env = FixedLevel(9, max_steps=50, agent_view_size=view, see_through_walls=see)
        out[(view, see)] = (env, jax.jit(env.step_env), jax.jit(env.get_obs))
    return out


def test_visibility_matches_process_vis():
    """Our bit-row occlusion equals MiniGrid's Grid.process_vis on random views of several sizes."""
    from minigrid.core.grid import Grid

    rng = np.random.default_rng(0)
    for view in (3, 5, 7, 9):
        views = np.zeros((300, view, view, 3), np.uint8)
        views[...] = constants.CELL_EMPTY
        kind = rng.random((300, view, view))
        views[kind < 0.3] = constants.CELL_WALL
        doors = (kind >= 0.3) & (kind < 0.45)
        views[doors] = np.stack(
            [
                np.full(doors.sum(), constants.DOOR),
                rng.integers(0, 6, doors.sum()),
                rng.integers(0, 3, doors.sum()),
            ],
            -1,
        )
        ours = np.asarray(jax.jit(jax.vmap(observation.visibility))(views))
        for b in range(len(views)):
            g, _ = Grid.decode(views[b])
            expected = g.process_vis((view // 2, view - 1))
            np.testing.assert_array_equal(ours[b], expected, err_msg=f"view {view} sample {b}")
        assert ours.sum() < ours.size  # occlusion actually hid something


@pytest.mark.parametrize("view,see", [(7, False), (5, True), (3, False)])
def test_core_step_matches_minigrid_on_cluttered_levels(steppers, view, see):
    """Every action on random cluttered levels (boxes with contents, all door states, lava, floor, goal)."""
    env, step, get_obs = steppers[(view, see)]
    params = env.default_params
    counts = {"pickup": 0, "drop": 0, "box_open": 0, "door_toggle": 0, "reward": 0, "lava": 0}
    for seed in range(12):
        rng = np.random.default_rng(seed)
        grid, contents, pos, d, carrying = random_level(rng, 9, 9)
        mg = grid_parity.ArrayLevelEnv.make(
            grid, contents, pos, d, max_steps=50, see_through_walls=see, view=view, carrying=carrying
        )
        state = env.new_state(grid, pos, d, contents=contents)
        if carrying is not None:
            state = state.replace(carrying=jnp.asarray(carrying, jnp.uint8))
        grid_parity.assert_same_obs(get_obs(state, params), mg.gen_obs(), f"seed {seed} start")
        targets = grid_parity.object_cells(mg)
        goals = [p for p in targets if mg.grid.get(*p).type == "goal"]
        target = goals[0] if seed % 2 else targets[rng.integers(len(targets))]
        for t in range(60):
            if rng.random() < 0.05:
                target = targets[rng.integers(len(targets))]
            action = grid_parity.scripted_action(mg, rng, target)
            before = mg.carrying
            fwd = mg.grid.get(*mg.front_pos)
            _, r_t, term_t, trunc_t, _ = mg.step(action)
            obs, state, r, term, _ = step(jax.random.PRNGKey(t), state, action, params)
            ctx = f"view {view} seed {seed} step {t} action {constants.ACTION_NAMES[action]}"
            grid_parity.assert_same_obs(obs, mg.gen_obs(), ctx)
            assert float(r) == pytest.approx(r_t, abs=1e-6), ctx
            assert bool(term) == term_t, ctx
            assert bool(env.is_truncated(state, params)) == trunc_t, ctx
            counts["pickup"] += before is None and mg.carrying is not None
            counts["drop"] += before is not None and mg.carrying is None
            counts["box_open"] += action == constants.TOGGLE and fwd is not None and fwd.type == "box"
            counts["door_toggle"] += action == constants.TOGGLE and fwd is not None and fwd.type == "door"
            counts["reward"] += r_t > 0
            counts["lava"] += term_t and r_t == 0
            # carried object, contents and the whole grid agree too (not only what the agent sees)
            np.testing.assert_array_equal(np.asarray(state.grid), np.swapaxes(mg.grid.encode(), 0, 1), ctx)
    assert min(counts.values()) > 0, str(counts)  # every kind of event was exercised


def test_view_size_and_see_through_options_match_minigrid():
    """A registered env with agent_view_size=5 / see_through_walls=True observes like MiniGrid's."""
    for kw in ({"agent_view_size": 5}, {"see_through_walls": True}, {"agent_view_size": 9}):
        env, params = jaxrl_suite.make("MiniGrid-FourRooms-v0", **kw)
        get_obs = jax.jit(env.get_obs)
        for seed in range(3):
            mg = grid_parity.make_minigrid("MiniGrid-FourRooms-v0", **kw)
            mg.reset(seed=seed)
            state = grid_parity.to_state(env, mg, "MiniGrid-FourRooms-v0")
            assert env.observation_space(params).contains(get_obs(state, params))
            grid_parity.assert_same_obs(get_obs(state, params), mg.gen_obs(), f"{kw} seed {seed}")


def test_fully_observable_matches_fullyobswrapper():
    from minigrid.wrappers import FullyObsWrapper

    env, params = jaxrl_suite.make("MiniGrid-DoorKey-6x6-v0", fully_observable=True)
    get_obs = jax.jit(env.get_obs)
    for seed in range(3):
        wrapped = FullyObsWrapper(grid_parity.make_minigrid("MiniGrid-DoorKey-6x6-v0"))
        theirs, _ = wrapped.reset(seed=seed)
        state = grid_parity.to_state(env, wrapped.unwrapped, "MiniGrid-DoorKey-6x6-v0")
        ours = get_obs(state, params)
        assert ours["image"].shape == (6, 6, 3)
        np.testing.assert_array_equal(np.asarray(ours["image"]), theirs["image"])
        assert env.observation_space(params).contains(ours)


def test_render_matches_minigrid_pixels():
    """render() inside jit reproduces MiniGrid's rgb_array frame (tiles, agent, highlight) pixel for pixel."""
    for env_id in ("MiniGrid-DoorKey-5x5-v0", "MiniGrid-Empty-Random-5x5-v0"):
        env, params = jaxrl_suite.make(env_id, tile_size=12)
        render = jax.jit(env.render)
        for seed in range(2):
            mg = grid_parity.make_minigrid(env_id, tile_size=12, render_mode="rgb_array")
            mg.reset(seed=seed)
            for action in (constants.RIGHT, constants.FORWARD, constants.LEFT):
                mg.step(action)
            frame = np.asarray(render(grid_parity.to_state(env, mg, env_id), params))
            np.testing.assert_array_equal(frame, mg.render(), err_msg=f"{env_id} seed {seed}")


def test_render_tiles_match_minigrid_tile_cache():
    """Every atlas tile equals MiniGrid's Grid.render_tile for the same cell, agent and highlight."""
    from minigrid.core.grid import Grid
    from minigrid.core.world_object import WorldObj

    from jaxrl_suite.envs.grid import render

    tiles, base, agent = render.atlas(8)
    for cell in render._valid_cells():
        obj = WorldObj.decode(*cell) if cell[0] not in (constants.UNSEEN, constants.EMPTY) else None
        if obj is not None and obj.encode() != cell:
            continue  # MiniGrid has no such object (goals are always green, lava red)
        for h in (0, 1):
            expected = Grid.render_tile(obj, None, bool(h), tile_size=8).astype(np.uint8)  # as blitted
            np.testing.assert_array_equal(tiles[base[render._code(*cell)] + h], expected, err_msg=str(cell))
            if render._standable(cell):
                for d in range(4):
                    expected = Grid.render_tile(obj, d, bool(h), tile_size=8).astype(np.uint8)
                    np.testing.assert_array_equal(tiles[agent[render._code(*cell)] + 2 * d + h], expected)


def test_bad_options_raise_before_compiling():
    with pytest.raises(ValueError, match="odd"):
        jaxrl_suite.make("MiniGrid-DoorKey-8x8-v0", agent_view_size=6)
    with pytest.raises(ValueError, match="agent_view_size"):
        jaxrl_suite.make("MiniGrid-DoorKey-8x8-v0", agent_view_size=1)
    with pytest.raises(ValueError, match="size"):
        jaxrl_suite.make("MiniGrid-DoorKey-8x8-v0", size=3)
    with pytest.raises(ValueError, match="see_through_walls"):
        jaxrl_suite.make("MiniGrid-DoorKey-8x8-v0", see_through_walls="yes")
    with pytest.raises(ValueError, match="unknown option"):
        jaxrl_suite.make("MiniGrid-DoorKey-8x8-v0", max_step=3)


def test_step_autoreset_semantics():
    """Our faster auto-reset step keeps the contract: step_env's outputs while running, a fresh level (from the
    step's key: the transition is deterministic) with the true final observation in info when done."""
    env, params = jaxrl_suite.make("MiniGrid-DoorKey-5x5-v0", max_steps_in_episode=3)
    step, step_env = jax.jit(env.step), jax.jit(env.step_env)
    generate, get_obs = jax.jit(env.generate), jax.jit(env.get_obs)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    resets = 0
    for t in range(9):
        key = jax.random.PRNGKey(100 + t)
        obs, new, reward, term, trunc, info = step(key, state, t % 7, params)
        obs_st, state_st, reward_st, term_st, _ = step_env(key, state, t % 7, params)
        assert float(reward) == float(reward_st) and bool(term) == bool(term_st)
        assert bool(trunc) == bool(env.is_truncated(state_st, params))
        expected = generate(key, params) if (term or trunc) else state_st
        leaves = jax.tree.leaves((get_obs(expected, params), expected))
        for a, b in zip(jax.tree.leaves((obs, new)), leaves, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(jax.tree.leaves(info["final_observation"]), jax.tree.leaves(obs_st), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        resets += int(term or trunc)
        state = new
    assert resets >= 2


def test_stochastic_step_matches_contract_exactly():
    """With a random transition (DynamicObstacles) the key is split exactly as autoreset_step splits it."""
    from jaxrl_suite.env import autoreset_step

    env, params = jaxrl_suite.make("MiniGrid-Dynamic-Obstacles-6x6-v0", max_steps_in_episode=4)
    ours = jax.jit(env.step)
    ref = jax.jit(lambda k, s, a, p: autoreset_step(env, k, s, a, p))
    _, state = env.reset(jax.random.PRNGKey(0), params)
    for t in range(8):
        key = jax.random.PRNGKey(200 + t)
        a, b = ours(key, state, t % 3, params), ref(key, state, t % 3, params)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        state = a[1]
