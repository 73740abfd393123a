"""Unlock, UnlockPickup, BlockedUnlockPickup (``MiniGrid-Unlock-v0``, ...): two 6x6 rooms joined by a locked
door whose key lies in the agent's room; open the door (Unlock) or pick up the box behind it."""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl_suite.envs.grid import constants as C
from jaxrl_suite.envs.grid import layout as L
from jaxrl_suite.envs.grid import roomgrid as RG
from jaxrl_suite.envs.grid.base import GridEnv
from jaxrl_suite.envs.grid.dynamics import core_step, get_cell, success_reward
from jaxrl_suite.envs.grid.state import TargetState

ROOM = 6


class Unlock(GridEnv):
    """MiniGrid's ``UnlockEnv``: ``toggle`` that leaves the door open wins; 8 * 6^2 steps.

    ``variant``: "unlock"; "pickup" (UnlockPickupEnv: pick up the box in the other room, 8 * 6^2 steps);
    "blocked" (BlockedUnlockPickupEnv: a ball also blocks the door, 16 * 6^2 steps). Target state: the door's
    position (unlock) or the box's (type, colour) (pickup variants).
    """

    state_cls = TargetState

    def __init__(
        self,
        variant: str = "unlock",
        max_steps: int | None = None,
        agent_view_size: int = 7,
        see_through_walls: bool | None = None,
        fully_observable: bool = False,
        tile_size: int = 32,
        highlight: bool = True,
    ):
        if variant not in ("unlock", "pickup", "blocked"):
            raise ValueError(f"variant must be 'unlock', 'pickup' or 'blocked', got {variant!r}")
        self.variant = variant
        self.layout = RG.RoomLayout(ROOM, 1, 2)
        self.mission_high = {"unlock": (), "pickup": (5,), "blocked": (5, 10)}[variant]
        default_steps = (16 if variant == "blocked" else 8) * ROOM**2
        super().__init__(
            self.layout.width,
            self.layout.height,
            max_steps or default_steps,
            agent_view_size,
            see_through_walls,
            fully_observable,
            tile_size,
            highlight,
        )

    def generate(self, key, params):
        lay = self.layout
        rng = L.Rand(key, 12)
        h_pos, _ = lay.door_positions(rng)
        grid = jnp.asarray(lay.walls)
        agent0 = jnp.asarray(lay.default_agent)
        target = None
        if self.variant != "unlock":  # the box first, in the right room
            box_color = rng.int(0, 6)
            grid = L.put(grid, RG.place_in_room(rng, grid, lay, 1, 0, agent0), L.cell_of(C.BOX, box_color))
            target = jnp.stack([jnp.int32(C.BOX), box_color])
        door = lay.door_pos(h_pos, None, 0, 0, 0)
        color = rng.int(0, 6)
        grid = L.put(grid, door, L.cell_of(C.DOOR, color, C.LOCKED))
        if self.variant == "blocked":
            grid = L.put(grid, door - jnp.array([1, 0]), L.cell_of(C.BALL, rng.int(0, 6)))
        grid = L.put(grid, RG.place_in_room(rng, grid, lay, 0, 0, agent0), L.cell_of(C.KEY, color))
        pos, d = RG.place_agent_in_room(rng, grid, lay, 0, 0)
        if self.variant == "unlock":
            return self.new_state(grid, pos, d, target=door)
        mission = target[1:] if self.variant == "pickup" else jnp.stack([target[1], target[0]])
        return self.new_state(grid, pos, d, mission=mission, target=target)

    def transition(self, key, state, action, params):
        state, _ = core_step(state, action, False)
        if self.variant == "unlock":
            win = (action == C.TOGGLE) & (get_cell(state.grid, state.target)[2] == C.OPEN)
        else:
            win = (action == C.PICKUP) & jnp.all(state.carrying == state.target.astype(jnp.uint8))
        reward = jnp.where(win, success_reward(state.time, params.max_steps_in_episode), 0.0)
        return state, reward, win
