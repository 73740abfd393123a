"""The counter-based hash draws (moments, tails, independence) and what ``materialize`` and
``optimization_barrier`` do to XLA:CPU fusion, checked on compiled programs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite import hashrng, prng


def test_hash_draws_are_uniform_normal_and_independent():
    keys = jax.random.split(jax.random.key(11), 20000)
    u = np.asarray(jax.jit(jax.vmap(lambda k: hashrng.uniforms(k, 46)))(keys))
    assert u.min() > 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.002 and abs(u.var() - 1 / 12) < 0.001
    counts = np.histogram(u[:, 7], bins=20, range=(0, 1))[0]
    assert ((counts - 1000) ** 2 / 1000).sum() < 45  # chi-square, 19 dof: p ~ 0.001
    corr = np.corrcoef(u.T)
    assert np.abs(corr - np.eye(46)).max() < 0.04  # draws of one key are uncorrelated
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 0.04  # and so are neighbouring keys
    z = np.asarray(hashrng.normal_from_uniform(jnp.asarray(u)))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(np.abs(z) > 2) - 0.0455) < 0.003
    raw = jax.random.PRNGKey(3)  # raw uint32[2] keys work too, and the same key gives the same numbers
    np.testing.assert_array_equal(hashrng.uniforms(raw, 5), hashrng.uniforms(raw, 5))
    assert not np.array_equal(hashrng.uniforms(raw, 5), hashrng.uniforms(jax.random.PRNGKey(4), 5))


def test_rand_hands_out_the_stream_in_order_and_refuses_to_overdraw():
    key = jax.random.key(5)
    rng = hashrng.Rand(key, 6)
    first, rest = rng.words(2), rng.words(4)
    np.testing.assert_array_equal(np.concatenate([first, rest]), hashrng.words(key, 6))
    try:
        rng.words(1)
    except ValueError as e:
        assert "exhausted" in str(e)
    else:
        raise AssertionError("a seventh draw from a 6-draw stream was allowed")
    many = hashrng.words(key, 300)  # beyond the precomputed salts: the same counter hash
    np.testing.assert_array_equal(many[:6], hashrng.words(key, 6))
    assert len(np.unique(np.asarray(many))) == 300


def _count(fn, *args, op):
    return jax.jit(fn).lower(*args).compile().as_text().count(f" {op}(")


def test_materialize_computes_a_shared_value_once_and_the_barrier_does_not():
    """A hashed value read by three grid-sized selects: fused, the hash is recomputed in each consumer;
    behind ``optimization_barrier`` too; behind ``materialize`` it is computed once."""

    def program(wrap):
        def f(keys):
            def one(key):
                w = wrap(hashrng.words(key, 2))
                x, y = (w[0] % 13).astype(jnp.int32), (w[1] % 13).astype(jnp.int32)
                X, Y = jnp.meshgrid(jnp.arange(13), jnp.arange(13))
                g1 = jnp.where((X == x) & (Y == y), 1, 0)
                return g1, jnp.where((X == y) | (Y == x), 2, 0), jnp.where(X + Y == x + y, 3, 0)

            return jax.vmap(one)(keys)

        return f

    keys = jax.random.split(jax.random.key(0), 8)
    fused = _count(program(lambda w: w), keys, op="multiply")
    barrier = _count(program(jax.lax.optimization_barrier), keys, op="multiply")
    once = _count(program(hashrng.materialize), keys, op="multiply")
    assert once < fused and barrier == fused


def test_barrier_keeps_one_hash_out_of_the_next():
    """What ``jaxrl_suite.prng`` relies on: a barrier between two threefry hashes keeps them in two kernels."""

    def chain(wrap):
        def f(k):
            lo = jax.lax.iota(jnp.uint32, 64)
            b1, b2 = prng.threefry2x32(k[0], k[1], jnp.zeros_like(lo), lo)
            keys = wrap(jnp.stack([b1, b2], -1))
            c1, c2 = prng.threefry2x32(keys[:, 0], keys[:, 1], jnp.zeros_like(lo), jnp.ones_like(lo))
            return c1 ^ c2

        return f

    k = jnp.array([1, 2], jnp.uint32)
    assert _count(chain(lambda x: x), k, op="fusion") == 1
    assert _count(chain(jax.lax.optimization_barrier), k, op="fusion") == 2
