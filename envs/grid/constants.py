"""MiniGrid 3.x encodings (object, colour, door state, directions, actions), as small integer constants.

Values are exactly MiniGrid's (`minigrid/core/constants.py`, `core/actions.py`), so an observation array
from our engine compares equal to MiniGrid's `obs["image"]` without translation.
"""

from __future__ import annotations

import numpy as np

# Object types (OBJECT_TO_IDX).
UNSEEN, EMPTY, WALL, FLOOR, DOOR, KEY, BALL, BOX, GOAL, LAVA, AGENT = range(11)
OBJECT_NAMES = ("unseen", "empty", "wall", "floor", "door", "key", "ball", "box", "goal", "lava", "agent")
OBJECT_TO_IDX = {n: i for i, n in enumerate(OBJECT_NAMES)}

# Colours (COLOR_TO_IDX) and their RGB values.
RED, GREEN, BLUE, PURPLE, YELLOW, GREY = range(6)
COLOR_NAMES_BY_IDX = ("red", "green", "blue", "purple", "yellow", "grey")
COLOR_TO_IDX = {n: i for i, n in enumerate(COLOR_NAMES_BY_IDX)}
COLOR_RGB = np.array(
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [112, 39, 195], [255, 255, 0], [100, 100, 100]], dtype=np.int64
)

# Door states (STATE_TO_IDX).
OPEN, CLOSED, LOCKED = 0, 1, 2

# Agent directions: 0 right (+x), 1 down (+y), 2 left, 3 up (DIR_TO_VEC).
DIR_TO_VEC = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.int32)

# Actions.
LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)
NUM_ACTIONS = 7
ACTION_NAMES = ("left", "right", "forward", "pickup", "drop", "toggle", "done")

# Cell encodings (type, colour, state) used by generators.
CELL_EMPTY = (EMPTY, 0, 0)
CELL_WALL = (WALL, GREY, 0)
CELL_GOAL = (GOAL, GREEN, 0)
CELL_LAVA = (LAVA, RED, 0)
# "Carrying nothing" is stored as an empty cell's (type, colour): the observation then shows it as MiniGrid does.
NOTHING = (EMPTY, 0)
