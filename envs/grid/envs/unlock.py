"""Unlock, UnlockPickup, BlockedUnlockPickup (``MiniGrid-Unlock-v0``, ...): two 6x6 rooms joined by a locked
door whose key lies in the agent's room; open the door (Unlock) or pick up the box behind it."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants, layout
from jaxrl_suite.envs.grid.dynamics import core_step, get_cell, pickup_target_step, reward_if
from jaxrl_suite.envs.grid.roomgrid import RoomGridEnv
from jaxrl_suite.envs.grid.state import CellTargetState, ObjectTargetState

ROOM = 6


class Unlock(RoomGridEnv):
    """MiniGrid's ``UnlockEnv``: ``toggle`` that leaves the door open wins; 8 * 6^2 steps.

    ``variant``: "unlock"; "pickup" (UnlockPickupEnv: pick up the box in the other room, 8 * 6^2 steps);
    "blocked" (BlockedUnlockPickupEnv: a ball also blocks the door, 16 * 6^2 steps). The state names the
    door's cell (unlock) or the box's (type, colour) (pickup variants).
    """

    def __init__(self, variant: str = "unlock", **options):
        if variant not in ("unlock", "pickup", "blocked"):
            raise ValueError(f"variant must be 'unlock', 'pickup' or 'blocked', got {variant!r}")
        self.variant = variant
        self.state_cls = CellTargetState if variant == "unlock" else ObjectTargetState
        self.mission_high = {"unlock": (), "pickup": (5,), "blocked": (5, 10)}[variant]
        super().__init__(ROOM, 1, 2, **options)

    def default_max_steps(self) -> int:
        return (16 if self.variant == "blocked" else 8) * ROOM**2

    def generate(self, key, params):
        rng = layout.Rand(key, 12)
        h_pos, _ = self.rooms.door_positions(rng)
        grid = jnp.asarray(self.fixed_grid)
        target = None
        if self.variant != "unlock":  # the box first, in the right room
            box_color = rng.int(0, 6)
            grid = layout.put(
                grid, self.place_in_room(rng, grid, 1, 0), layout.cell_of(constants.BOX, box_color)
            )
            target = jnp.stack([jnp.int32(constants.BOX), box_color])
        door = self.rooms.door_pos(h_pos, None, 0, 0, 0)
        color = rng.int(0, 6)
        grid = layout.put(grid, door, layout.cell_of(constants.DOOR, color, constants.LOCKED))
        if self.variant == "blocked":
            grid = layout.put(grid, door - jnp.array([1, 0]), layout.cell_of(constants.BALL, rng.int(0, 6)))
        grid = layout.put(grid, self.place_in_room(rng, grid, 0, 0), layout.cell_of(constants.KEY, color))
        pos, d = self.place_agent(rng, grid, 0, 0)
        if self.variant == "unlock":
            return self.new_state(grid, pos, d, target_pos=door)
        mission = target[1:] if self.variant == "pickup" else jnp.stack([target[1], target[0]])
        return self.new_state(grid, pos, d, mission=mission, target_obj=target)

    def transition(self, key, state, action, params):
        if self.variant != "unlock":
            return pickup_target_step(state, action, params)
        state, _ = core_step(state, action, False)
        won = (action == constants.TOGGLE) & (get_cell(state.grid, state.target_pos)[2] == constants.OPEN)
        return state, reward_if(won, state, params), won
