"""Can a start be saved at all? Open-loop action sequences optimised through the model, per start.

A diagnostic for hover policies: it separates the crashes the physics forces (a sinking, tilted drone near the
floor of the box, with lagging motors) from the crashes a better policy would avoid. For each start, Adam
optimises ``seconds`` of actions (``tanh`` of free parameters, held for one control step each, as a policy's)
through the same RK4 model, force and torque as the episode, from several initial guesses; a start counts as
saved when some sequence keeps every position coordinate inside the termination box for the whole horizon and
ends upright (tilt below 60°) and not sinking faster than 0.5 m/s. The optimiser knows the state and the
disturbance exactly, so a saved start is one no observation could make easier; a start it cannot save may
still be savable (the search is local), so the unsaved fraction bounds the physical floor from above.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrl_suite.envs.quadrotor import dynamics as dyn
from jaxrl_suite.envs.quadrotor.env import episode_dynamics
from jaxrl_suite.envs.quadrotor.types import QuadrotorParams, QuadrotorState

_MARGIN = 0.05  # m inside the box where the box penalty starts
_SOFT = 0.01  # m, softness of the box penalty


def _simulate(u: jax.Array, start: QuadrotorState, params: QuadrotorParams):
    """Positions [T, 3], vertical velocities [T] and cos(tilt) [T] after each of ``u``'s steps."""
    model = episode_dynamics(params, start.scale)
    dtype = start.quad.position[0].dtype
    cast = dyn.cast_params(model, dtype)

    def body(q, a):
        cmd = dyn.action_to_rpm(cast, jnp.tanh(a))
        q = dyn.step(model, q, dyn.unstack(cmd, 4), start.force, start.torque)
        upright = dyn.rotation_matrix(q.quaternion)[8]  # R_zz: cos(tilt)
        return q, (jnp.stack(q.position), q.velocity[2], upright)

    _, out = jax.lax.scan(body, start.quad, u)
    return out


def _loss(u, start, params):
    pos, vz, upright = _simulate(u, start, params)
    excess = jnp.max(jnp.abs(pos), axis=1) - (params.position_threshold - _MARGIN)
    box = jnp.sum(jax.nn.softplus(excess / _SOFT)) * _SOFT
    return 10.0 * box + 0.3 * jnp.minimum(vz[-1], 0.0) ** 2 + 0.3 * (1.0 - upright[-1])


def _outcome(u, start, params):
    pos, vz, upright = _simulate(u, start, params)
    worst = jnp.max(jnp.abs(pos))
    saved = (worst < params.position_threshold) & (upright[-1] > 0.5) & (vz[-1] > -0.5)
    return saved, worst


def recoverable(
    starts: QuadrotorState,
    params: QuadrotorParams,
    seconds: float = 1.0,
    iterations: int = 600,
    learning_rate: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """For a batch of start states (leading axis): ``saved`` (bool, numpy), the best sequence's largest
    ``|position|`` coordinate (``worst_m``), and which initial guess saved each first (``by``: ``hover``,
    ``full`` throttle or ``random`` around hover; ``None`` when none did)."""
    n = int(np.shape(starts.quad.position[0])[0])
    if n == 0:
        return {"saved": np.zeros(0, bool), "worst_m": np.zeros(0), "by": []}
    steps = int(round(seconds / float(params.dynamics.dt)))
    if steps < 1 or iterations < 1:
        raise ValueError(
            f"need seconds >= one control step and iterations >= 1 (got {seconds}, {iterations})"
        )
    opt = optax.chain(optax.clip_by_global_norm(10.0), optax.adam(learning_rate))

    @jax.jit
    def solve(u0, starts):
        def one(u0, start):
            def it(carry, _):
                u, state = carry
                g = jax.grad(_loss)(u, start, params)
                updates, state = opt.update(g, state, u)
                return (optax.apply_updates(u, updates), state), None

            (u, _), _ = jax.lax.scan(it, (u0, opt.init(u0)), None, length=iterations)
            return _outcome(u, start, params)

        return jax.vmap(one)(u0, starts)

    dtype = starts.quad.position[0].dtype
    hover = float(np.arctanh(float(dyn.rpm_to_action(params.dynamics, dyn.hover_rpm(params.dynamics)))))
    shape = (n, steps, 4)
    guesses = {
        "hover": jnp.full(shape, hover, dtype),
        "full": jnp.full(shape, 1.5, dtype),
        "random": (hover + 0.5 * jax.random.normal(jax.random.key(seed), shape)).astype(dtype),
    }
    saved = np.zeros(n, bool)
    worst = np.full(n, np.inf)
    by: list[str | None] = [None] * n
    for name, u0 in guesses.items():
        ok, w = jax.device_get(solve(u0, starts))
        for i in np.nonzero(ok & ~saved)[0]:
            by[i] = name
        saved |= ok
        worst = np.minimum(worst, w)
    return {"saved": saved, "worst_m": worst, "by": by}
