"""MiniGrid-faithful grid worlds in pure JAX; importing this registers every ``MiniGrid-*`` id we provide.

``jaxrl_suite.make("MiniGrid-DoorKey-8x8-v0")`` returns ``(env, params)``; static options (``agent_view_size``,
``see_through_walls``, ``fully_observable``, ``tile_size``, ``highlight``) may be passed as overrides.
Observations are MiniGrid's: ``image`` uint8[7, 7, 3] (object, colour, state), ``direction``, and for variable
missions ``mission`` (int32 placeholder indices). ``env.render(state, params)`` draws MiniGrid's frame inside
``jit``; for a video of a scanned rollout, ``jax.vmap(env.render, in_axes=(0, None))(states, params)``.
"""

from __future__ import annotations

import re

from jaxrl_suite import lazy
from jaxrl_suite.registry import register

_P = "jaxrl_suite.envs.grid.envs."
_OBSTACLES = "dynamicobstacles:DynamicObstacles"

# id -> (entry point, static kwargs, description)
MINIGRID_IDS: dict[str, tuple[str, dict, str]] = {}


def _add(env_id: str, entry: str, desc: str, **kwargs) -> None:
    MINIGRID_IDS[env_id] = (_P + entry, kwargs, desc)


for _s in (5, 6, 8, 16):
    _add(f"MiniGrid-Empty-{_s}x{_s}-v0", "empty:Empty", f"MiniGrid Empty {_s}x{_s}: reach the goal", size=_s)
for _s in (5, 6):
    _desc = f"MiniGrid Empty {_s}x{_s}, random start"
    _add(f"MiniGrid-Empty-Random-{_s}x{_s}-v0", "empty:Empty", _desc, size=_s, random_start=True)
for _s in (5, 6, 8, 16):
    _desc = f"MiniGrid DoorKey {_s}x{_s}: key, locked door, goal"
    _add(f"MiniGrid-DoorKey-{_s}x{_s}-v0", "doorkey:DoorKey", _desc, size=_s)
_add("MiniGrid-FourRooms-v0", "fourrooms:FourRooms", "MiniGrid FourRooms: 19x19, four rooms, random goal")
for _s in (5, 6, 7):
    _desc = f"MiniGrid LavaGap {_s}x{_s}: cross a lava column"
    _add(f"MiniGrid-LavaGapS{_s}-v0", "lavagap:LavaGap", _desc, size=_s)
for _s, _n in ((9, 1), (9, 2), (9, 3), (11, 5)):
    for _name, _obstacle, _what in (("Lava", "lava", "lava rivers"), ("Simple", "wall", "walls")):
        _desc = f"MiniGrid {_name}Crossing {_s}x{_s}, {_n} {_what}"
        _kw = dict(size=_s, num_crossings=_n, obstacle=_obstacle)
        _add(f"MiniGrid-{_name}CrossingS{_s}N{_n}-v0", "crossing:Crossing", _desc, **_kw)
for _row in (2, 5):
    _desc = f"MiniGrid DistShift{_row // 2}: lava strips, rows 1 and {_row}"
    _add(f"MiniGrid-DistShift{_row // 2}-v0", "distshift:DistShift", _desc, strip2_row=_row)
for _s, _n in ((5, 2), (6, 3), (8, 4), (16, 8)):
    _desc = f"MiniGrid Dynamic-Obstacles {_s}x{_s}: dodge {_n} moving balls"
    _add(f"MiniGrid-Dynamic-Obstacles-{_s}x{_s}-v0", _OBSTACLES, _desc, size=_s, n_obstacles=_n)
    if _s in (5, 6):
        _desc, _kw = f"MiniGrid Dynamic-Obstacles {_s}x{_s}, random start", dict(size=_s, n_obstacles=_n)
        _add(f"MiniGrid-Dynamic-Obstacles-Random-{_s}x{_s}-v0", _OBSTACLES, _desc, **_kw, random_start=True)
for _s in (5, 6, 8):
    _desc = f"MiniGrid GoToDoor {_s}x{_s}: go to the named door"
    _add(f"MiniGrid-GoToDoor-{_s}x{_s}-v0", "goto:GoToDoor", _desc, size=_s)
for _s in (6, 8):
    _desc = f"MiniGrid GoToObject {_s}x{_s}: go to the named object"
    _add(f"MiniGrid-GoToObject-{_s}x{_s}-N2-v0", "goto:GoToObject", _desc, size=_s, num_objs=2)
for _s, _n in ((5, 2), (6, 2), (8, 3)):
    _desc = f"MiniGrid Fetch {_s}x{_s}: pick up the named object"
    _add(f"MiniGrid-Fetch-{_s}x{_s}-N{_n}-v0", "fetch:Fetch", _desc, size=_s, num_objs=_n)
for _s, _n in ((6, 2), (8, 3)):
    _desc = f"MiniGrid PutNear {_s}x{_s}: put an object next to another"
    _add(f"MiniGrid-PutNear-{_s}x{_s}-N{_n}-v0", "putnear:PutNear", _desc, size=_s, num_objs=_n)
for _s in (6, 8):
    _desc = f"MiniGrid RedBlueDoors {_s}x{_s}: open red then blue"
    _add(f"MiniGrid-RedBlueDoors-{_s}x{_s}-v0", "redbluedoors:RedBlueDoors", _desc, size=_s)
_add("MiniGrid-Unlock-v0", "unlock:Unlock", "MiniGrid Unlock: open the locked door", variant="unlock")
_desc = "MiniGrid UnlockPickup: unlock, then pick up the box"
_add("MiniGrid-UnlockPickup-v0", "unlock:Unlock", _desc, variant="pickup")
_desc = "MiniGrid BlockedUnlockPickup: move the ball, unlock, pick up the box"
_add("MiniGrid-BlockedUnlockPickup-v0", "unlock:Unlock", _desc, variant="blocked")
for _s, _r in ((3, 1), (3, 2), (3, 3), (4, 3), (5, 3), (6, 3)):
    _desc = f"MiniGrid KeyCorridor rooms {_s}, {_r} rows: key, locked room, ball"
    _add(f"MiniGrid-KeyCorridorS{_s}R{_r}-v0", "keycorridor:KeyCorridor", _desc, room_size=_s, num_rows=_r)
_desc = "MiniGrid LockedRoom: key from one room opens another"
_add("MiniGrid-LockedRoom-v0", "lockedroom:LockedRoom", _desc)
for _s, _rand in ((17, True), (13, True), (13, False), (11, False), (9, False), (7, False)):
    _id = f"MiniGrid-MemoryS{_s}{'Random' if _rand else ''}-v0"
    _desc = f"MiniGrid Memory {_s}x{_s}{', random hallway' if _rand else ''}: remember the object"
    _add(_id, "memory:Memory", _desc, size=_s, random_length=_rand)
for _name, _kw in {
    "N2-S4-v0": dict(min_num_rooms=2, max_num_rooms=2, max_room_size=4),
    "N4-S5-v0": dict(min_num_rooms=6, max_num_rooms=6, max_room_size=5),
    "N4-S5-v1": dict(min_num_rooms=4, max_num_rooms=4, max_room_size=5),
    "N6-v0": dict(min_num_rooms=6, max_num_rooms=6, max_room_size=10),
}.items():
    _desc = (
        f"MiniGrid MultiRoom: {_kw['max_num_rooms']} rooms (size <= {_kw['max_room_size']}) joined by doors"
    )
    _add(f"MiniGrid-MultiRoom-{_name}", "multiroom:MultiRoom", _desc, **_kw)
# ObstructedMaze: an id's maze (1D: two rooms; 2D, 1Q, 2Q, Full: quarters of the 3x3 maze) fixes its rooms, its
# letters the doors: "l" locked, "h" keys hidden in boxes, "b" doors blocked by balls (the quarter mazes: all three).
_MAZES = {
    "1D": dict(quarters=0, agent_room=(0, 0), num_rooms_visited=2),
    "2D": dict(quarters=1, agent_room=(2, 1), num_rooms_visited=4),
    "1Q": dict(quarters=1, agent_room=(1, 1), num_rooms_visited=5),
    "2Q": dict(quarters=2, agent_room=(2, 1), num_rooms_visited=11),
    "Full": dict(quarters=4, agent_room=(1, 1), num_rooms_visited=25),
}
_OBSTRUCTED = ("1Dl", "1Dlh", "1Dlhb", "2Dl", "2Dlh", "2Dlhb", "1Q", "2Q", "Full")
for _name in [f"{n}-v0" for n in _OBSTRUCTED] + ["2Dlhb-v1", "1Q-v1", "2Q-v1", "Full-v1"]:
    _maze, _doors, _version = re.fullmatch(r"(\dD|\dQ|Full)(l?h?b?)-v([01])", _name).groups()
    _doors = _doors or "lhb"
    _desc = f"MiniGrid ObstructedMaze {_name[:-3]}: find the blue ball behind locked doors"
    _kw = dict(**_MAZES[_maze], key_in_box="h" in _doors, blocked="b" in _doors, v1=_version == "1")
    _add(f"MiniGrid-ObstructedMaze-{_name}", "obstructedmaze:ObstructedMaze", _desc, **_kw)

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
