"""The LPO / TA-LPO meta-training problem: population x seeds inner trainings in one compiled program.

``DriftMeta`` builds the inner trainers per environment, compiles the [P, S] runs program (the population axis
sharded across devices), draws the inner-run seeds (common random numbers), scores the meta-fitness and runs
one ES generation (``step``) or an evaluation of fixed methods (PPO, DPO, a learned drift) on held-out seeds.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_suite.algos import drift as dr
from jaxrl_suite.algos.drift_ppo import DriftHparams, make_train
from jaxrl_suite.algos.meta.config import BASES, MetaConfig
from jaxrl_suite.algos.meta.es import Evolution
from jaxrl_suite.runtime.sharding import run_sharding
from jaxrl_suite.stats import finite_or_none, nanmean


@struct.dataclass
class MetaState:
    """Everything meta-training carries between generations (checkpointed every generation)."""

    es: Any
    generation: jax.Array
    ppo_return: jax.Array  # [envs] PPO's final return on the held-out seeds (normalisation, reference)
    dpo_return: jax.Array  # [envs] DPO's, for reference
    key: jax.Array  # the run's key: generation g draws from fold_in(key, g); fixed CRN seeds derive from it

    @property
    def params(self) -> Any:
        """The ES mean: what the runtime's divergence check reads."""
        return self.es.mean


def finite_mean(x: jax.Array, axis: int = -1) -> jax.Array:
    """Mean over finite entries (NaN where there are none), traceable (``jaxrl_suite.stats.nanmean`` in jnp)."""
    ok = jnp.isfinite(x)
    n = ok.sum(axis)
    return jnp.where(n > 0, jnp.where(ok, x, 0.0).sum(axis) / jnp.maximum(n, 1), jnp.nan)


# held-out evaluations report the return over this last fraction of updates, whatever the fitness
FINAL_TAIL = 0.1


def tail_return(ret, cnt, tail_updates: int):
    """Episode-weighted mean return over the last ``tail_updates`` updates (NaN when none finished); jnp or np."""
    xp = jnp if isinstance(ret, jax.Array) else np
    r, c = ret[..., -tail_updates:], cnt[..., -tail_updates:]
    total = xp.where(c > 0, r * c, 0.0).sum(-1)
    n = c.sum(-1)
    return xp.where(n > 0, total / xp.maximum(n, 1.0), xp.nan)


def _broadcast_runs(hp: DriftHparams, members: int, seeds: int) -> DriftHparams:
    """Give every leaf a [members, seeds] prefix: scalars are broadcast, drift_params must lead with members."""
    scalars = hp.replace(drift_params=None)
    scalars = jax.tree.map(lambda x: jnp.broadcast_to(jnp.asarray(x, jnp.float32), (members, seeds)), scalars)
    params = jax.tree.map(
        lambda x: jnp.broadcast_to(jnp.asarray(x, jnp.float32)[:, None], (members, seeds) + jnp.shape(x)[1:]),
        hp.drift_params,
    )
    return scalars.replace(drift_params=params)


class DriftMeta:
    """The meta-training problem: inner trainers per env, the compiled runs program, fitness and evaluation."""

    def __init__(self, config: MetaConfig):
        import jaxrl_suite

        self.config = config.validate()
        self.temporal = config.drift == "ta_lpo"
        self.trainers = {}
        for env_id in config.envs:
            env, params = jaxrl_suite.make(env_id)
            self.trainers[env_id] = make_train(config.inner_config, env, params)
        self.num_updates = config.inner_config.num_updates
        self.tail = max(1, int(round(config.fitness_tail * self.num_updates)))
        self.final_tail = max(1, int(round(FINAL_TAIL * self.num_updates)))
        self.template = dr.init_params(None, config.hidden, self.temporal)
        w_ppo, w_dpo = BASES[config.base]
        self.hparams = config.inner_hparams.replace(drift_ppo=w_ppo, drift_dpo=w_dpo, drift_params=None)
        self.evolution = Evolution(config.es, self.template)
        self.population = config.es.population
        self.sharding = run_sharding(self.population)
        self._compiled = None

    # -- the one big program: [P, S] inner runs on every env ----------------------------------------------

    def _runs_fn(self, hp: DriftHparams, keys: jax.Array) -> dict:
        finals, returns, episodes, losses = [], [], [], []
        p, s = keys.shape
        flat = lambda x: x.reshape((p * s,) + x.shape[2:])  # noqa: E731
        unflat = lambda x: x.reshape((p, s) + x.shape[1:])  # noqa: E731
        for trainer in self.trainers.values():
            # trainer(key, hp) = init + run. The inits go one at a time (lax.map): two *batched* orthogonal
            # inits (QR) running concurrently deadlock XLA:CPU's 2-thread pool from ~100 runs (jax 0.10.2).
            states = jax.lax.map(lambda a, t=trainer: t.init(*a), (flat(keys), jax.tree.map(flat, hp)))
            states = jax.tree.map(unflat, states)
            run = lambda st, h, t=trainer: t.run(st, h, t.config.num_updates)[1]  # noqa: E731
            metrics = jax.vmap(jax.vmap(run))(states, hp)
            ret, cnt = metrics["return"], metrics["episodes"]
            finals.append(tail_return(ret, cnt, self.tail))
            returns.append(ret)
            episodes.append(cnt)
            losses.append(metrics["policy_loss"])
        return {
            "final": jnp.stack(finals),
            "return": jnp.stack(returns),
            "episodes": jnp.stack(episodes),
            "policy_loss": jnp.stack(losses),
        }

    def compiled_runs(self):
        """The compiled [P, S] program (compiled once; evaluation reuses it by padding to P x S runs)."""
        if self._compiled is None:
            hp = _broadcast_runs(
                self.hparams.replace(
                    drift_params=jax.tree.map(
                        lambda x: jnp.broadcast_to(x, (self.population,) + x.shape), self.template
                    )
                ),
                self.population,
                self.config.seeds,
            )
            keys = jax.random.split(jax.random.key(0), self.population * self.config.seeds)
            keys = keys.reshape(self.population, self.config.seeds)
            hp, keys = jax.device_put((hp, keys), self.sharding)
            self._compiled = jax.jit(self._runs_fn).lower(hp, keys).compile()
        return self._compiled

    def runs(self, hp: DriftHparams, keys: jax.Array) -> dict:
        """``hp`` leaves and ``keys`` shaped [P, S]; returns final [E, P, S] and per-update return, episodes and
        policy_loss [E, P, S, U]."""
        hp, keys = jax.device_put((hp, keys), self.sharding)
        return self.compiled_runs()(hp, keys)

    # -- seeds, fitness, evaluation ------------------------------------------------------------------------

    def train_keys(self, key: jax.Array, base_key: jax.Array) -> jax.Array:
        """[P, S] inner-run keys of one generation under the configured common-random-numbers mode."""
        p, s = self.population, self.config.seeds
        if self.config.crn == "fixed":
            seeds = jax.random.split(jax.random.fold_in(base_key, 0x5EED), s)
            return jnp.broadcast_to(seeds[None], (p, s))
        if self.config.crn == "generation":
            return jnp.broadcast_to(jax.random.split(key, s)[None], (p, s))
        return jax.random.split(key, p * s).reshape(p, s)

    def eval_keys(self, base_key: jax.Array) -> jax.Array:
        """Held-out seeds, distinct from every training seed."""
        return jax.random.split(jax.random.fold_in(base_key, 0xE7A1), self.config.eval_seeds)

    def member_hparams(self, population: Any) -> DriftHparams:
        return _broadcast_runs(
            self.hparams.replace(drift_params=population), self.population, self.config.seeds
        )

    def fitness(self, population: Any, key: jax.Array, base_key: jax.Array, ppo_return: jax.Array, runs=None):
        """Meta-fitness of each member (maximised) and per-env mean returns ``[E, P]``; traceable.

        ``runs``: the [P, S] runs function (default: the compiled program; traced code passes ``traced_runs``).
        """
        keys = self.train_keys(key, base_key)
        out = (runs or self.runs)(self.member_hparams(population), keys)
        per_env = finite_mean(out["final"], axis=-1)  # [E, P]
        if self.config.normalized:
            base = jnp.asarray(ppo_return, jnp.float32)[:, None]
            per_env_score = (per_env - base) / jnp.maximum(jnp.abs(base), 1.0)
        else:
            per_env_score = per_env
        fitness = per_env_score.mean(axis=0)  # NaN on any env (no finished episode) -> ranked last
        return fitness.astype(jnp.float32), {"per_env_return": per_env}

    def traced_runs(self, hp: DriftHparams, keys: jax.Array) -> dict:
        """The [P, S] runs inside a larger traced program, the population axis sharded across devices."""
        hp, keys = jax.lax.with_sharding_constraint((hp, keys), self.sharding)
        return self._runs_fn(hp, keys)

    def method_hparams(self, method: str, drift_params: Any = None) -> DriftHparams:
        """Hparams that make the inner learner PPO, DPO, or the learned drift (``"learned"``) in one program."""
        zero = self.template
        if method == "ppo":
            return self.hparams.replace(drift_ppo=1.0, drift_dpo=0.0, drift_params=zero)
        if method == "dpo":
            return self.hparams.replace(drift_ppo=0.0, drift_dpo=1.0, drift_params=zero)
        if method == "learned":
            if drift_params is None:
                raise ValueError("the learned method needs drift_params")
            dr.check_params(drift_params, self.config.hidden, self.temporal)
            return self.hparams.replace(drift_params=jax.tree.map(jnp.asarray, drift_params))
        raise ValueError(f"unknown method {method!r}; choose from ppo, dpo, learned")

    def evaluate(self, methods: dict[str, DriftHparams], keys: jax.Array) -> dict:
        """Run every method on every seed in ``keys`` (padded into the compiled [P, S] program).

        Returns ``{name: {"final" | "final_return": [E, seeds], "return" | "episodes" | "policy_loss": [E, seeds, U]}}``:
        "final" is the fitness's definition (``fitness_tail``), "final_return" the return over the last 10% of
        updates (``FINAL_TAIL``) whatever the fitness, so held-out comparisons stay comparable across recipes.
        """
        names = list(methods)
        n_seeds = int(keys.shape[0])
        runs = [(m, i) for m in range(len(names)) for i in range(n_seeds)]
        slots = self.population * self.config.seeds
        per_method = [jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), methods[n]) for n in names]
        results = {k: [] for k in ("final", "return", "episodes", "policy_loss")}
        for start in range(0, len(runs), slots):
            chunk = runs[start : start + slots]
            chunk = chunk + [chunk[-1]] * (slots - len(chunk))  # pad with repeats (discarded)
            hps = [per_method[m] for m, _ in chunk]
            hp = jax.tree.map(
                lambda *xs: jnp.stack(xs).reshape((self.population, self.config.seeds) + jnp.shape(xs[0])),
                *hps,
            )
            ks = jnp.stack([keys[i] for _, i in chunk]).reshape(self.population, self.config.seeds)
            out = jax.device_get(self.runs(hp, ks))
            for k in results:
                results[k].append(np.asarray(out[k]).reshape((out[k].shape[0], slots) + out[k].shape[3:]))
        cat = {k: np.concatenate(v, axis=1)[:, : len(runs)] for k, v in results.items()}
        cat["final_return"] = tail_return(cat["return"], cat["episodes"], self.final_tail)
        out = {}
        for m, name in enumerate(names):
            sl = slice(m * n_seeds, (m + 1) * n_seeds)
            out[name] = {k: v[:, sl] for k, v in cat.items()}
        return out

    def reference(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """PPO's and DPO's final returns per env on the held-out seeds of ``key`` (normalisation, reference)."""
        base = self.evaluate(
            {"ppo": self.method_hparams("ppo"), "dpo": self.method_hparams("dpo")}, self.eval_keys(key)
        )
        return (
            jnp.asarray(nanmean(base["ppo"]["final"]), jnp.float32),
            jnp.asarray(nanmean(base["dpo"]["final"]), jnp.float32),
        )

    def start(self, key: jax.Array, ppo_return: jax.Array, dpo_return: jax.Array) -> MetaState:
        """ES state around the initial mean (random w_in, zero w_out: the base drift); traceable."""
        k_init, k_es = jax.random.split(jax.random.fold_in(key, 0x1417))
        mean = dr.init_params(
            k_init if self.config.init_scale > 0 else None,
            self.config.hidden,
            self.temporal,
            self.config.init_scale,
        )
        return MetaState(
            es=self.evolution.init(k_es, mean),
            generation=jnp.zeros((), jnp.int32),
            ppo_return=jnp.asarray(ppo_return, jnp.float32),
            dpo_return=jnp.asarray(dpo_return, jnp.float32),
            key=key,
        )

    def init(self, key: jax.Array) -> MetaState:
        """``start`` with the baselines measured on the held-out seeds of ``key``."""
        return self.start(key, *self.reference(key))

    def generation(self, state: MetaState, runs=None) -> tuple[MetaState, dict[str, jax.Array]]:
        """One ES generation as named scalar metrics; traceable (``runs=self.traced_runs``) or eager.

        Its randomness is ``fold_in(state.key, generation)``, so a resumed run is the same run.
        """
        k_gen = jax.random.fold_in(state.key, state.generation)
        es_state, fitness, _, aux = self.evolution.step(
            state.es,
            k_gen,
            lambda pop, k: self.fitness(pop, k, state.key, state.ppo_return, runs),
        )
        per_env = finite_mean(aux["per_env_return"], axis=-1)  # [E]: population mean of each env's return
        metrics = {
            "generation": state.generation.astype(jnp.float32),
            "fitness_mean": finite_mean(fitness),
            "fitness_max": jnp.nanmax(fitness),
            "fitness_min": jnp.nanmin(fitness),
            "fitness_std": jnp.nanstd(fitness),
            "nan_members": jnp.isnan(fitness).sum().astype(jnp.float32),
            "return": finite_mean(per_env),
            **{f"return/{e}": per_env[i] for i, e in enumerate(self.config.envs)},
            "sigma": jnp.asarray(es_state.std, jnp.float32),
            "mean_norm": jnp.linalg.norm(es_state.mean),
        }
        return state.replace(es=es_state, generation=state.generation + 1), metrics

    def step(self, state: MetaState, key: jax.Array | None = None) -> tuple[MetaState, dict]:
        """One generation run eagerly around the compiled [P, S] program; ``key`` replaces the state's key.
        Returns the new state and the generation's row (JSON-ready)."""
        if key is not None:
            state = state.replace(key=key)
        state, metrics = self.generation(state)
        return state, self.history_row(jax.device_get(metrics))

    def history_row(self, m: dict) -> dict:
        """A generation's metrics (host scalars) as the JSON row of ``meta_metrics.jsonl``."""
        return {
            "generation": int(m["generation"]),
            "fitness_mean": finite_or_none(m["fitness_mean"]),
            "fitness_max": finite_or_none(m["fitness_max"]),
            "fitness_min": finite_or_none(m["fitness_min"]),
            "fitness_std": finite_or_none(m["fitness_std"]),
            "nan_members": int(m["nan_members"]),
            "return_mean": {e: finite_or_none(m[f"return/{e}"]) for e in self.config.envs},
            "sigma": float(m["sigma"]),
            "mean_norm": float(m["mean_norm"]),
        }

    def mean_params(self, state: MetaState) -> dict:
        return jax.tree.map(np.asarray, self.evolution.mean(state.es))
