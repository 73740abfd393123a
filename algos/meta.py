"""Meta-training learned drifts (LPO, TA-LPO) with evolution strategies (evosax OpenES), in one compiled program.

Each generation asks OpenES (antithetic pairs, centered-rank fitness shaping) for a population of drift
networks, runs population x seeds full inner trainings (``algos/drift_ppo.py``) vmapped in one jitted program
(the population axis sharded across devices), and tells it the meta-fitness: the mean episode return over the
last ``fitness_tail`` of each inner run, averaged over seeds and, with several environments, normalised per
environment by PPO's return. evosax >= 0.2 *minimises*, so ``Evolution.step`` passes -fitness (OPEN does the
same; Goldie et al. 2024). Defaults follow the CPU recipe that beat PPO on CartPole here: hidden 16,
sigma 0.03, Adam 0.02, common random numbers fixed across generations, a fast inner learner so that the
ratio leaves the drift's dead zone. ``meta_train`` adds the progress bar, per-generation checkpoints of the ES
state (orbax, via the runtime's ``Checkpointer``) and exact resume.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from evosax.algorithms import Open_ES
from evosax.core.fitness_shaping import centered_rank_fitness_shaping_fn
from flax import struct
from tqdm import tqdm  # plain text bar (tqdm.auto warns in notebooks without ipywidgets)

from jaxrl_suite.algos import drift as dr
from jaxrl_suite.algos.drift_ppo import DriftConfig, DriftHparams, make_train
from jaxrl_suite.runtime.checkpoint import Checkpointer, CheckpointError
from jaxrl_suite.runtime.loop import spec_fingerprint
from jaxrl_suite.runtime.sharding import run_sharding

CRN_MODES = ("fixed", "generation", "off")
BASES = {"ppo": (1.0, 0.0), "dpo": (0.0, 1.0), "none": (0.0, 0.0)}  # (drift_ppo, drift_dpo) weights


# ----------------------------------------------------------------------------------------------------------
# Evolution strategy (generic: maximises any fitness function of a pytree population)


@dataclasses.dataclass(frozen=True)
class ESConfig:
    """OpenES settings; sigma and lr decay geometrically per generation down to their limits."""

    population: int = 32
    sigma: float = 0.03
    sigma_decay: float = 1.0
    sigma_limit: float = 0.01
    lr: float = 0.02
    lr_decay: float = 1.0
    lr_limit: float = 0.001
    antithetic: bool = True

    def validate(self) -> ESConfig:
        if self.population < 2 or (self.antithetic and self.population % 2):
            raise ValueError(
                f"population must be an even number >= 2 (antithetic pairs), got {self.population}"
            )
        for name in ("sigma", "lr", "sigma_limit", "lr_limit"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ESConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("sigma_decay", "lr_decay"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"ESConfig.{name} must be in (0, 1], got {getattr(self, name)}")
        return self


def _schedule(init: float, decay: float, limit: float):
    if decay == 1.0:
        return optax.constant_schedule(init)
    return optax.exponential_decay(init, transition_steps=1, decay_rate=decay, end_value=min(limit, init))


def make_es(config: ESConfig, template: Any) -> Open_ES:
    """evosax OpenES over pytrees shaped like ``template``: Adam on the mean, centered-rank shaping."""
    config.validate()
    return Open_ES(
        population_size=config.population,
        solution=template,
        use_antithetic_sampling=config.antithetic,
        optimizer=optax.adam(_schedule(config.lr, config.lr_decay, config.lr_limit)),
        std_schedule=_schedule(config.sigma, config.sigma_decay, config.sigma_limit),
        fitness_shaping_fn=centered_rank_fitness_shaping_fn,
    )


class Evolution:
    """Ask / evaluate / tell around evosax OpenES, *maximising* the fitness it is given."""

    def __init__(self, config: ESConfig, template: Any):
        self.config = config.validate()
        self.es = make_es(config, template)
        self.params = self.es.default_params

    def init(self, key: jax.Array, mean: Any):
        return self.es.init(key, mean, self.params)

    def mean(self, es_state) -> Any:
        return self.es.get_mean(es_state)

    def step(self, es_state, key: jax.Array, fitness_fn: Callable):
        """One generation: ``(es_state, fitness, population, aux)``; NaN fitness ranks last.

        ``fitness_fn(population, key) -> (fitness[P], aux)`` scores a pytree population with a leading P axis.
        """
        k_ask, k_fit, k_tell = jax.random.split(key, 3)
        population, es_state = self.es.ask(k_ask, es_state, self.params)
        fitness, aux = fitness_fn(population, k_fit)
        fitness = jnp.asarray(fitness, jnp.float32)
        es_state, _ = self.es.tell(k_tell, population, -fitness, es_state, self.params)  # evosax minimises
        return es_state, fitness, population, aux


# ----------------------------------------------------------------------------------------------------------
# LPO / TA-LPO meta-training problem


def _default_inner() -> DriftConfig:
    """CartPole-sized fast learner (§5.2/§5.4c): 8 envs x 128 steps, 4 epochs x 4 minibatches, 2e4 steps, no anneal."""
    return DriftConfig(
        num_envs=8,
        num_steps=128,
        total_timesteps=20_480,
        update_epochs=4,
        num_minibatches=4,
        anneal_lr=False,
        drift="lpo",
        drift_hidden=16,
    )


@dataclasses.dataclass(frozen=True)
class MetaConfig:
    """What is meta-trained (drift kind, network, base drift) on which inner tasks, and how it is scored."""

    envs: tuple[str, ...] = ("CartPole-v1",)
    drift: str = "lpo"  # lpo | ta_lpo
    hidden: int = 16
    base: str = "ppo"  # closed-form drift the network adds to: ppo (PPO-init), dpo, none
    init_scale: float = 1.0  # w_in ~ N(0, init_scale^2 / inputs); w_out starts at 0 (= the base drift)
    seeds: int = 4  # inner runs per population member
    eval_seeds: int = 8  # held-out seeds for evaluating the mean and the baselines
    crn: str = "fixed"  # common random numbers: fixed (same seeds every generation), generation, off
    fitness_tail: float = 0.1  # fraction of final inner updates whose episodes make the fitness
    normalize: bool | None = None  # per-env (R - R_ppo) / max(|R_ppo|, 1); None: on when several envs
    es: ESConfig = dataclasses.field(default_factory=ESConfig)
    inner: DriftConfig = dataclasses.field(default_factory=_default_inner)
    inner_hparams: DriftHparams = dataclasses.field(default_factory=lambda: DriftHparams(lr=5e-3))

    @property
    def normalized(self) -> bool:
        return len(self.envs) > 1 if self.normalize is None else bool(self.normalize)

    def validate(self) -> MetaConfig:
        from jaxrl_suite.registry import spec as env_spec

        if not self.envs:
            raise ValueError("meta-training needs at least one environment id")
        for env_id in self.envs:
            env_spec(env_id)  # unknown id -> ValueError with close matches
        if self.drift not in dr.NETWORK_KINDS:
            raise ValueError(f"meta-training learns a network drift {dr.NETWORK_KINDS}, got {self.drift!r}")
        if self.base not in BASES:
            raise ValueError(f"unknown base drift {self.base!r}; choose from {sorted(BASES)}")
        if self.crn not in CRN_MODES:
            raise ValueError(f"unknown crn mode {self.crn!r}; choose from {CRN_MODES}")
        if self.hidden < 1 or self.seeds < 1 or self.eval_seeds < 1:
            raise ValueError(
                f"hidden, seeds and eval_seeds must be >= 1; got {self.hidden}, {self.seeds}, "
                f"{self.eval_seeds}"
            )
        if not 0 < self.fitness_tail <= 1:
            raise ValueError(f"fitness_tail must be in (0, 1], got {self.fitness_tail}")
        if not self.init_scale >= 0:
            raise ValueError(f"init_scale must be >= 0, got {self.init_scale}")
        self.es.validate()
        self.inner_config.validate()
        self.inner_hparams.validate()
        return self

    @property
    def inner_config(self) -> DriftConfig:
        return dataclasses.replace(self.inner, drift=self.drift, drift_hidden=self.hidden, drift_weights=None)

    def to_json(self) -> dict:
        """The effective configuration (the inner config as trained), JSON-ready; it fingerprints checkpoints."""
        blob = dataclasses.asdict(dataclasses.replace(self, inner=self.inner_config))
        return json.loads(json.dumps(blob, default=str))


@struct.dataclass
class MetaState:
    """Everything meta-training carries between generations (checkpointed every generation)."""

    es: Any
    generation: jax.Array
    ppo_return: jax.Array  # [envs] PPO's final return on the held-out seeds (normalisation, reference)
    dpo_return: jax.Array  # [envs] DPO's, for reference


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
            tail_ret, tail_cnt = ret[..., -self.tail :], cnt[..., -self.tail :]
            total = jnp.where(tail_cnt > 0, tail_ret * tail_cnt, 0.0).sum(-1)
            n = tail_cnt.sum(-1)
            finals.append(jnp.where(n > 0, total / jnp.maximum(n, 1.0), jnp.nan))
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

    def fitness(self, population: Any, key: jax.Array, base_key: jax.Array | None = None, ppo_return=None):
        """Meta-fitness of each member (maximised) and per-env mean returns ``[E, P]``."""
        keys = self.train_keys(key, key if base_key is None else base_key)
        out = self.runs(self.member_hparams(population), keys)
        per_env = nanmean(out["final"], axis=-1)  # [E, P]
        if self.config.normalized:
            if ppo_return is None:
                raise ValueError("normalised fitness needs PPO's returns per environment")
            base = np.asarray(ppo_return, np.float64)[:, None]
            per_env_score = (per_env - base) / np.maximum(np.abs(base), 1.0)
        else:
            per_env_score = per_env
        fitness = per_env_score.mean(axis=0)  # NaN on any env (no finished episode) -> ranked last
        return jnp.asarray(fitness, jnp.float32), {"per_env_return": per_env}

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

        Returns ``{name: {"final": [E, seeds], "return" | "episodes" | "policy_loss": [E, seeds, U]}}``.
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
        out = {}
        for m, name in enumerate(names):
            sl = slice(m * n_seeds, (m + 1) * n_seeds)
            out[name] = {k: v[:, sl] for k, v in cat.items()}
        return out

    def init(self, key: jax.Array) -> MetaState:
        """ES state around the initial mean (random w_in, zero w_out: the base drift) and baseline returns."""
        k_init, k_es = jax.random.split(jax.random.fold_in(key, 0x1417))
        mean = dr.init_params(
            k_init if self.config.init_scale > 0 else None,
            self.config.hidden,
            self.temporal,
            self.config.init_scale,
        )
        es_state = self.evolution.init(k_es, mean)
        base = self.evaluate(
            {"ppo": self.method_hparams("ppo"), "dpo": self.method_hparams("dpo")}, self.eval_keys(key)
        )
        return MetaState(
            es=es_state,
            generation=jnp.zeros((), jnp.int32),
            ppo_return=jnp.asarray(nanmean(base["ppo"]["final"]), jnp.float32),
            dpo_return=jnp.asarray(nanmean(base["dpo"]["final"]), jnp.float32),
        )

    def step(self, state: MetaState, key: jax.Array) -> tuple[MetaState, dict]:
        """One generation; its randomness is ``fold_in(key, generation)``, so a resumed run is the same run."""
        gen = int(state.generation)
        k_gen = jax.random.fold_in(key, gen)
        es_state, fitness, _, aux = self.evolution.step(
            state.es, k_gen, lambda pop, k: self.fitness(pop, k, base_key=key, ppo_return=state.ppo_return)
        )
        f = np.asarray(fitness, np.float64)
        per_env = aux["per_env_return"]
        row = {
            "generation": gen,
            "fitness_mean": _num(nanmean(f)),
            "fitness_max": _stat(np.nanmax, f),
            "fitness_min": _stat(np.nanmin, f),
            "fitness_std": _stat(np.nanstd, f),
            "nan_members": int(np.isnan(f).sum()),
            "return_mean": {e: _num(nanmean(per_env[i])) for i, e in enumerate(self.config.envs)},
            "sigma": float(es_state.std),
            "mean_norm": float(jnp.linalg.norm(es_state.mean)),
        }
        return state.replace(es=es_state, generation=state.generation + 1), row

    def mean_params(self, state: MetaState) -> dict:
        return jax.tree.map(np.asarray, self.evolution.mean(state.es))


def nanmean(x, axis: int = -1) -> np.ndarray:
    """Mean over finite entries (NaN where there are none), without numpy's empty-slice warning."""
    x = np.asarray(x, np.float64)
    n = np.isfinite(x).sum(axis)
    total = np.where(np.isfinite(x), x, 0.0).sum(axis)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _stat(fn, x) -> float | None:
    return _num(fn(x)) if np.isfinite(x).any() else None


def _num(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


# ----------------------------------------------------------------------------------------------------------
# Runtime: generations with a progress bar, per-generation checkpoints and exact resume


@dataclasses.dataclass
class MetaResult:
    state: MetaState
    drift_params: dict  # the ES mean, as numpy arrays
    history: list[dict]
    summary: dict
    out_dir: Path | None = None
    interrupted: bool = False


def ci95(x: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the half-width of a 95% Student-t confidence interval along ``axis`` (NaNs dropped)."""
    from scipy import stats

    x = np.asarray(x, np.float64)
    n = np.sum(np.isfinite(x), axis=axis)
    mean = nanmean(x, axis=axis)
    dev = np.where(np.isfinite(x), x - np.expand_dims(mean, axis), 0.0)
    se = np.sqrt((dev**2).sum(axis) / np.maximum(n - 1, 1)) / np.sqrt(np.maximum(n, 1))
    return mean, stats.t.ppf(0.975, np.maximum(n - 1, 1)) * se


def evaluate_methods(meta: DriftMeta, drift_params: dict, key: jax.Array) -> dict:
    """Learned drift vs PPO vs DPO on the held-out seeds: per env mean, 95% CI and per-seed finals."""
    res = meta.evaluate(
        {
            "learned": meta.method_hparams("learned", drift_params),
            "ppo": meta.method_hparams("ppo"),
            "dpo": meta.method_hparams("dpo"),
        },
        meta.eval_keys(key),
    )
    out = {}
    for i, env_id in enumerate(meta.config.envs):
        out[env_id] = {}
        for name, r in res.items():
            mean, half = ci95(r["final"][i])
            out[env_id][name] = {
                "mean": _num(mean),
                "ci95": _num(half),
                "per_seed": [_num(v) for v in r["final"][i]],
            }
    return out, res


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def fitness_plot(history: list[dict], path: Path, title: str = "", reference: float | None = None) -> Path:
    """Population fitness (mean and range) and the ES mean on held-out seeds; ``reference``: PPO's level there."""
    from matplotlib.figure import Figure

    g = [r["generation"] for r in history]
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    mean = np.array([np.nan if r["fitness_mean"] is None else r["fitness_mean"] for r in history])
    lo = np.array([np.nan if r["fitness_min"] is None else r["fitness_min"] for r in history])
    hi = np.array([np.nan if r["fitness_max"] is None else r["fitness_max"] for r in history])
    ax.fill_between(g, lo, hi, alpha=0.25, label="population min-max")
    ax.plot(g, mean, label="population mean")
    ev = [(r["generation"], r["eval_fitness"]) for r in history if r.get("eval_fitness") is not None]
    if ev:
        ax.plot(*zip(*ev, strict=True), "o-", label="ES mean, held-out seeds")
    if reference is not None:
        ax.axhline(reference, color="grey", ls="--", lw=1, label="PPO, held-out seeds")
    ax.set_xlabel("generation")
    ax.set_ylabel("meta-fitness")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)


def meta_train(
    meta: DriftMeta,
    key: jax.Array,
    generations: int,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    eval_every: int = 0,
    spec: dict | None = None,
    stop_after: int | None = None,
    final_eval: bool = True,
) -> MetaResult:
    """Run ``generations`` ES generations; checkpoint after each into ``out_dir/checkpoints``; resume exactly.

    ``eval_every`` > 0 also evaluates the ES mean on the held-out seeds every that many generations.
    ``stop_after`` simulates an interruption after that many generations of this call (for tests).
    """
    if generations < 1:
        raise ValueError(f"generations must be >= 1, got {generations}")
    spec = {
        **(spec or {}),
        "meta_config": meta.config.to_json(),
        "key": np.asarray(jax.random.key_data(key)).tolist(),
    }
    fingerprint = spec_fingerprint(spec)
    out_dir = Path(out_dir) if out_dir is not None else None
    ckpt = Checkpointer(out_dir / "checkpoints", max_to_keep=2) if out_dir is not None else None
    history: list[dict] = []
    if resume:  # refuse a checkpoint of another run before compiling anything
        if ckpt is None:
            raise ValueError("resume needs an output directory holding checkpoints")
        meta_info = ckpt.read_meta()
        if meta_info.get("fingerprint") != fingerprint:
            ckpt.close()
            raise CheckpointError(
                f"checkpoint in {ckpt.directory} belongs to a different meta-training run "
                f"(its spec: {json.dumps(meta_info.get('spec'), sort_keys=True)[:400]}); refusing "
                "to resume"
            )
    compile_s = 0.0
    if meta._compiled is None:
        t = time.perf_counter()
        meta.compiled_runs()
        compile_s = time.perf_counter() - t
    t0 = time.perf_counter()
    if resume:
        template = jax.eval_shape(lambda: _template_state(meta))
        template = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), template)
        state, meta_info = ckpt.restore(template)
        history = [r for r in meta_info.get("history", []) if r["generation"] < int(state.generation)]
    else:
        state = meta.init(key)
    init_s = time.perf_counter() - t0
    start = int(state.generation)
    bar = tqdm(
        total=generations,
        initial=min(start, generations),
        unit="gen",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
        desc=f"meta-train {meta.config.drift}",
    )
    if progress and start < generations:
        ppo = ", ".join(
            f"{e} {v:.4g}" for e, v in zip(meta.config.envs, np.asarray(state.ppo_return), strict=True)
        )
        dpo = ", ".join(
            f"{e} {v:.4g}" for e, v in zip(meta.config.envs, np.asarray(state.dpo_return), strict=True)
        )
        bar.write(f"held-out seeds: PPO {ppo}; DPO {dpo}", file=sys.stderr)
    interrupted = False
    gen_times = []
    done_here = 0
    ppo_ref = np.asarray(state.ppo_return, np.float64)

    def eval_fitness(params) -> tuple[float, dict]:
        res = meta.evaluate({"learned": meta.method_hparams("learned", params)}, meta.eval_keys(key))
        per_env = nanmean(res["learned"]["final"])
        score = (per_env - ppo_ref) / np.maximum(np.abs(ppo_ref), 1.0) if meta.config.normalized else per_env
        return float(np.mean(score)), {e: _num(per_env[i]) for i, e in enumerate(meta.config.envs)}

    try:
        while int(state.generation) < generations:
            t = time.perf_counter()
            state, row = meta.step(state, key)
            row["gen_s"] = time.perf_counter() - t
            gen_times.append(row["gen_s"])
            g = int(state.generation)
            if eval_every and (g % eval_every == 0 or g == generations):
                row["eval_fitness"], row["eval_return"] = eval_fitness(meta.mean_params(state))
            history.append(row)
            if ckpt is not None:
                ckpt.save(
                    g, state, {"generation": g, "fingerprint": fingerprint, "spec": spec, "history": history}
                )
                _write_jsonl(out_dir / "meta_metrics.jsonl", history)
            bar.update(1)
            bar.set_postfix(
                fit=f"{row['fitness_mean']:.4g}" if row["fitness_mean"] is not None else "nan",
                best=f"{row['fitness_max']:.4g}" if row["fitness_max"] is not None else "nan",
            )
            done_here += 1
            if stop_after is not None and done_here >= stop_after and g < generations:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        if ckpt is not None:
            print(
                f"\ninterrupted at generation {int(state.generation)}/{generations}; checkpoint in "
                f"{ckpt.directory}; rerun with resume to continue",
                file=sys.stderr,
            )
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()

    params = meta.mean_params(state)
    summary = {
        "drift": meta.config.drift,
        "hidden": meta.config.hidden,
        "envs": list(meta.config.envs),
        "generations_done": int(state.generation),
        "generations": generations,
        "population": meta.population,
        "seeds": meta.config.seeds,
        "crn": meta.config.crn,
        "inner_steps_per_run": meta.num_updates * meta.config.inner_config.batch_size,
        "init_s": init_s,
        "compile_s": compile_s,
        "gen_s_mean": float(np.mean(gen_times)) if gen_times else None,
        "generations_per_hour": 3600.0 / float(np.mean(gen_times)) if gen_times else None,
        "ppo_return": {
            e: _num(v) for e, v in zip(meta.config.envs, np.asarray(state.ppo_return), strict=True)
        },
        "dpo_return": {
            e: _num(v) for e, v in zip(meta.config.envs, np.asarray(state.dpo_return), strict=True)
        },
        "interrupted": interrupted,
    }
    if final_eval and not interrupted:
        summary["final_eval"], _ = evaluate_methods(meta, params, key)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_drift(out_dir / "drift.json", meta.config, params, summary)
        if history:
            title = f"{meta.config.drift} on {', '.join(meta.config.envs)}"
            ref = 0.0 if meta.config.normalized else float(np.mean(ppo_ref))  # normalised scores: PPO = 0
            fitness_plot(history, out_dir / "fitness.png", title, reference=ref)
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return MetaResult(state, params, history, summary, out_dir, interrupted)


def _template_state(meta: DriftMeta) -> MetaState:
    """Shapes of a ``MetaState`` without running the baselines (restore template)."""
    es_state = meta.evolution.init(jax.random.key(0), meta.template)
    n = len(meta.config.envs)
    return MetaState(
        es=es_state,
        generation=jnp.zeros((), jnp.int32),
        ppo_return=jnp.zeros((n,), jnp.float32),
        dpo_return=jnp.zeros((n,), jnp.float32),
    )


def save_drift(path: str | Path, config: MetaConfig, params: dict, extra: dict | None = None) -> Path:
    """A JSON holding the drift kind, width and weights; ``DriftConfig(drift_weights=path)`` loads it."""
    blob = {
        "drift": config.drift,
        "hidden": config.hidden,
        "base": config.base,
        "drift_params": {k: np.asarray(v).tolist() for k, v in params.items()},
        **(extra or {}),
    }
    path = Path(path)
    path.write_text(json.dumps(blob, default=str))
    return path
