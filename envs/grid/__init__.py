"""MiniGrid-faithful grid worlds in pure JAX; importing this registers every ``MiniGrid-*`` id we provide.

``jaxrl_suite.make("MiniGrid-DoorKey-8x8-v0")`` returns ``(env, params)``; static options (``agent_view_size``,
``see_through_walls``, ``fully_observable``, ``tile_size``, ``highlight``) may be passed as overrides.
Observations are MiniGrid's: ``image`` uint8[7, 7, 3] (object, colour, state), ``direction``, and for variable
missions ``mission`` (int32 placeholder indices). ``env.render(state, params)`` draws MiniGrid's frame inside
``jit``; for a video of a scanned rollout, ``jax.vmap(env.render, in_axes=(0, None))(states, params)``.
"""

from __future__ import annotations

from jaxrl_suite import lazy
from jaxrl_suite.registry import register

_P = "jaxrl_suite.envs.grid.envs."

# id -> (entry point, static kwargs, description)
MINIGRID_IDS: dict[str, tuple[str, dict, str]] = {}


def _add(env_id: str, entry: str, desc: str, **kwargs) -> None:
    MINIGRID_IDS[env_id] = (_P + entry, kwargs, desc)


for _s in (5, 6, 8, 16):
    _add(f"MiniGrid-Empty-{_s}x{_s}-v0", "empty:Empty", f"MiniGrid Empty {_s}x{_s}: reach the goal", size=_s)
for _s in (5, 6):
    _add(
        f"MiniGrid-Empty-Random-{_s}x{_s}-v0",
        "empty:Empty",
        f"MiniGrid Empty {_s}x{_s}, random start",
        size=_s,
        random_start=True,
    )
for _s in (5, 6, 8, 16):
    _add(
        f"MiniGrid-DoorKey-{_s}x{_s}-v0",
        "doorkey:DoorKey",
        f"MiniGrid DoorKey {_s}x{_s}: key, locked door, goal",
        size=_s,
    )
_add("MiniGrid-FourRooms-v0", "fourrooms:FourRooms", "MiniGrid FourRooms: 19x19, four rooms, random goal")
for _s in (5, 6, 7):
    _add(
        f"MiniGrid-LavaGapS{_s}-v0",
        "lavagap:LavaGap",
        f"MiniGrid LavaGap {_s}x{_s}: cross a lava column",
        size=_s,
    )
for _s, _n in ((9, 1), (9, 2), (9, 3), (11, 5)):
    _add(
        f"MiniGrid-LavaCrossingS{_s}N{_n}-v0",
        "crossing:Crossing",
        f"MiniGrid LavaCrossing {_s}x{_s}, {_n} lava rivers",
        size=_s,
        num_crossings=_n,
        obstacle="lava",
    )
    _add(
        f"MiniGrid-SimpleCrossingS{_s}N{_n}-v0",
        "crossing:Crossing",
        f"MiniGrid SimpleCrossing {_s}x{_s}, {_n} walls",
        size=_s,
        num_crossings=_n,
        obstacle="wall",
    )
_add(
    "MiniGrid-DistShift1-v0",
    "distshift:DistShift",
    "MiniGrid DistShift1: lava strips, rows 1 and 2",
    strip2_row=2,
)
_add(
    "MiniGrid-DistShift2-v0",
    "distshift:DistShift",
    "MiniGrid DistShift2: lava strips, rows 1 and 5",
    strip2_row=5,
)
for _s, _n in ((5, 2), (6, 3), (8, 4), (16, 8)):
    _add(
        f"MiniGrid-Dynamic-Obstacles-{_s}x{_s}-v0",
        "dynamicobstacles:DynamicObstacles",
        f"MiniGrid Dynamic-Obstacles {_s}x{_s}: dodge {_n} moving balls",
        size=_s,
        n_obstacles=_n,
    )
    if _s in (5, 6):
        _add(
            f"MiniGrid-Dynamic-Obstacles-Random-{_s}x{_s}-v0",
            "dynamicobstacles:DynamicObstacles",
            f"MiniGrid Dynamic-Obstacles {_s}x{_s}, random start",
            size=_s,
            n_obstacles=_n,
            random_start=True,
        )
for _s in (5, 6, 8):
    _add(
        f"MiniGrid-GoToDoor-{_s}x{_s}-v0",
        "goto:GoToDoor",
        f"MiniGrid GoToDoor {_s}x{_s}: go to the named door",
        size=_s,
    )
for _s in (6, 8):
    _add(
        f"MiniGrid-GoToObject-{_s}x{_s}-N2-v0",
        "goto:GoToObject",
        f"MiniGrid GoToObject {_s}x{_s}: go to the named object",
        size=_s,
        num_objs=2,
    )
for _s, _n in ((5, 2), (6, 2), (8, 3)):
    _add(
        f"MiniGrid-Fetch-{_s}x{_s}-N{_n}-v0",
        "fetch:Fetch",
        f"MiniGrid Fetch {_s}x{_s}: pick up the named object",
        size=_s,
        num_objs=_n,
    )
for _s, _n in ((6, 2), (8, 3)):
    _add(
        f"MiniGrid-PutNear-{_s}x{_s}-N{_n}-v0",
        "putnear:PutNear",
        f"MiniGrid PutNear {_s}x{_s}: put an object next to another",
        size=_s,
        num_objs=_n,
    )
for _s in (6, 8):
    _add(
        f"MiniGrid-RedBlueDoors-{_s}x{_s}-v0",
        "redbluedoors:RedBlueDoors",
        f"MiniGrid RedBlueDoors {_s}x{_s}: open red then blue",
        size=_s,
    )
_add("MiniGrid-Unlock-v0", "unlock:Unlock", "MiniGrid Unlock: open the locked door", variant="unlock")
_add(
    "MiniGrid-UnlockPickup-v0",
    "unlock:Unlock",
    "MiniGrid UnlockPickup: unlock, then pick up the box",
    variant="pickup",
)
_add(
    "MiniGrid-BlockedUnlockPickup-v0",
    "unlock:Unlock",
    "MiniGrid BlockedUnlockPickup: move the ball, unlock, pick up the box",
    variant="blocked",
)
for _s, _r in ((3, 1), (3, 2), (3, 3), (4, 3), (5, 3), (6, 3)):
    _add(
        f"MiniGrid-KeyCorridorS{_s}R{_r}-v0",
        "keycorridor:KeyCorridor",
        f"MiniGrid KeyCorridor rooms {_s}, {_r} rows: key, locked room, ball",
        room_size=_s,
        num_rows=_r,
    )
_add(
    "MiniGrid-LockedRoom-v0", "lockedroom:LockedRoom", "MiniGrid LockedRoom: key from one room opens another"
)
for _s, _rand in ((17, True), (13, True), (13, False), (11, False), (9, False), (7, False)):
    _add(
        f"MiniGrid-MemoryS{_s}{'Random' if _rand else ''}-v0",
        "memory:Memory",
        f"MiniGrid Memory {_s}x{_s}{', random hallway' if _rand else ''}: remember the object",
        size=_s,
        random_length=_rand,
    )
for _name, _lo, _hi, _sz in (
    ("N2-S4-v0", 2, 2, 4),
    ("N4-S5-v0", 6, 6, 5),
    ("N4-S5-v1", 4, 4, 5),
    ("N6-v0", 6, 6, 10),
):
    _add(
        f"MiniGrid-MultiRoom-{_name}",
        "multiroom:MultiRoom",
        f"MiniGrid MultiRoom: {_hi} rooms (size <= {_sz}) joined by doors",
        min_num_rooms=_lo,
        max_num_rooms=_hi,
        max_room_size=_sz,
    )
for _name, _q, _box, _blk, _room, _vis, _v1 in (
    ("1Dl-v0", 0, False, False, (0, 0), 2, False),
    ("1Dlh-v0", 0, True, False, (0, 0), 2, False),
    ("1Dlhb-v0", 0, True, True, (0, 0), 2, False),
    ("2Dl-v0", 1, False, False, (2, 1), 4, False),
    ("2Dlh-v0", 1, True, False, (2, 1), 4, False),
    ("2Dlhb-v0", 1, True, True, (2, 1), 4, False),
    ("1Q-v0", 1, True, True, (1, 1), 5, False),
    ("2Q-v0", 2, True, True, (2, 1), 11, False),
    ("Full-v0", 4, True, True, (1, 1), 25, False),
    ("2Dlhb-v1", 1, True, True, (2, 1), 4, True),
    ("1Q-v1", 1, True, True, (1, 1), 5, True),
    ("2Q-v1", 2, True, True, (2, 1), 11, True),
    ("Full-v1", 4, True, True, (1, 1), 25, True),
):
    _add(
        f"MiniGrid-ObstructedMaze-{_name}",
        "obstructedmaze:ObstructedMaze",
        f"MiniGrid ObstructedMaze {_name[:-3]}: find the blue ball behind locked doors",
        quarters=_q,
        key_in_box=_box,
        blocked=_blk,
        agent_room=_room,
        num_rooms_visited=_vis,
        v1=_v1,
    )

for _id, (_entry, _kw, _desc) in MINIGRID_IDS.items():
    register(_id, _entry, _desc, family="minigrid", **_kw)

# Procedurally generated levels (envs/grid/generators.py), JaxUED's Maze defaults: 13x13, 5x5 view, 250 steps
MAZE_IDS: dict[str, tuple[dict, str]] = {
    "Maze-v0": ({}, "JaxUED's Maze: 13x13, up to 60 random walls, 5x5 view; reach the goal"),
    "Maze-Perfect-v0": ({"generator": "perfect_maze"}, "13x13 perfect maze (depth-first backtracker)"),
    "Maze-Rooms-v0": ({"generator": "rooms"}, "13x13, 2x2 rooms joined by closed doors"),
    "Maze-KeyRooms-v0": (
        {"generator": "rooms", "generator_options": {"locked": True}},
        "13x13, 2x2 rooms, one door locked, its key in the agent's room",
    ),
    "Maze-Lava-v0": (
        {"size": 9, "generator": "lava_field", "max_steps": 200},
        "9x9, up to 20 lava cells, goal reachable",
    ),
}
for _id, (_kw, _desc) in MAZE_IDS.items():
    register(_id, _P + "maze:Maze", _desc, family="maze", **_kw)

_LAZY = {
    "GridEnv": ".base",
    "GridParams": ".state",
    "GridState": ".state",
}  # loaded on first use, not by `list`


__getattr__ = lazy.attributes(__name__, _LAZY)


__all__ = ["GridEnv", "GridParams", "GridState", "MAZE_IDS", "MINIGRID_IDS"]
