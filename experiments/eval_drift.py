"""Evaluate meta-trained drifts against PPO and DPO on held-out environments and training horizons.

Reads one or more drift files written by ``experiments/meta_train_lpo.py`` (the learned weights plus the inner
learner's settings) and trains every method (PPO, DPO, each learned drift) for ``--seeds`` held-out seeds on
each environment, at each horizon (a multiple of the meta-training run length: shorter and longer than
meta-training tests the temporal-awareness claim of TA-LPO). All methods of one (environment, horizon) run in
one compiled program on the same seeds: PPO and DPO are zero networks on their closed-form drifts, and an LPO
net is a TA-LPO net whose progress rows are zero, so it embeds exactly. Reports mean final return with 95%
Student-t intervals and paired differences against PPO and DPO, and plots them.

Usage: python experiments/eval_drift.py [--drift-file [NAME=]PATH ...] [--envs A,B] [--horizons 0.25,1,4]
       [--seeds 16] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_suite.algos.drift_ppo import DriftConfig, DriftHparams
from jaxrl_suite.algos.meta import BASES, DriftMeta, ESConfig, MetaConfig
from jaxrl_suite.results import portable_path
from jaxrl_suite.stats import ci95_summary, nanmean

RESULTS = Path(__file__).parent / "results"
# the defaults reproduce experiments/results/eval_drift.json: both committed drifts, CartPole at 0.25x-4x, and
# Breakout-MinAtar held out at 0.25x-4x of 51,200 steps (CartPole's 20,480 are far too few for MinAtar)
HELD_OUT = ("Breakout-MinAtar",)
DEFAULT_DRIFTS = ("meta_train_lpo.json", "meta_train_ta_lpo.json")


def load_drift_file(spec: str) -> dict:
    """``[NAME=]PATH`` of a meta_train_lpo JSON -> {name, drift, hidden, base, params, inner, inner_hparams, envs}."""
    name, _, path = spec.rpartition("=")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"drift file {path} does not exist (run experiments/meta_train_lpo.py first)")
    blob = json.loads(path.read_text())
    for field in ("drift", "hidden", "drift_params", "meta_config"):
        if field not in blob:
            raise ValueError(f"{path} is not a meta_train_lpo result (no {field!r})")
    mc = blob["meta_config"]
    inner = {k: tuple(v) if isinstance(v, list) else v for k, v in mc["inner"].items()}
    hp = {k: v for k, v in mc["inner_hparams"].items() if k != "drift_params"}
    return {
        "name": name or blob["drift"],
        "drift": blob["drift"],
        "hidden": int(blob["hidden"]),
        "base": blob.get("base", mc.get("base", "ppo")),
        "params": {k: np.asarray(v, np.float32) for k, v in blob["drift_params"].items()},
        "inner": DriftConfig(**inner),
        "inner_hparams": DriftHparams(**hp),
        "envs": tuple(mc["envs"]),
        "generations": blob.get("generations_done"),
        "path": str(path),
    }


def embed(params: dict, temporal: bool, hidden: int) -> dict:
    """An LPO or TA-LPO net as a TA-LPO net of width ``hidden`` (zero progress rows, zero extra units)."""
    w_in, w_out = np.asarray(params["w_in"]), np.asarray(params["w_out"])
    out_in = np.zeros((16, hidden), np.float32)
    out_in[: w_in.shape[0], : w_in.shape[1]] = w_in if temporal else w_in[:8]
    out_out = np.zeros((hidden,), np.float32)
    out_out[: w_out.shape[0]] = w_out
    return {"w_in": jnp.asarray(out_in), "w_out": jnp.asarray(out_out)}


def evaluate_cell(
    drifts: list[dict], env_id: str, inner: DriftConfig, hp: DriftHparams, seeds: int, key: jax.Array
) -> tuple[dict, dict]:
    """Every method on ``seeds`` seeds of one (env, inner config), in one compiled program."""
    hidden = max(d["hidden"] for d in drifts)
    n_methods = 2 + len(drifts)
    pop = n_methods * seeds + (n_methods * seeds) % 2
    meta = DriftMeta(
        MetaConfig(
            envs=(env_id,),
            drift="ta_lpo",
            hidden=hidden,
            seeds=1,
            eval_seeds=seeds,
            es=ESConfig(population=pop),
            inner=inner,
            inner_hparams=hp,
        )
    )
    zero = embed({"w_in": np.zeros((16, hidden)), "w_out": np.zeros(hidden)}, True, hidden)
    methods = {
        "ppo": meta.hparams.replace(drift_ppo=1.0, drift_dpo=0.0, drift_params=zero),
        "dpo": meta.hparams.replace(drift_ppo=0.0, drift_dpo=1.0, drift_params=zero),
    }
    for d in drifts:
        w_ppo, w_dpo = BASES[d["base"]]
        methods[d["name"]] = meta.hparams.replace(
            drift_ppo=w_ppo, drift_dpo=w_dpo, drift_params=embed(d["params"], d["drift"] == "ta_lpo", hidden)
        )
    t = time.perf_counter()
    meta.compiled_runs()
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    out = meta.evaluate(methods, jax.random.split(key, seeds))
    run_s = time.perf_counter() - t
    finals = {m: r["final"][0] for m, r in out.items()}
    cell = {
        "total_steps": inner.num_updates * inner.batch_size,
        "compile_s": compile_s,
        "run_s": run_s,
        "methods": {},
    }
    for m, f in finals.items():
        cell["methods"][m] = ci95_summary(f)
        for ref in ("ppo", "dpo"):
            if m != ref:
                paired = f - finals[ref]  # the same seeds
                cell["methods"][m][f"minus_{ref}"] = ci95_summary(paired, per_seed=False)
    curves = {m: nanmean(r["return"][0], axis=0) for m, r in out.items()}
    return cell, curves


def plot(results: dict, envs: list[str], names: list[str], path: Path) -> Path:
    """One panel per env: final return (mean ± 95% CI) against the horizon multiple, methods side by side."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(envs), 3.6), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(envs)))
    for ax, env_id in zip(axes, envs, strict=True):
        horizons = sorted(results[env_id], key=float)
        for i, m in enumerate(names):
            rows = [results[env_id][h]["methods"][m] for h in horizons]
            x = np.asarray(horizons, float) * (1 + 0.04 * (i - len(names) / 2))  # side by side
            mean = [np.nan if r["mean"] is None else r["mean"] for r in rows]
            half = [0.0 if r["ci95"] is None else r["ci95"] for r in rows]
            ax.errorbar(x, mean, yerr=half, fmt="o-", capsize=3, label=m, color=f"C{i}")
        ax.axvline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("horizon / meta-training horizon")
        ax.set_title(env_id + ("" if len(horizons) > 1 else " (held out)"))
    axes[0].set_ylabel("final return (mean ± 95% CI)")
    axes[0].legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_curves(curves: dict, envs: list[str], steps: dict, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(envs), 3.4), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(envs)))
    for ax, env_id in zip(axes, envs, strict=True):
        for i, (m, c) in enumerate(curves[env_id].items()):
            ax.plot(steps[env_id], c, label=m, color=f"C{i}")
        ax.set_xlabel("environment steps")
        ax.set_title(f"{env_id} (meta-training horizon)")
    axes[0].set_ylabel("mean episode return")
    axes[-1].legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--drift-file",
        action="append",
        dest="drift_files",
        metavar="[NAME=]PATH",
        help="meta_train_lpo JSON (repeat to compare several; default experiments/results/"
        "meta_train_lpo.json and meta_train_ta_lpo.json)",
    )
    ap.add_argument(
        "--envs", help="comma-separated ids (default: the meta-training env(s) + Breakout-MinAtar)"
    )
    ap.add_argument("--horizons", default="0.25,0.5,1,2,4", help="multiples of the meta-training run length")
    ap.add_argument(
        "--held-out-horizons", default="0.25,0.5,1,2,4", help="horizon multiples on the held-out environments"
    )
    ap.add_argument(
        "--held-out-steps",
        type=int,
        default=51_200,
        help="inner-run length (1x) on held-out environments (default 51200; 0: the meta-training run's); "
        "harder held-out tasks such as MinAtar need far more steps than CartPole",
    )
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument(
        "--seed", type=int, default=1000, help="evaluation seeds derive from this (not meta-training's)"
    )
    ap.add_argument("--quick", action="store_true", help="tiny: 2 seeds, horizons 0.5 and 1, no held-out env")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    drifts = [load_drift_file(s) for s in (args.drift_files or [str(RESULTS / f) for f in DEFAULT_DRIFTS])]
    if args.held_out_steps == 0:
        args.held_out_steps = None
    names = [d["name"] for d in drifts]
    if len(set(names)) != len(names) or {"ppo", "dpo"} & set(names):
        raise ValueError(f"drift names must be unique and not ppo/dpo, got {names}; use NAME=PATH")
    ref = drifts[0]
    horizons = [float(h) for h in args.horizons.split(",") if h]
    held_h = [float(h) for h in args.held_out_horizons.split(",") if h]
    seeds = args.seeds
    train_envs = list(ref["envs"])
    envs = (
        [e for e in args.envs.split(",") if e]
        if args.envs
        else train_envs + [e for e in HELD_OUT if e not in train_envs]
    )
    if args.quick:
        seeds, horizons, held_h = 2, [0.5, 1.0], [1.0]
        envs = train_envs
    if seeds < 2:
        raise ValueError("--seeds must be >= 2 for a confidence interval")
    if any(h <= 0 for h in horizons + held_h):
        raise ValueError("horizons must be positive multiples")
    if args.held_out_steps is not None and args.held_out_steps < ref["inner"].batch_size:
        raise ValueError(
            f"--held-out-steps must be at least one inner batch ({ref['inner'].batch_size} steps)"
        )
    base_inner, hp = ref["inner"], ref["inner_hparams"]
    key = jax.random.key(args.seed)
    held_updates = (  # inner updates of a 1x run on the held-out envs
        base_inner.num_updates
        if args.held_out_steps is None
        else args.held_out_steps // base_inner.batch_size
    )

    results: dict = {}
    curves: dict = {}
    steps: dict = {}
    t0 = time.perf_counter()
    for env_id in envs:
        results[env_id] = {}
        held = env_id not in train_envs
        one_x = held_updates if held else base_inner.num_updates
        for h in held_h if held else horizons:
            total = max(1, round(h * one_x)) * base_inner.batch_size
            inner = dataclasses.replace(base_inner, total_timesteps=total)
            cell, cell_curves = evaluate_cell(drifts, env_id, inner, hp, seeds, key)
            results[env_id][str(h)] = cell
            if h == 1.0:
                curves[env_id] = cell_curves
                steps[env_id] = (np.arange(inner.num_updates) + 1) * inner.batch_size
            if not args.json:
                row = ", ".join(
                    f"{m} {v['mean']:.1f}±{v['ci95']:.1f}"
                    for m, v in cell["methods"].items()
                    if v["mean"] is not None
                )
                print(
                    f"{env_id} x{h:g} ({total} steps): {row}  [compile {cell['compile_s']:.0f}s, "
                    f"run {cell['run_s']:.0f}s]",
                    flush=True,
                )
    plots = {}
    # a smoke run never overwrites the committed figures
    out_dir = RESULTS / "quick" if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    plots["horizons"] = portable_path(plot(results, envs, ["ppo", "dpo"] + names, out_dir / "eval_drift.png"))
    if curves:
        plots["curves"] = portable_path(
            plot_curves(curves, list(curves), steps, out_dir / "eval_drift_curves.png")
        )
    summary = {
        "experiment": "eval_drift",
        "smoke": bool(args.quick),
        "argv": list(argv) if argv is not None else sys.argv[1:],
        "held_out_envs": [e for e in envs if e not in train_envs],
        "drifts": [
            {k: d[k] for k in ("name", "drift", "hidden", "base", "path", "generations")} for d in drifts
        ],
        "meta_training_envs": train_envs,
        "meta_training_steps": base_inner.num_updates * base_inner.batch_size,
        "inner_config": dataclasses.asdict(base_inner),
        "seeds": seeds,
        "horizons": horizons,
        "held_out_horizons": held_h,
        "held_out_steps_1x": held_updates * base_inner.batch_size,
        "results": results,
        "plots": plots,
        "wall_s": time.perf_counter() - t0,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {jax.devices()[0].device_kind}",
        "jax": jax.__version__,
        "note": "final return = mean episode return over the last 10% of updates; 95% Student-t CI over seeds; "
        "minus_ppo/minus_dpo are paired differences on the same seeds",
    }
    (out_dir / "eval_drift.json").write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps(summary, default=str))
    return summary


if __name__ == "__main__":
    main()
