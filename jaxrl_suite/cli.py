"""The ``jaxrl-suite`` command line: list, train, sweep, eval, render, bench, demo.

Every subcommand accepts ``--json`` and then prints one JSON object as its last line. Learner options are
generated from the learner's config (static) and hyperparameter (vmappable) dataclasses, so they always match
the Python API. Inputs are validated before anything is compiled.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import subprocess
import sys
import time
import typing
from pathlib import Path
from typing import Any

ALGOS = {"ppo": "jaxrl_suite.algos.ppo", "drift": "jaxrl_suite.algos.drift_ppo"}
# Conventional "solved" returns, used as the default --threshold for steps_to_threshold.
THRESHOLDS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -200.0, "MountainCar-v0": -110.0}


def _emit(args: argparse.Namespace, obj: dict, text: str | None = None) -> None:
    if text:
        print(text)
    if getattr(args, "json", False):
        print(json.dumps(obj, default=str))


def _algo_module(name: str):
    if name not in ALGOS:
        from jaxrl_suite.registry import close_matches

        raise SystemExit(
            f"error: unknown algorithm {name!r}; known: {sorted(ALGOS)} {close_matches(name, list(ALGOS))}"
        )
    return importlib.import_module(ALGOS[name])


# ---------------------------------------------------------------------------------------------------------
# Dataclass <-> argparse


def _parse_value(text: str, default: Any) -> Any:
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(default, tuple):
        return tuple(int(x) for x in text.split(",") if x)
    if isinstance(default, int) and not isinstance(default, bool):
        return int(float(text))
    if isinstance(default, float):
        return float(text)
    if default is None:
        for cast in (int, float):
            try:
                return cast(text)
            except ValueError:
                pass
        return None if text.lower() == "none" else text
    return text


def _add_dataclass_options(
    parser: argparse.ArgumentParser, cls: type, title: str, aliases: dict | None = None
):
    group = parser.add_argument_group(title)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        flags = [f"--{f.name.replace('_', '-')}"] + list((aliases or {}).get(f.name, []))
        if hints.get(f.name) in (bool, bool | None) or isinstance(default, bool):
            group.add_argument(
                *flags,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"(default {default})",
            )
        else:
            group.add_argument(
                *flags,
                dest=f.name,
                default=None,
                metavar="V",
                type=lambda t, d=default: _parse_value(t, d),
                help=f"(default {default})",
            )


def _collect(args: argparse.Namespace, cls: type) -> dict:
    return {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if getattr(args, f.name, None) is not None
    }


def _env_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"error: --env-opt expects key=value, got {pair!r}")
        k, v = pair.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


# ---------------------------------------------------------------------------------------------------------
# Building a learner from a spec (shared by train, sweep, eval, render)


def build(spec: dict):
    """``spec`` = {"algo", "env", "env_overrides", "config"} -> (module, trainer)."""
    import jaxrl_suite

    module = _algo_module(spec["algo"])
    env, env_params = jaxrl_suite.make(spec["env"], **spec.get("env_overrides", {}))
    cfg_kwargs = dict(spec.get("config", {}))
    for f in dataclasses.fields(module.Config):
        if isinstance(f.default, tuple) and f.name in cfg_kwargs:
            cfg_kwargs[f.name] = tuple(cfg_kwargs[f.name])
    config = module.Config(**cfg_kwargs)
    return module, module.make_train(config, env, env_params)


def _validate_early(args) -> tuple[Any, dict, Any]:
    """Env id, config and hparams checked before any compile; returns (module, spec, hparams)."""
    from jaxrl_suite.registry import spec as env_spec

    env_spec(args.env)  # unknown id -> ValueError with close matches
    module = _algo_module(args.algo)
    config_kwargs = _collect(args, module.Config)
    hparams_kwargs = _collect(args, module.Hparams)
    try:
        module.Config(**config_kwargs).validate()
        hparams = module.Hparams(**hparams_kwargs).validate()
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
    spec = {
        "algo": args.algo,
        "env": args.env,
        "env_overrides": _env_overrides(args.env_opt),
        "config": config_kwargs,
    }
    return module, spec, hparams


def _default_out(kind: str, args) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{kind}-{args.algo}-{args.env.replace('/', '_')}-{stamp}"


# ---------------------------------------------------------------------------------------------------------
# Subcommands


def cmd_list(args) -> int:
    from jaxrl_suite.registry import registered, spec

    ids = registered(args.family)
    if not args.json:
        width = max(len(i) for i in ids)
        for env_id, desc in ids.items():
            print(f"{env_id:<{width}}  [{spec(env_id).family}] {desc}")
    _emit(
        args,
        {
            "count": len(ids),
            "envs": {i: {"family": spec(i).family, "description": d} for i, d in ids.items()},
        },
    )
    return 0


def cmd_train(args) -> int:
    import jax

    from jaxrl_suite.runtime import train_runs

    module, spec, hparams = _validate_early(args)
    _, trainer = build(spec)
    out = Path(args.out) if args.out else _default_out("train", args)
    threshold = args.threshold if args.threshold is not None else THRESHOLDS.get(args.env)
    keys = jax.random.split(jax.random.key(args.seed), args.seeds)
    res = train_runs(
        trainer,
        keys,
        hparams,
        spec=spec,
        out_dir=out,
        chunk_updates=args.chunk,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        progress=not args.no_progress,
        threshold=threshold,
        title=f"{args.algo} on {args.env}",
    )
    s = res.summary
    summary = {
        "env": args.env,
        "algo": args.algo,
        "seeds": args.seeds,
        "total_steps": s["total_steps"],
        "compile_s": round(s["compile_s"], 3),
        "train_s": round(s["train_s"], 3),
        "steps_per_s": s["steps_per_s"],
        "final_return_mean": s.get("final_return_mean"),
        "final_return_std": s.get("final_return_std"),
        "steps_to_threshold": s.get("steps_to_threshold"),
        "threshold": threshold,
        "interrupted": res.interrupted,
        "out_dir": str(out),
        "learning_curve": str(out / "learning_curve.png"),
        "checkpoint": str(out / "checkpoints"),
    }
    text = None
    if not args.json:
        text = (
            f"{args.algo} on {args.env}: {args.seeds} seed(s) x {s['total_steps']} steps; compile "
            f"{s['compile_s']:.1f}s, train {s['train_s']:.1f}s ({_fmt(s['steps_per_s'])} steps/s); final return "
            f"{_fmt(s.get('final_return_mean'))} ± {_fmt(s.get('final_return_std'))}"
            + (
                f"; steps to {threshold:g}: {_fmt(s.get('steps_to_threshold'))}"
                if threshold is not None
                else ""
            )
            + f"\noutputs in {out}/ (metrics.jsonl, learning_curve.png, checkpoints/)"
        )
    _emit(args, summary, text)
    return 130 if res.interrupted else 0


def cmd_sweep(args) -> int:
    import jax

    from jaxrl_suite.sweep import grid, random_search, sweep

    module, spec, hparams = _validate_early(args)
    if bool(args.grid) == bool(args.random):
        raise ValueError("give either --grid NAME=v1,v2,... or --random NAME=low:high[:log] (with --samples)")
    if args.grid:
        values = {}
        for item in args.grid:
            name, _, vals = item.partition("=")
            values[name] = [float(v) for v in vals.split(",") if v]
        settings = grid(**values)
    else:
        ranges = {}
        for item in args.random:
            name, _, rng = item.partition("=")
            parts = rng.split(":")
            if len(parts) not in (2, 3):
                raise ValueError(f"--random expects NAME=low:high[:log], got {item!r}")
            ranges[name] = (float(parts[0]), float(parts[1]), *parts[2:])
        settings = random_search(jax.random.key(args.seed + 1), args.samples, **ranges)
    _, trainer = build(spec)
    out = Path(args.out) if args.out else _default_out("sweep", args)
    res = sweep(
        trainer,
        settings,
        args.seeds,
        hparams,
        jax.random.key(args.seed),
        out_dir=out,
        spec=spec,
        chunk_updates=args.chunk,
        progress=not args.no_progress,
        title=f"{args.algo} sweep on {args.env}",
    )
    table = res.table()
    text = None
    if not args.json:
        lines = [
            f"{len(settings)} settings x {args.seeds} seeds on {args.env} "
            f"(compile {res.summary['compile_s']:.1f}s, train {res.summary['train_s']:.1f}s)"
        ]
        for row in table:
            lines.append("  " + ", ".join(f"{k}={_fmt(v)}" for k, v in row.items()))
        lines.append(f"best: {res.best()}; table {out}/sweep.csv, plot {out}/sweep.png")
        text = "\n".join(lines)
    _emit(
        args,
        {
            "env": args.env,
            "algo": args.algo,
            "seeds": args.seeds,
            "settings": settings,
            "table": table,
            "best": res.best(),
            "compile_s": res.summary["compile_s"],
            "train_s": res.summary["train_s"],
            "out_dir": str(out),
        },
        text,
    )
    return 0


def _restore(checkpoint: str):
    import jax

    from jaxrl_suite.runtime.checkpoint import Checkpointer

    path = Path(checkpoint)
    ckpt_dir = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    ckpt = Checkpointer(ckpt_dir)
    meta = ckpt.read_meta()
    spec = meta["spec"]
    module, trainer = build(spec)
    num_runs = int(spec["num_runs"])
    template = jax.eval_shape(jax.vmap(trainer.init), jax.random.split(jax.random.key(0), num_runs))
    template = jax.tree.map(
        lambda s: (
            jax.numpy.zeros(s.shape, s.dtype)
            if not jax.dtypes.issubdtype(s.dtype, jax.dtypes.prng_key)
            else jax.random.split(jax.random.key(0), s.shape[0])
        ),
        template,
    )
    state, meta = ckpt.restore(template)
    ckpt.close()
    return module, trainer, state, spec, meta


def cmd_eval(args) -> int:
    import jax
    import numpy as np

    module, trainer, state, spec, meta = _restore(args.checkpoint)
    run_state = jax.tree.map(lambda x: x[args.run], state)
    res = jax.jit(lambda s, k: module.evaluate(trainer, s, k, args.episodes, not args.stochastic))(
        run_state, jax.random.key(args.seed)
    )
    ret = np.asarray(res["return"])
    out = {
        "env": spec["env"],
        "algo": spec["algo"],
        "checkpoint": args.checkpoint,
        "update": meta["update"],
        "run": args.run,
        "episodes": args.episodes,
        "return_mean": float(ret.mean()),
        "return_std": float(ret.std()),
        "length_mean": float(np.asarray(res["length"]).mean()),
        "greedy": not args.stochastic,
    }
    _emit(
        args,
        out,
        None
        if args.json
        else f"{spec['algo']} on {spec['env']} (update {meta['update']}, run {args.run}): {args.episodes} episodes, "
        f"return {ret.mean():.2f} ± {ret.std():.2f}",
    )
    return 0


def cmd_render(args) -> int:
    import imageio.v2 as imageio
    import jax
    import numpy as np

    module, trainer, state, spec, meta = _restore(args.checkpoint)
    if not getattr(trainer.env, "can_render", False):
        raise ValueError(f"{spec['env']} cannot render frames (no render method)")
    run_state = jax.tree.map(lambda x: x[args.run], state)
    states, ended = jax.jit(lambda s, k: module.rollout_states(trainer, s, k))(
        run_state, jax.random.key(args.seed)
    )
    n = int(np.argmax(np.asarray(ended))) if np.asarray(ended).any() else int(np.asarray(ended).shape[0])
    n = max(1, min(n, args.max_frames))
    frames = np.asarray(
        jax.jit(jax.vmap(trainer.env.render, in_axes=(0, None)))(
            jax.tree.map(lambda x: x[:n], states), trainer.env_params
        )
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".mp4":
        imageio.mimsave(out, list(frames), fps=args.fps)
    else:
        imageio.mimsave(out, list(frames), duration=1000 / args.fps, loop=0)
    _emit(
        args,
        {"env": spec["env"], "frames": n, "out": str(out)},
        None if args.json else f"wrote {n} frames to {out}",
    )
    return 0


def _experiments_dir() -> Path:
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (base / "experiments").is_dir():
            return base / "experiments"
    raise ValueError("the experiments/ folder was not found (run from a checkout of jaxrl-suite)")


def cmd_bench(args) -> int:
    exp = _experiments_dir()
    available = sorted(p.stem.removeprefix("bench_") for p in exp.glob("bench_*.py"))
    names = available if args.all else args.names
    if not names:
        raise ValueError(f"name a benchmark or pass --all; available: {available}")
    results = {}
    for name in names:
        if name not in available:
            from jaxrl_suite.registry import close_matches

            raise ValueError(
                f"unknown benchmark {name!r}; available: {available} {close_matches(name, available)}"
            )
        cmd = [sys.executable, str(exp / f"bench_{name}.py"), "--json", *args.extra]
        proc = subprocess.run(cmd, capture_output=args.json, text=True)
        if proc.returncode != 0:
            raise SystemExit(
                f"benchmark {name} failed ({proc.returncode})"
                + (f": {proc.stderr[-2000:]}" if args.json else "")
            )
        if args.json:
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    _emit(args, {"benchmarks": results or names})
    return 0


def cmd_meta_train(args) -> int:
    """Meta-train a drift objective (LPO / TA-LPO) with evolution strategies; see algos/meta_cli.py."""
    from jaxrl_suite.algos import meta_cli

    if args.envs:
        from jaxrl_suite.registry import spec as env_spec

        for env_id in args.envs:
            env_spec(env_id)  # unknown id -> clear error before compiling
    summary = meta_cli.run(args)
    if not args.json:
        meta_cli.print_human(summary)
    brief = {k: v for k, v in summary.items() if k not in ("history", "drift_params")}
    _emit(args, brief)
    return 0


def cmd_demo(args) -> int:
    """The README's main job: train PPO on CartPole-v1 to solving, summary, plot and checkpoint."""
    argv = [
        "train",
        "ppo",
        "--env",
        "CartPole-v1",
        "--seeds",
        "1",
        "--out",
        args.out,
        "--total-timesteps",
        "500000",
    ]
    if args.json:
        argv.append("--json")
    return main(argv)


# ---------------------------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON summary object as the last line")


def _add_training_options(p: argparse.ArgumentParser, module) -> None:
    p.add_argument("--env", required=True, help="environment id (see `jaxrl-suite list`)")
    p.add_argument("--env-opt", action="append", metavar="KEY=VALUE", help="environment option (repeatable)")
    p.add_argument("--seeds", type=int, default=1, help="independent seeds trained in one program")
    p.add_argument("--seed", type=int, default=0, help="base random seed")
    p.add_argument("--out", help="output directory (default runs/<kind>-<algo>-<env>-<time>)")
    p.add_argument("--chunk", type=int, default=64, help="updates per compiled chunk between host updates")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_dataclass_options(
        p, module.Config, "learner configuration (static)", {"total_timesteps": ["--total-steps"]}
    )
    _add_dataclass_options(p, module.Hparams, "hyperparameters (vmappable)")
    _add_common(p)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="jaxrl-suite", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="registered environment ids")
    p.add_argument("--family", help="only this family (gymnax, brax, probe, grid, quadrotor, ...)")
    _add_common(p)
    p.set_defaults(fn=cmd_list)

    p = sub.add_parser("train", help="train a learner; progress bar, metrics, checkpoints, learning curve")
    algo_sub = p.add_subparsers(dest="algo", required=True)
    for name, mod in ALGOS.items():
        q = algo_sub.add_parser(name, help=f"{name} (see `jaxrl-suite train {name} -h`)")
        module = importlib.import_module(mod)
        _add_training_options(q, module)
        q.add_argument("--threshold", type=float, help="return counted as solved (for steps_to_threshold)")
        q.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
        q.add_argument("--checkpoint-every", type=int, default=10, help="chunks between checkpoints")
        q.set_defaults(fn=cmd_train)

    p = sub.add_parser("sweep", help="seeds x settings in one compiled program; table + plot")
    algo_sub = p.add_subparsers(dest="algo", required=True)
    for name, mod in ALGOS.items():
        q = algo_sub.add_parser(name)
        _add_training_options(q, importlib.import_module(mod))
        q.add_argument("--grid", action="append", metavar="NAME=v1,v2,...", help="grid values (repeatable)")
        q.add_argument("--random", action="append", metavar="NAME=low:high[:log]", help="random-search range")
        q.add_argument("--samples", type=int, default=8, help="settings drawn by --random")
        q.set_defaults(fn=cmd_sweep)

    p = sub.add_parser("eval", help="evaluate a checkpoint over N episodes")
    p.add_argument("--checkpoint", required=True, help="run directory or its checkpoints/ folder")
    p.add_argument("--episodes", type=int, default=32)
    p.add_argument("--run", type=int, default=0, help="which run (seed/setting) of the checkpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of acting greedily")
    _add_common(p)
    p.set_defaults(fn=cmd_eval)

    p = sub.add_parser("render", help="GIF/MP4 of a trained policy (environments that can render)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", default="policy.gif", help=".gif or .mp4")
    p.add_argument("--run", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--max-frames", type=int, default=500)
    _add_common(p)
    p.set_defaults(fn=cmd_render)

    p = sub.add_parser("bench", help="run benchmark scripts from experiments/ (bench_<name>.py)")
    p.add_argument("names", nargs="*", help="benchmark names, e.g. ppo grid quadrotor")
    p.add_argument("--all", action="store_true")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="arguments passed to the scripts")
    _add_common(p)
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser("meta-train", help="meta-train a drift objective (LPO/TA-LPO) with evosax OpenES")
    importlib.import_module("jaxrl_suite.algos.meta_cli").add_arguments(p)
    p.set_defaults(fn=cmd_meta_train)

    p = sub.add_parser("demo", help="train PPO on CartPole-v1 to solving: summary, plot, checkpoint")
    p.add_argument("--out", default="demo_out")
    _add_common(p)
    p.set_defaults(fn=cmd_demo)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from jaxrl_suite import cpu

    if not cpu.backend_initialized():  # (in-process callers such as tests keep their own layout)
        runs = {"train": getattr(args, "seeds", 1), "eval": 1, "render": 1, "demo": 1}.get(args.command)
        cpu.configure(runs=runs)
    try:
        return int(args.fn(args) or 0)
    except ValueError as exc:  # bad input: one clear line, no traceback
        msg = str(exc)
        if getattr(args, "json", False):
            print(json.dumps({"error": msg}))
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
