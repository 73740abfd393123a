"""MiniGrid-faithful grid worlds in pure JAX; importing this registers every ``MiniGrid-*`` id we provide.

``jaxrl_suite.make("MiniGrid-DoorKey-8x8-v0")`` returns ``(env, params)``; static options (``agent_view_size``,
``see_through_walls``, ``fully_observable``, ``tile_size``, ``highlight``) may be passed as overrides.
"""

from __future__ import annotations

from jaxrl_suite.envs.grid.base import GridEnv
from jaxrl_suite.envs.grid.state import GridParams, GridState
from jaxrl_suite.registry import register

_P = "jaxrl_suite.envs.grid.envs."

# id -> (entry point, static kwargs, description)
MINIGRID_IDS: dict[str, tuple[str, dict, str]] = {}


def _add(env_id: str, entry: str, desc: str, **kwargs) -> None:
    MINIGRID_IDS[env_id] = (_P + entry, kwargs, desc)


for _s in (5, 6, 8, 16):
    _add(f"MiniGrid-Empty-{_s}x{_s}-v0", "empty:Empty", f"MiniGrid Empty {_s}x{_s}: reach the goal", size=_s)
for _s in (5, 6):
    _add(f"MiniGrid-Empty-Random-{_s}x{_s}-v0", "empty:Empty",
         f"MiniGrid Empty {_s}x{_s}, random start", size=_s, random_start=True)
for _s in (5, 6, 8, 16):
    _add(f"MiniGrid-DoorKey-{_s}x{_s}-v0", "doorkey:DoorKey",
         f"MiniGrid DoorKey {_s}x{_s}: key, locked door, goal", size=_s)
_add("MiniGrid-FourRooms-v0", "fourrooms:FourRooms", "MiniGrid FourRooms: 19x19, four rooms, random goal")

for _id, (_entry, _kw, _desc) in MINIGRID_IDS.items():
    register(_id, _entry, _desc, family="minigrid", **_kw)

__all__ = ["GridEnv", "GridParams", "GridState", "MINIGRID_IDS"]
