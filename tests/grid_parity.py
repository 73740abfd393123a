"""Parity harness helpers: build a level with the real ``minigrid`` package, convert it into our state, and
drive both implementations with the same actions (random or scripted), comparing every output.
"""

from __future__ import annotations

import collections
import dataclasses
import re

import gymnasium as gym
import jax
import jax.numpy as jnp
import minigrid  # noqa: F401  (registers the MiniGrid-* ids with gymnasium)
import numpy as np
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

import jaxrl_suite
from jaxrl_suite.envs.grid import constants
from jaxrl_suite.envs.grid.state import GridState

COLOR_WORDS = "|".join(COLOR_TO_IDX)
TYPE_WORDS = "key|ball|box|door"


# ----------------------------------------------------------------------------- MiniGrid -> our state
def make_minigrid(env_id: str, **kwargs):
    """The unwrapped MiniGrid env for an id (kwargs go to its constructor, e.g. max_steps)."""
    return gym.make(env_id, **kwargs).unwrapped


def _obj_code(obj) -> tuple[int, int]:
    if obj is None:
        return constants.NOTHING
    return OBJECT_TO_IDX[obj.type], COLOR_TO_IDX[obj.color]


def mission_vector(env_id: str, mission: str) -> list[int]:
    """Our integer mission (MissionSpace placeholder indices, colours/types as MiniGrid indices)."""
    col = lambda s: COLOR_TO_IDX[s]  # noqa: E731
    typ = lambda s: OBJECT_TO_IDX[s]  # noqa: E731
    pats = [
        ("GoToDoor", rf"go to the ({COLOR_WORDS}) door", lambda m: [col(m[1])]),
        ("GoToObject", rf"go to the ({COLOR_WORDS}) ({TYPE_WORDS})", lambda m: [col(m[1]), typ(m[2])]),
        (
            "Fetch",
            rf"(get a|go get a|fetch a|go fetch a|you must fetch a) ({COLOR_WORDS}) ({TYPE_WORDS})",
            lambda m: [
                ["get a", "go get a", "fetch a", "go fetch a", "you must fetch a"].index(m[1]),
                col(m[2]),
                typ(m[3]),
            ],
        ),
        (
            "PutNear",
            rf"put the ({COLOR_WORDS}) ({TYPE_WORDS}) near the ({COLOR_WORDS}) ({TYPE_WORDS})",
            lambda m: [col(m[1]), typ(m[2]), col(m[3]), typ(m[4])],
        ),
        (
            "LockedRoom",
            rf"get the ({COLOR_WORDS}) key from the ({COLOR_WORDS}) room, unlock the ({COLOR_WORDS}) door",
            lambda m: [col(m[1]), col(m[2]), col(m[3])],
        ),
        ("Pickup", rf"pick up the ({COLOR_WORDS}) ({TYPE_WORDS})", lambda m: [col(m[1]), typ(m[2])]),
    ]
    if "UnlockPickup" in env_id and "Blocked" not in env_id:  # MissionSpace has only the colour
        m = re.match(rf"pick up the ({COLOR_WORDS}) box", mission)
        return [col(m[1])]
    for name, pat, fn in pats:
        if name in env_id or (name == "Pickup" and ("KeyCorridor" in env_id or "UnlockPickup" in env_id)):
            m = re.match(pat, mission)
            assert m, (env_id, mission)
            return fn(m)
    return []


def _find(mg, obj) -> tuple[int, int]:
    """Grid position of a MiniGrid object (by identity)."""
    for j in range(mg.height):
        for i in range(mg.width):
            if mg.grid.get(i, j) is obj:
                return i, j
    raise AssertionError("object not on the grid")


def _type_color(obj) -> list[int]:
    return [OBJECT_TO_IDX[obj.type], COLOR_TO_IDX[obj.color]]


def extra_fields(env_id: str, mg) -> dict:
    """Env-specific state fields of our env, read off MiniGrid's attributes."""
    u = mg
    as_i32 = lambda v: jnp.asarray(np.asarray(v, np.int32))  # noqa: E731
    if "GoToDoor" in env_id or "GoToObject" in env_id:
        return {"target_pos": as_i32(u.target_pos)}
    if "Fetch" in env_id:
        return {"target_obj": as_i32([OBJECT_TO_IDX[u.targetType], COLOR_TO_IDX[u.targetColor]])}
    if "PutNear" in env_id:
        move = [OBJECT_TO_IDX[u.move_type], COLOR_TO_IDX[u.moveColor]]
        return {"move_obj": as_i32(move), "target_pos": as_i32(u.target_pos)}
    if "RedBlueDoors" in env_id:
        return {"red_door": as_i32(_find(u, u.red_door)), "blue_door": as_i32(_find(u, u.blue_door))}
    if env_id == "MiniGrid-Unlock-v0":
        return {"target_pos": as_i32(u.door.cur_pos)}
    if "UnlockPickup" in env_id or "KeyCorridor" in env_id or "ObstructedMaze" in env_id:
        return {"target_obj": as_i32(_type_color(u.obj))}
    if "Memory" in env_id:
        return {"success_pos": as_i32(u.success_pos), "failure_pos": as_i32(u.failure_pos)}
    if "Dynamic-Obstacles" in env_id:
        return {"obstacles": as_i32([o.cur_pos for o in u.obstacles]).reshape(-1, 2)}
    return {}


def box_contents(mg) -> np.ndarray:
    """``[H, W, 2]`` (type, colour) of what each box of MiniGrid's current level holds (NOTHING elsewhere)."""
    contents = np.zeros((mg.height, mg.width, 2), np.uint8)
    contents[...] = constants.NOTHING
    for j in range(mg.height):
        for i in range(mg.width):
            obj = mg.grid.get(i, j)
            if obj is not None and obj.type == "box":
                contents[j, i] = _obj_code(obj.contains)
    return contents


def to_state(env, mg, env_id: str, extra: dict | None = None):
    """Our state for MiniGrid's current level (grid, box contents, pose, carried object, steps, mission)."""
    enc = mg.grid.encode()  # [W, H, 3]
    grid = np.ascontiguousarray(np.swapaxes(enc, 0, 1))
    contents = box_contents(mg)
    carrying = _obj_code(mg.carrying)
    inside = (
        _obj_code(mg.carrying.contains)
        if mg.carrying is not None and mg.carrying.type == "box"
        else constants.NOTHING
    )
    state = env.new_state(
        grid,
        tuple(int(v) for v in mg.agent_pos),
        int(mg.agent_dir),
        mission=mission_vector(env_id, mg.mission),
        contents=contents,
        **(extra or {}),
    )
    return state.replace(
        time=jnp.asarray(mg.step_count, jnp.int32),
        carrying=jnp.asarray(carrying, jnp.uint8),
        carrying_contents=jnp.asarray(inside, jnp.uint8),
    )


def assert_same_obs(ours: dict, theirs: dict, ctx: str = "") -> None:
    img = np.asarray(ours["image"])
    if not np.array_equal(img, theirs["image"]):
        diff = np.argwhere((img != theirs["image"]).any(-1))
        raise AssertionError(
            f"{ctx}: image differs at view cells {diff.tolist()}\nours\n"
            f"{img[..., 0].T}\nminigrid\n{theirs['image'][..., 0].T}"
        )
    assert int(ours["direction"]) == int(theirs["direction"]), ctx


# ----------------------------------------------------------------------------- scripted behaviour
def _passable(cell) -> bool:
    """Cells the scripted walker crosses: empty, floor and doors (it toggles closed ones)."""
    return cell is None or cell.type in ("door", "floor")


def scripted_action(mg, rng: np.random.Generator, target: tuple[int, int] | None) -> int:
    """Head for ``target`` by BFS (doors count as passable: toggled on the way) and interact with it.

    Exercises pickup / drop / toggle on keys, balls, boxes and doors, walking into lava and goals, with some
    random actions mixed in.
    """
    if target is None or rng.random() < 0.15:
        return int(rng.integers(0, 7))
    ax, ay = (int(v) for v in mg.agent_pos)
    dvec = constants.DIR_TO_VEC
    front = (ax + dvec[mg.agent_dir][0], ay + dvec[mg.agent_dir][1])
    fcell = mg.grid.get(*front)
    if mg.carrying is not None and fcell is None and rng.random() < 0.25:
        return constants.DROP
    if front == tuple(target):
        return int(
            rng.choice(
                [
                    constants.PICKUP,
                    constants.TOGGLE,
                    constants.DROP,
                    constants.FORWARD,
                    constants.PICKUP,
                    constants.TOGGLE,
                    constants.FORWARD,
                ]
            )
        )
    if fcell is not None and fcell.type == "door" and fcell.is_locked:
        has_key = mg.carrying is not None and mg.carrying.type == "key" and mg.carrying.color == fcell.color
        if not has_key:
            return int(rng.choice([constants.LEFT, constants.RIGHT]))
    # BFS over cells from the agent to a cell adjacent to the target
    prev = {(ax, ay): None}
    queue = collections.deque([(ax, ay)])
    goal_cell = None
    while queue:
        x, y = queue.popleft()
        if abs(x - target[0]) + abs(y - target[1]) == 1:
            goal_cell = (x, y)
            break
        for dx, dy in dvec:
            nx, ny = x + dx, y + dy
            if 0 <= nx < mg.width and 0 <= ny < mg.height and (nx, ny) not in prev:
                if _passable(mg.grid.get(nx, ny)):
                    prev[(nx, ny)] = (x, y)
                    queue.append((nx, ny))
    if goal_cell is None:
        return int(rng.integers(0, 7))
    if goal_cell == (ax, ay):
        want = (target[0] - ax, target[1] - ay)
    else:
        step = goal_cell
        while prev[step] != (ax, ay):
            step = prev[step]
        want = (step[0] - ax, step[1] - ay)
    want_dir = [tuple(v) for v in dvec.tolist()].index(want)
    if want_dir == mg.agent_dir:
        cell = mg.grid.get(*front)
        if cell is not None and cell.type == "door" and not cell.is_open:
            return constants.TOGGLE
        if cell is not None and cell.type in ("key", "ball", "box") and rng.random() < 0.5:
            return constants.PICKUP
        return constants.FORWARD
    return constants.RIGHT if (want_dir - mg.agent_dir) % 4 == 1 else constants.LEFT


def object_cells(mg) -> list[tuple[int, int]]:
    """Positions of every non-wall object (targets for the scripted behaviour)."""
    out = []
    for j in range(mg.height):
        for i in range(mg.width):
            obj = mg.grid.get(i, j)
            if obj is not None and obj.type != "wall":
                out.append((i, j))
    return out


# ----------------------------------------------------------------------------- the replay loop
class Stepper:
    """Our env's jitted ``step_env`` (+ truncation) and observation for one id (compiled once per id)."""

    def __init__(self, env_id: str, **static):
        self.env_id = env_id
        self.env, self.params = jaxrl_suite.make(env_id, **static)
        env = self.env

        def step(key, state, action, params):
            obs, state, reward, term, info = env.step_env(key, state, action, params)
            return obs, state, reward, term, env.is_truncated(state, params)

        self.step = jax.jit(step)
        self.obs = jax.jit(env.get_obs)


def replay(
    stepper: Stepper,
    mg,
    seed: int,
    num_steps: int,
    extra_fn=None,
    scripted: bool = True,
    params=None,
    hook=None,
    actions=None,
) -> int:
    """Step MiniGrid and our env side by side from MiniGrid's current level; assert equal outputs.

    Returns the number of steps compared. ``extra_fn(mg)`` gives env-specific state fields; ``hook(mg, ours,
    key)`` may adjust MiniGrid before its step (used to share random obstacle moves).
    """
    env, params = stepper.env, params if params is not None else stepper.params
    rng = np.random.default_rng(seed)
    extra = extra_fn(mg) if extra_fn else extra_fields(stepper.env_id, mg)
    state = to_state(env, mg, stepper.env_id, extra)
    theirs = mg.gen_obs()
    assert_same_obs(stepper.obs(state, params), theirs, f"{stepper.env_id} seed {seed} reset")
    targets = object_cells(mg)
    target = targets[rng.integers(len(targets))] if targets and scripted else None
    key = jax.random.PRNGKey(seed)
    for t in range(num_steps):
        if scripted and target is not None and rng.random() < 0.05:
            targets = object_cells(mg)
            target = targets[rng.integers(len(targets))] if targets else None
        action = scripted_action(mg, rng, target if scripted else None) if actions is None else actions[t]
        action = action % env.num_actions
        key, sub = jax.random.split(key)
        if hook is not None:
            hook(mg, state, sub, action)
        obs_t, reward_t, term_t, trunc_t, _ = mg.step(action)
        obs, state, reward, term, trunc = stepper.step(sub, state, action, params)
        ctx = f"{stepper.env_id} seed {seed} step {t} action {constants.ACTION_NAMES[action]}"
        assert_same_obs(obs, obs_t, ctx)
        np.testing.assert_allclose(float(reward), float(reward_t), rtol=1e-6, atol=1e-6, err_msg=ctx)
        assert bool(term) == bool(term_t), ctx
        assert bool(trunc) == bool(trunc_t), ctx
        if "mission" in obs:
            assert list(np.asarray(obs["mission"])) == mission_vector(stepper.env_id, mg.mission), ctx
        if term_t or trunc_t:
            return t + 1
    return num_steps


# ----------------------------------------------------------------------------- our arrays -> a MiniGrid env
def decode_object(t: int, c: int, s: int, inside=(constants.EMPTY, 0)):
    """A MiniGrid WorldObj from our (type, colour, state) (+ box contents)."""
    from minigrid.core.world_object import WorldObj

    obj = WorldObj.decode(int(t), int(c), int(s))
    if obj is not None and obj.type == "box" and int(inside[0]) != constants.EMPTY:
        obj.contains = WorldObj.decode(int(inside[0]), int(inside[1]), 0)
    return obj


def level_env(width, height, gen_grid, mission="test", max_steps=100, see_through_walls=False, view=7):
    """A MiniGrid env of the given size whose ``_gen_grid`` is ``gen_grid(env)`` (it sets the grid and pose)."""
    from minigrid.core.mission import MissionSpace
    from minigrid.minigrid_env import MiniGridEnv

    class Level(MiniGridEnv):
        def __init__(self):
            super().__init__(
                mission_space=MissionSpace(mission_func=lambda: mission),
                width=width,
                height=height,
                max_steps=max_steps,
                see_through_walls=see_through_walls,
                agent_view_size=view,
            )

        def _gen_grid(self, width, height):
            gen_grid(self)
            self.mission = mission

    return Level()


class ArrayLevelEnv:
    """Factory for a MiniGrid env whose level is given by our arrays (for engine-level parity tests)."""

    @staticmethod
    def make(grid, contents, pos, direction, max_steps=100, see_through_walls=False, view=7, carrying=None):
        from minigrid.core.grid import Grid

        grid, contents = np.asarray(grid), np.asarray(contents)
        h, w = grid.shape[:2]

        def gen_grid(env):
            env.grid = Grid(w, h)
            for y in range(h):
                for x in range(w):
                    env.grid.set(x, y, decode_object(*grid[y, x], inside=contents[y, x]))
            env.agent_pos = (int(pos[0]), int(pos[1]))
            env.agent_dir = int(direction)

        env = level_env(w, h, gen_grid, "test", max_steps, see_through_walls, view)
        env.reset(seed=0)
        if carrying is not None:
            env.carrying = decode_object(carrying[0], carrying[1], 0)
        return env


def obstacle_hook(stepper: Stepper, params=None):
    """For DynamicObstacles: make MiniGrid's random obstacle moves those our step draws with the same key.

    Before each MiniGrid step we run our step, then replace MiniGrid's ``place_obj`` so the i-th obstacle goes
    where ours went (or stays, as when MiniGrid's tries all fail), checking the move is one MiniGrid allows:
    inside the 3x3 window, onto an empty cell, not onto the agent.
    """
    p = params if params is not None else stepper.params

    def hook(mg, state, key, action):
        _, nxt, _, _, _ = stepper.step(key, state, action, p)
        targets = [tuple(int(v) for v in xy) for xy in np.asarray(nxt.obstacles)]
        calls = iter(range(len(targets)))

        def place_obj(obj, top=None, size=None, reject_fn=None, max_tries=None):
            i = next(calls)
            old = tuple(int(v) for v in obj.cur_pos)
            new = targets[i]
            if new == old:
                raise RecursionError("rejection sampling failed in place_obj")  # MiniGrid keeps the ball
            assert max(abs(new[0] - old[0]), abs(new[1] - old[1])) <= 1, (old, new)
            assert mg.grid.get(*new) is None and new != tuple(int(v) for v in mg.agent_pos), new
            mg.grid.set(new[0], new[1], obj)
            obj.init_pos = obj.cur_pos = new
            return new

        mg.place_obj = place_obj

    return hook


# ----------------------------------------------------------------------------- level statistics
def minigrid_levels(env_id: str, n: int, seed0: int = 0) -> dict:
    """n MiniGrid levels as our arrays: grid [n, H, W, 3], contents, pos, dir, mission, and extra fields."""
    mg = make_minigrid(env_id)
    out = collections.defaultdict(list)
    for s in range(n):
        mg.reset(seed=seed0 + s)
        out["grid"].append(np.swapaxes(mg.grid.encode(), 0, 1))
        out["contents"].append(box_contents(mg))
        out["pos"].append(np.asarray(mg.agent_pos, np.int32))
        out["dir"].append(int(mg.agent_dir))
        out["mission"].append(mission_vector(env_id, mg.mission))
        for k, v in extra_fields(env_id, mg).items():
            out[k].append(np.asarray(v))
    return {k: np.asarray(v) for k, v in out.items()}


def extra_field_names(state) -> list[str]:
    """The family's own state fields (targets, obstacles), beyond ``GridState``'s."""
    base = {f.name for f in dataclasses.fields(GridState)}
    return [f.name for f in dataclasses.fields(state) if f.name not in base]


def our_levels(env, params, n: int, seed: int = 0) -> dict:
    """n of our levels (one vmapped, jitted generate)."""
    keys = jax.random.split(jax.random.PRNGKey(seed), n)
    st = jax.jit(jax.vmap(env.generate, in_axes=(0, None)))(keys, params)
    contents = st.contents
    if contents.shape[1] == 0:  # a family whose boxes never hold anything
        contents = jnp.broadcast_to(jnp.array(constants.NOTHING, jnp.uint8), st.grid.shape[:-1] + (2,))
    out = {
        "grid": st.grid,
        "contents": contents,
        "pos": st.agent_pos,
        "dir": st.agent_dir,
        "mission": st.mission,
    }
    for k in extra_field_names(st):
        out[k] = getattr(st, k)
    return {k: np.asarray(v) for k, v in out.items()}


def features(levels: dict) -> dict[str, np.ndarray]:
    """Per-level 0/1 indicator features whose means are compared between the two generators."""
    g, n = levels["grid"].astype(np.int64), len(levels["grid"])
    h, w = g.shape[1:3]
    t, c, s = g[..., 0], g[..., 1], g[..., 2]
    f = {
        "type": np.eye(11, dtype=bool)[t],  # [n, H, W, 11]
        "color": np.eye(6, dtype=bool)[c] & ((t != constants.EMPTY) & (t != constants.WALL))[..., None],
        "door_state": np.eye(3, dtype=bool)[np.minimum(s, 2)] & (t == constants.DOOR)[..., None],
        "contents": np.eye(11, dtype=bool)[levels["contents"][..., 0]] & (t == constants.BOX)[..., None],
        "contents_color": np.eye(6, dtype=bool)[levels["contents"][..., 1]] & (t == constants.BOX)[..., None],
        "agent_pos": np.zeros((n, h, w), bool),
        "agent_dir": np.eye(4, dtype=bool)[levels["dir"]],
        "type_count": np.zeros((n, 11, 64), bool),
    }
    f["agent_pos"][np.arange(n), levels["pos"][:, 1], levels["pos"][:, 0]] = True
    counts = np.minimum(np.eye(11, dtype=np.int64)[t].sum((1, 2)), 63)
    f["type_count"][np.arange(n)[:, None], np.arange(11)[None], counts] = True
    if levels["mission"].size:
        f["mission"] = np.eye(11, dtype=bool)[levels["mission"]]
    return f


def compare_features(ours: dict, theirs: dict, z: float = 5.0) -> list[str]:
    """Names/indices where the two frequencies differ by more than z pooled standard errors."""
    bad = []
    for k in theirs:
        a, b = ours[k].reshape(len(ours[k]), -1).mean(0), theirs[k].reshape(len(theirs[k]), -1).mean(0)
        n1, n2 = len(ours[k]), len(theirs[k])
        p = (a * n1 + b * n2) / (n1 + n2)
        se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
        off = np.abs(a - b) > z * se + 1e-12
        for i in np.flatnonzero(off)[:5]:
            idx = np.unravel_index(i, ours[k].shape[1:])
            bad.append(
                f"{k}{tuple(int(v) for v in idx)}: ours {a[i]:.4f} minigrid {b[i]:.4f} (se {se[i]:.4f})"
            )
    return bad


# ----------------------------------------------------------------------------- relaxed solvability
def reachable(grid: np.ndarray, contents: np.ndarray, pos) -> np.ndarray:
    """bool[H, W]: cells the agent can reach in a relaxed model (objects may be moved out of the way, any
    reached key or boxed key opens doors of its colour, lava and walls block)."""
    t, c, s = grid[..., 0], grid[..., 1], grid[..., 2]
    h, w = t.shape
    keys: set[int] = set()
    seen = np.zeros((h, w), bool)
    while True:
        seen[:] = False
        seen[pos[1], pos[0]] = True
        queue = collections.deque([(int(pos[0]), int(pos[1]))])
        while queue:
            x, y = queue.popleft()
            for dx, dy in constants.DIR_TO_VEC:
                nx, ny = x + int(dx), y + int(dy)
                if not (0 <= nx < w and 0 <= ny < h) or seen[ny, nx]:
                    continue
                ty = t[ny, nx]
                ok = ty in (
                    constants.EMPTY,
                    constants.GOAL,
                    constants.FLOOR,
                    constants.KEY,
                    constants.BALL,
                    constants.BOX,
                ) or (ty == constants.DOOR and (s[ny, nx] != constants.LOCKED or int(c[ny, nx]) in keys))
                if ok:
                    seen[ny, nx] = True
                    queue.append((nx, ny))
        found = {int(c[y, x]) for y, x in np.argwhere(seen & (t == constants.KEY))}
        found |= {
            int(contents[y, x, 1])
            for y, x in np.argwhere(seen & (t == constants.BOX) & (contents[..., 0] == constants.KEY))
        }
        if found <= keys:
            return seen
        keys |= found


def beside(seen: np.ndarray, x: int, y: int) -> bool:
    """A cell is usable if it or a 4-neighbour is reachable."""
    h, w = seen.shape
    return bool(seen[y, x]) or any(
        0 <= x + dx < w and 0 <= y + dy < h and seen[y + dy, x + dx] for dx, dy in constants.DIR_TO_VEC
    )


def solvable(env_id: str, level: dict) -> bool:
    """Whether the level's task can be done in the relaxed model (see ``reachable``)."""
    grid, contents, pos = level["grid"], level["contents"], level["pos"]
    seen = reachable(grid, contents, pos)
    t, c = grid[..., 0], grid[..., 1]
    if "GoToDoor" in env_id or "GoToObject" in env_id:
        return beside(seen, *level["target_pos"])
    if "RedBlueDoors" in env_id:
        return beside(seen, *level["red_door"]) and beside(seen, *level["blue_door"])
    if env_id == "MiniGrid-Unlock-v0":
        x, y = level["target_pos"]
        return beside(seen, x, y) and bool((seen & (t == constants.KEY) & (c == grid[y, x, 1])).any())
    if "Memory" in env_id:
        x, y = level["success_pos"]
        return bool(seen[y, x])
    if "PutNear" in env_id:
        return bool((seen & (t == level["move_obj"][0]) & (c == level["move_obj"][1])).any())
    if "Fetch" in env_id or "Pickup" in env_id or "KeyCorridor" in env_id or "ObstructedMaze" in env_id:
        return bool((seen & (t == level["target_obj"][0]) & (c == level["target_obj"][1])).any())
    return bool((seen & (t == constants.GOAL)).any())
