"""Command-line front end of drift meta-training: presets, argparse options, and one ``run(args)`` call.

``jaxrl-suite meta-train`` (``cli.py``) and ``experiments/meta_train_lpo.py`` are thin wrappers: both call
``add_arguments(parser)``, ``run(args)`` and ``print_human(summary)``. Presets:

* ``cartpole`` (CPU, default): 8 envs x 128 steps, 4 epochs x 4 minibatches, inner lr 5e-3, 2e4 steps per
  run, hidden 16, population 32 x 4 fixed seeds, Adam 0.02, **sigma 0.1 and fitness = mean return over the
  whole inner run** (``fitness_tail=1``). With sigma 0.03 and the last 10% of updates as fitness, the ES step
  measured on two disjoint seed sets had cosine -0.17 (pure seed noise; ``experiments/diagnose_ta_lpo.py``);
  with these settings 0.95, and TA-LPO and LPO meta-training improve (see the README).
* ``minatar`` (accelerators): learn-rl-algorithms' ``lpo_bb`` scale (Goldie et al. 2025): Breakout,
  SpaceInvaders, Asterix and Freeway (gymnax MinAtar), 64 envs x 128 steps, 1e7 steps per run, population 64, sigma 0.03,
  lr 0.03, both decaying 0.99 per generation, fitness normalised per environment by PPO's return.
* ``brax`` (accelerators): LPO's Ant settings (Lu et al. 2022, ``dpo/main_drift_brax.py``): 2048 envs x 5
  steps, 32 minibatches x 4 epochs, gamma 0.97, lr 3e-4, entropy 1e-2, reward scale 10, 3e7 steps per run, population 32 x 1 seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from jaxrl_suite.algos.drift_ppo import DriftConfig, DriftHparams
from jaxrl_suite.algos.meta import ESConfig, MetaConfig
from jaxrl_suite.cli_options import add_dataclass_options, collect

PRESETS: dict[str, dict] = {
    "cartpole": {  # MetaConfig's defaults but sigma and the fitness (measured: see the docstring)
        "envs": ("CartPole-v1",),
        "generations": 20,
        "es": ESConfig(sigma=0.1),
        "meta": dict(hidden=16, seeds=4, eval_seeds=16, crn="fixed", fitness_tail=1.0),
        "inner": MetaConfig().inner,
        "inner_hparams": MetaConfig().inner_hparams,
    },
    "minatar": {
        "envs": ("Breakout-MinAtar", "SpaceInvaders-MinAtar", "Asterix-MinAtar", "Freeway-MinAtar"),
        "generations": 800,
        "es": ESConfig(
            population=64,
            sigma=0.03,
            sigma_decay=0.99,
            sigma_limit=0.01,
            lr=0.03,
            lr_decay=0.99,
            lr_limit=0.001,
        ),
        "meta": dict(hidden=128, seeds=1, eval_seeds=8, crn="generation"),
        "inner": DriftConfig(
            num_envs=64,
            num_steps=128,
            total_timesteps=10_000_000,
            update_epochs=4,
            num_minibatches=8,
            hidden=(256, 256),
            activation="relu",
        ),
        "inner_hparams": DriftHparams(lr=5e-4),
    },
    "brax": {
        "envs": ("brax/ant",),
        "generations": 1025,
        "es": ESConfig(
            population=32,
            sigma=0.04,
            sigma_decay=0.999,
            sigma_limit=0.01,
            lr=0.01,
            lr_decay=0.999,
            lr_limit=0.001,
        ),
        "meta": dict(hidden=128, seeds=1, eval_seeds=4, crn="generation"),
        "inner": DriftConfig(
            num_envs=2048,
            num_steps=5,
            total_timesteps=30_000_000,
            update_epochs=4,
            num_minibatches=32,
            hidden=(32, 32, 32, 32),
            activation="silu",
            normalize_obs=True,
            anneal_lr=False,
        ),
        "inner_hparams": DriftHparams(lr=3e-4, gamma=0.97, ent_coef=1e-2, reward_scale=10.0),
    },
}

INNER_ALIASES = {  # the inner learner's shorter spellings
    "total_timesteps": ["--total-steps"],
    "num_envs": ["--num-envs"],
    "num_steps": ["--num-steps"],
    "update_epochs": ["--epochs"],
    "num_minibatches": ["--minibatches"],
}
META_SKIP = ("envs", "es", "inner", "inner_hparams")  # options of their own below
INNER_SKIP = ("drift", "drift_hidden", "drift_weights")  # set by the meta config (--drift, --hidden)
HPARAM_SKIP = ("drift_params", "drift_ppo", "drift_dpo")  # what is meta-trained, and the base (--base)


def add_arguments(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``meta-train``, generated from ``MetaConfig``, ``ESConfig``, ``DriftConfig`` and
    ``DriftHparams`` (the inner learner's as ``--inner-*``); any option left unset keeps the preset's value."""
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cartpole")
    ap.add_argument(
        "--env",
        action="append",
        dest="envs",
        metavar="ID",
        help="inner environment (repeat for several; fitness is then normalised per env)",
    )
    ap.add_argument("--generations", type=int, help="ES generations (default: the preset's)")
    add_dataclass_options(
        ap, MetaConfig, "meta-training (MetaConfig)", skip=META_SKIP, default_note="default: the preset's"
    )
    add_dataclass_options(ap, ESConfig, "evolution strategy (ESConfig)", default_note="default: the preset's")
    add_dataclass_options(
        ap,
        DriftConfig,
        "inner learner (DriftConfig), as --inner-<field>",
        INNER_ALIASES,
        prefix="inner-",
        skip=INNER_SKIP,
        default_note="default: the preset's",
    )
    add_dataclass_options(
        ap,
        DriftHparams,
        "inner hyperparameters (DriftHparams), as --inner-<field>",
        prefix="inner-",
        skip=HPARAM_SKIP,
        default_note="default: the preset's",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="output folder (default runs/meta-<drift>-<stamp>)")
    ap.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    ap.add_argument("--overwrite", action="store_true", help="replace the run held in --out")
    ap.add_argument(
        "--eval-every", type=int, default=5, help="evaluate the ES mean every N generations (0: never)"
    )
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--json", action="store_true")
    return ap


def config_from_args(args: argparse.Namespace) -> tuple[MetaConfig, int]:
    """The ``MetaConfig`` and generation count the options describe (validated, nothing compiled)."""
    preset = PRESETS[args.preset]
    meta_kw = {**preset["meta"], **collect(args, MetaConfig, skip=META_SKIP)}
    try:
        config = MetaConfig(
            envs=tuple(args.envs or preset["envs"]),
            es=dataclasses.replace(preset["es"], **collect(args, ESConfig)),
            inner=dataclasses.replace(
                preset["inner"], **collect(args, DriftConfig, prefix="inner_", skip=INNER_SKIP)
            ),
            inner_hparams=preset["inner_hparams"].replace(
                **collect(args, DriftHparams, prefix="inner_", skip=HPARAM_SKIP)
            ),
            **meta_kw,
        )
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
    generations = preset["generations"] if args.generations is None else args.generations
    if generations < 1:
        raise ValueError(f"--generations must be >= 1, got {generations}")
    return config.validate(), generations


def run(args: argparse.Namespace) -> dict:
    """Meta-train as the options say; returns the summary (with the learned weights and the history)."""
    import jax

    from jaxrl_suite.algos.meta import DriftMeta, meta_train

    config, generations = config_from_args(args)
    out = (
        Path(args.out) if args.out else Path("runs") / f"meta-{config.drift}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    meta = DriftMeta(config)
    res = meta_train(
        meta,
        jax.random.key(args.seed),
        generations,
        out_dir=out,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        eval_every=args.eval_every,
        spec={"preset": args.preset, "seed": args.seed},
    )
    summary = {
        **res.summary,
        "preset": args.preset,
        "seed": args.seed,
        "out_dir": str(out),
        "meta_config": config.to_json(),
        "drift_params": {k: v.tolist() for k, v in res.drift_params.items()},
        "base": config.base,
        "history": res.history,
    }
    return summary


def print_human(s: dict) -> None:
    print(
        f"{s['drift']} on {', '.join(s['envs'])}: {s['generations_done']}/{s['generations']} generations, "
        f"population {s['population']} x {s['seeds']} seeds; {s['gen_s_mean'] or float('nan'):.1f} s/generation "
        f"({s['generations_per_hour'] or float('nan'):.0f}/hour), compile {s['compile_s']:.1f} s"
    )
    for env_id, methods in (s.get("final_eval") or {}).items():
        row = ", ".join(
            f"{m} {v['mean']:.1f} ± {v['ci95']:.1f}" for m, v in methods.items() if v["mean"] is not None
        )
        print(f"  {env_id} (held-out seeds, mean ± 95% CI): {row}")
    print(f"outputs in {s['out_dir']}/ (drift.json, meta_metrics.jsonl, fitness.png, checkpoints/)")
