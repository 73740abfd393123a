"""Pictures of quadrotor flights: a jittable JAX rasteriser for frames and GIFs, and a matplotlib 3-D plot.

``draw_frame`` draws one oblique orthographic view (the ±0.6 m termination floor as a checkerboard, the
drone's shadow and drop line, the reference as a green dot, arms and rotors with front rotors red) as
``uint8[H, W, 3]`` in pure JAX, so ``env.render`` works under ``jit``/``vmap``. ``save_gif`` (imageio) and
``plot_trajectory`` (matplotlib) run on the host.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.envs.quadrotor import dynamics as dyn

AZIMUTH = math.radians(35.0)
ELEVATION = math.radians(30.0)
EXTENT = 0.8  # m from the image centre to its edge
CENTRE_UP = -0.15  # m, screen height of the image centre (the floor sits low in the view)
FLOOR = -0.6  # m, the termination bound below the hover point
DRONE_ZOOM = 4.0  # the 9 cm Crazyflie is drawn 4x larger so that its attitude is visible

_RIGHT = np.array([-math.sin(AZIMUTH), math.cos(AZIMUTH), 0.0])
_UP = np.array(
    [-math.sin(ELEVATION) * math.cos(AZIMUTH), -math.sin(ELEVATION) * math.sin(AZIMUTH), math.cos(ELEVATION)]
)


def project(p: jax.Array) -> jax.Array:
    """World points ``(..., 3)`` to screen coordinates ``(..., 2)`` in metres (right, up)."""
    return jnp.stack([p @ _RIGHT, p @ _UP], axis=-1)


def _segment_distance(uv: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    ab = b - a
    t = jnp.clip(jnp.sum((uv - a) * ab, -1) / jnp.maximum(jnp.sum(ab * ab), 1e-12), 0.0, 1.0)
    return jnp.linalg.norm(uv - (a + t[..., None] * ab), axis=-1)


def _paint(img: jax.Array, coverage: jax.Array, color) -> jax.Array:
    c = jnp.clip(coverage, 0.0, 1.0)[..., None]
    return img * (1 - c) + jnp.asarray(color, jnp.float32) * c


def draw_frame(
    position: jax.Array,
    quaternion: jax.Array,
    reference: jax.Array | None = None,
    params: dyn.QuadParams | None = None,
    size: int = 128,
) -> jax.Array:
    """One RGB frame ``uint8[size, size, 3]`` of a drone at ``position`` (3,) with ``quaternion`` (4,)."""
    params = dyn.crazyflie() if params is None else params
    position = jnp.asarray(position, jnp.float32)
    quaternion = jnp.asarray(quaternion, jnp.float32)
    px = 2 * EXTENT / size  # metres per pixel
    coords = (jnp.arange(size, dtype=jnp.float32) + 0.5) * px - EXTENT
    u, v = jnp.meshgrid(coords, CENTRE_UP - coords)  # row 0 is the top of the image
    uv = jnp.stack([u, v], -1)

    sky = jnp.asarray([0.93, 0.95, 0.98], jnp.float32) - 0.08 * (v[..., None] - CENTRE_UP + EXTENT) / (
        2 * EXTENT
    )
    img = jnp.broadcast_to(sky, (size, size, 3))

    # floor plane z = FLOOR: invert the projection per pixel
    s = (math.cos(ELEVATION) * FLOOR - v) / math.sin(ELEVATION)
    fx = math.cos(AZIMUTH) * s - math.sin(AZIMUTH) * u
    fy = math.sin(AZIMUTH) * s + math.cos(AZIMUTH) * u
    on_floor = (jnp.abs(fx) <= 0.6) & (jnp.abs(fy) <= 0.6)
    checker = (jnp.floor(fx / 0.2) + jnp.floor(fy / 0.2)) % 2
    img = _paint(img, on_floor, [0.80, 0.82, 0.78])
    img = _paint(img, on_floor * checker, [0.72, 0.75, 0.70])
    shadow = jnp.sqrt((fx - position[0]) ** 2 + (fy - position[1]) ** 2)
    img = _paint(img, on_floor * jnp.clip((0.07 - shadow) / 0.02, 0.0, 1.0) * 0.6, [0.3, 0.3, 0.3])

    centre = project(position)
    ground = project(position.at[2].set(FLOOR))
    img = _paint(img, (0.5 * px - _segment_distance(uv, centre, ground)) / px + 0.5, [0.55, 0.55, 0.6])
    if reference is not None:
        target = project(jnp.asarray(reference, jnp.float32))
        img = _paint(img, (2.5 * px - jnp.linalg.norm(uv - target, axis=-1)) / px, [0.1, 0.65, 0.2])

    rot = jnp.stack(dyn.rotation_matrix(quaternion)).reshape(3, 3)
    rx, ry = jnp.asarray(params.rotor_x, jnp.float32), jnp.asarray(params.rotor_y, jnp.float32)
    arms = jnp.stack([rx, ry, jnp.zeros(4)], -1) * DRONE_ZOOM
    rotors = project(position + arms @ rot.T)
    up = project(position + rot[:, 2] * 0.02 * DRONE_ZOOM)
    for a, b in ((0, 2), (1, 3)):
        img = _paint(
            img, (1.0 * px - _segment_distance(uv, rotors[a], rotors[b])) / px + 0.5, [0.2, 0.2, 0.25]
        )
    img = _paint(img, (0.6 * px - _segment_distance(uv, centre, up)) / px + 0.5, [0.95, 0.6, 0.1])
    for i in range(4):
        color = jnp.where(rx[i] > 0, jnp.asarray([0.85, 0.15, 0.1]), jnp.asarray([0.15, 0.3, 0.85]))
        img = _paint(img, (2.2 * px - jnp.linalg.norm(uv - rotors[i], axis=-1)) / px + 0.5, color)
    return jnp.round(jnp.clip(img, 0.0, 1.0) * 255).astype(jnp.uint8)


def frames(env: Any, states: Any, params: Any) -> np.ndarray:
    """Frames ``uint8[T, H, W, 3]`` of a stacked sequence of env states (leading time axis)."""
    return np.asarray(jax.jit(jax.vmap(env.render, in_axes=(0, None)))(states, params))


def save_gif(images: np.ndarray, path: str, fps: int = 25) -> str:
    """Write frames ``uint8[T, H, W, 3]`` as an animated GIF (looping) and return the path."""
    import imageio.v2 as imageio

    imageio.mimsave(path, list(np.asarray(images)), duration=1000.0 / fps, loop=0)
    return path


def plot_trajectory(positions: Any, references: Any = None, path: str | None = None, title: str = ""):
    """A matplotlib 3-D plot of positions ``(T, 3)`` or ``(T, N, 3)`` (and references); returns the Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    pos = np.asarray(positions, dtype=np.float64)
    pos = pos[:, None] if pos.ndim == 2 else pos
    fig = plt.figure(figsize=(6, 5))
    ax = fig.add_subplot(projection="3d")
    for i in range(pos.shape[1]):
        ax.plot(pos[:, i, 0], pos[:, i, 1], pos[:, i, 2], lw=1.2, label="flown" if i == 0 else None)
        ax.scatter(*pos[0, i], marker="o", s=12, color="k")
    if references is not None:
        ref = np.asarray(references, dtype=np.float64).reshape(-1, 3)
        ax.plot(ref[:, 0], ref[:, 1], ref[:, 2], "g--", lw=1.0, label="reference")
    lim = max(0.6, float(np.nanmax(np.abs(pos))) if pos.size else 0.6)
    ax.set(
        xlim=(-lim, lim), ylim=(-lim, lim), zlim=(-lim, lim), xlabel="x [m]", ylabel="y [m]", zlabel="z [m]"
    )
    ax.set_title(title)
    ax.legend(loc="upper left")
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig
