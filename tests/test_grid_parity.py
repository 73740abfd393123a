"""Trajectory parity with Farama MiniGrid for every registered ``MiniGrid-*`` id: levels built by MiniGrid,
converted into our state, then stepped by both with the same random and scripted actions; observations,
rewards, terminated and truncated must agree at every step (DynamicObstacles: with MiniGrid's obstacle moves
set to the ones our step draws). The default run covers one or two ids per family; ``-m slow`` runs all ids
over many more levels."""

from __future__ import annotations

import grid_parity
import numpy as np
import pytest

import jaxrl_suite

ALL_IDS = sorted(jaxrl_suite.registered("minigrid"))
DEFAULT_IDS = [
    "MiniGrid-Empty-Random-5x5-v0",
    "MiniGrid-DoorKey-5x5-v0",
    "MiniGrid-FourRooms-v0",
    "MiniGrid-LavaGapS5-v0",
    "MiniGrid-LavaCrossingS9N2-v0",
    "MiniGrid-SimpleCrossingS9N1-v0",
    "MiniGrid-DistShift2-v0",
    "MiniGrid-Dynamic-Obstacles-Random-5x5-v0",
    "MiniGrid-GoToDoor-5x5-v0",
    "MiniGrid-GoToObject-6x6-N2-v0",
    "MiniGrid-Fetch-5x5-N2-v0",
    "MiniGrid-PutNear-6x6-N2-v0",
    "MiniGrid-RedBlueDoors-6x6-v0",
    "MiniGrid-Unlock-v0",
    "MiniGrid-UnlockPickup-v0",
    "MiniGrid-BlockedUnlockPickup-v0",
    "MiniGrid-KeyCorridorS3R2-v0",
    "MiniGrid-LockedRoom-v0",
    "MiniGrid-MemoryS7-v0",
    "MiniGrid-MultiRoom-N2-S4-v0",
    "MiniGrid-ObstructedMaze-1Dlhb-v0",
    "MiniGrid-ObstructedMaze-2Dlh-v0",
]


def run_parity(env_id: str, levels: int, steps: int) -> dict:
    """Replay ``levels`` MiniGrid levels (scripted and random, normal and short time limits)."""
    stepper = grid_parity.Stepper(env_id)
    stats = {"steps": 0, "success": 0, "truncated": 0}
    for seed in range(levels):
        short = seed % 3 == 2  # a short limit exercises truncation and the reward's time decay
        mg = grid_parity.make_minigrid(env_id, **({"max_steps": 5} if short else {}))
        mg.reset(seed=seed)
        params = stepper.params.replace(max_steps_in_episode=5) if short else stepper.params
        hook = grid_parity.obstacle_hook(stepper, params) if "Dynamic-Obstacles" in env_id else None
        rewards = []
        orig = mg.step

        def step(action, orig=orig, rewards=rewards):
            out = orig(action)
            rewards.append((out[1], out[3]))
            return out

        mg.step = step
        # short-limit levels only turn, so time surely runs out (most tasks end sooner on a wrong action)
        turns = [seed % 2, 1 - seed % 2] * 3 if short else None
        stats["steps"] += grid_parity.replay(
            stepper, mg, seed, steps, scripted=seed % 4 != 3, params=params, hook=hook, actions=turns
        )
        stats["success"] += sum(r > 0 for r, _ in rewards)
        stats["truncated"] += sum(tr for _, tr in rewards)
    return stats


@pytest.mark.parametrize("env_id", DEFAULT_IDS)
def test_parity_default(env_id):
    stats = run_parity(env_id, levels=6, steps=120)
    assert stats["steps"] >= 6
    assert stats["truncated"] >= 1  # the short limit was reached and agreed on


def test_default_ids_cover_every_family():
    families = {jaxrl_suite.registry.spec(i).constructor().__name__ for i in ALL_IDS}
    covered = {jaxrl_suite.registry.spec(i).constructor().__name__ for i in DEFAULT_IDS}
    assert covered == families


def test_parity_reaches_successes():
    """The scripted behaviour really completes tasks in each of these families (a key and door, a pickup, a
    go-to), so their success rewards are compared step for step with MiniGrid's too."""
    for env_id in ("MiniGrid-DoorKey-5x5-v0", "MiniGrid-Fetch-5x5-N2-v0", "MiniGrid-GoToObject-6x6-N2-v0"):
        stats = run_parity(env_id, levels=8, steps=120)
        assert stats["success"] >= 1, f"{env_id}: no success reached, so none compared"


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ALL_IDS)
def test_parity_all_ids_many_levels(env_id):
    stats = run_parity(env_id, levels=40, steps=300)
    assert stats["steps"] >= 40
    np.testing.assert_(stats["truncated"] >= 1)


def test_static_settings_match_minigrid_for_every_id():
    """max_steps, action count, view size, see-through flag and grid size are MiniGrid's, id by id."""
    for env_id in ALL_IDS:
        env, params = jaxrl_suite.make(env_id)
        mg = grid_parity.make_minigrid(env_id)
        mg.reset(seed=0)
        assert params.max_steps_in_episode == mg.max_steps, env_id
        assert env.action_space(params).n == mg.action_space.n, env_id
        assert env.see_through_walls == mg.see_through_walls, env_id
        assert (env.width, env.height) == (mg.width, mg.height), env_id
        image = env.observation_space(params).spaces["image"]
        assert image.shape == mg.observation_space["image"].shape, env_id
        has_mission = "mission" in env.observation_space(params).spaces
        assert has_mission == bool(grid_parity.mission_vector(env_id, mg.mission)), env_id
