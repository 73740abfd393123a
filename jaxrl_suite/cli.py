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
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from jaxrl_suite.cli_options import add_dataclass_options, collect, key_values

ALGOS = {
    "ppo": "jaxrl_suite.algos.ppo",
    "drift": "jaxrl_suite.algos.drift_ppo",
    "ued": "jaxrl_suite.algos.ued.curriculum",
    "dqn": "jaxrl_suite.algos.dqn",
    "sqirl": "jaxrl_suite.algos.sqirl",
}
# Conventional "solved" returns, used as the default --threshold for steps_to_threshold.
THRESHOLDS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -200.0, "MountainCar-v0": -110.0}


def _emit(args: argparse.Namespace, obj: dict, text: str | None = None) -> None:
    if not _is_writer():  # several processes: process 0 reports
        return
    if text:
        print(text)
    if getattr(args, "json", False):
        print(json.dumps(obj, default=str))


def _is_writer() -> bool:
    import sys as _sys

    if "jax" not in _sys.modules:
        return True
    import jax

    return not jax.distributed.is_initialized() or jax.process_index() == 0


def _algo_module(name: str):
    if name not in ALGOS:
        from jaxrl_suite.registry import close_matches

        raise SystemExit(
            f"error: unknown algorithm {name!r}; known: {sorted(ALGOS)} {close_matches(name, list(ALGOS))}"
        )
    return importlib.import_module(ALGOS[name])


# Dataclass <-> argparse: jaxrl_suite/cli_options.py (shared with meta-train)


def _env_overrides(pairs: list[str]) -> dict:
    return key_values(pairs, "--env-opt")


# ---------------------------------------------------------------------------------------------------------
# Building a learner from a spec (shared by train, sweep, eval, render)


def build(spec: dict):
    """``spec`` = {"algo", "env", "env_overrides", "config"} -> (module, trainer)."""
    import jaxrl_suite

    module = _algo_module(spec["algo"])
    env, env_params = jaxrl_suite.make(spec["env"], **spec.get("env_overrides", {}))
    config = module.Config(**_config_kwargs(module, spec.get("config", {})))
    return module, module.make_train(config, env, env_params)


def _typed_options(args, module) -> dict:
    """The options given on the command line (not their defaults), as a nested dict like a run's spec."""
    typed: dict[str, Any] = {}
    if args.env is not None:
        typed["env"] = args.env
    if args.env_opt:
        typed["env_overrides"] = _env_overrides(args.env_opt)
    for name in ("seeds", "seed"):
        if getattr(args, name, None) is not None:
            typed[name] = getattr(args, name)
    for key, cls in (("config", module.Config), ("hparams", module.Hparams)):
        given = collect(args, cls)
        if given:
            typed[key] = json.loads(json.dumps(given))  # tuples as lists, as stored
    return typed


def _validate_early(args) -> tuple[Any, dict, Any]:
    """Env id, config and hparams checked before any compile; returns (module, spec, hparams).

    ``spec`` is the run's full description: every config and hyperparameter value in effect (not only the
    typed ones), so that a resume can take it back. With ``--resume`` it is the stored run's spec, and every
    option given must agree with it.
    """
    from jaxrl_suite.registry import spec as env_spec

    module = _algo_module(args.algo)
    for name in ("seeds", "chunk", "checkpoint_every", "samples"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    typed = _typed_options(args, module)
    if getattr(args, "resume", False):
        stored = _stored_spec(args)
        mismatch = _differences(stored, typed)
        if mismatch:
            raise ValueError(
                f"--resume: the options given disagree with the run in {args.out}:\n  "
                + "\n  ".join(mismatch)
            )
        spec = stored
    else:
        if args.env is None:
            raise ValueError("--env is required (see `jaxrl-suite list`)")
        spec = {
            "algo": args.algo,
            "env": args.env,
            "env_overrides": typed.get("env_overrides", {}),
            "seeds": args.seeds if args.seeds is not None else 1,
            "seed": args.seed if args.seed is not None else 0,
        }
        try:
            config = module.Config(**collect(args, module.Config)).validate()
            hparams = module.Hparams(**collect(args, module.Hparams))
        except TypeError as exc:
            raise ValueError(str(exc)) from exc
        spec["config"] = json.loads(json.dumps(dataclasses.asdict(config)))
        spec["hparams"] = {f.name: getattr(hparams, f.name) for f in dataclasses.fields(hparams)}
    env_spec(spec["env"])  # unknown id -> ValueError with close matches
    try:
        module.Config(**_config_kwargs(module, spec.get("config", {}))).validate()
        hparams = module.Hparams(**spec.get("hparams", {})).validate()
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
    return module, spec, hparams


def _differences(stored: dict, typed: dict) -> list[str]:
    # compare only what was typed: the stored values of those fields against the given ones
    from jaxrl_suite.runtime.rundir import differences, flatten

    flat_typed = flatten(typed)
    flat_stored = {k: v for k, v in flatten(stored).items() if k in flat_typed}
    return differences(flat_stored, flat_typed)


def _stored_spec(args) -> dict:
    """The spec of the run in ``--out`` (its run.json, or its newest checkpoint's metadata)."""
    from jaxrl_suite.runtime.checkpoint import Checkpointer, CheckpointError
    from jaxrl_suite.runtime.rundir import read_record

    if not args.out:
        raise ValueError("--resume needs --out: the run directory to continue")
    out = Path(args.out)
    if not (out / "checkpoints").is_dir():
        raise ValueError(f"nothing to resume: {out} holds no checkpoints/ of a run")
    record = read_record(out)
    if record is not None:
        spec = record["record"]["spec"]
    else:
        try:
            ckpt = Checkpointer(out / "checkpoints", create=False)
            spec = ckpt.read_meta()["spec"]
            ckpt.close()
        except CheckpointError as exc:
            raise ValueError(str(exc)) from exc
    if spec.get("algo") != args.algo:
        raise ValueError(f"--resume: {out} holds a {spec.get('algo')} run, not {args.algo}")
    return spec


def _config_kwargs(module, config: dict) -> dict:
    kwargs = dict(config)
    for f in dataclasses.fields(module.Config):
        if isinstance(f.default, tuple) and f.name in kwargs:
            kwargs[f.name] = tuple(kwargs[f.name])
    return kwargs


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


def _runtime_kwargs(args) -> dict:
    return dict(
        chunk_updates=args.chunk,
        resume=args.resume,
        overwrite=args.overwrite,
        fallback_checkpoint=args.fallback_checkpoint,
        on_divergence=args.on_divergence,
        progress=not args.no_progress,
    )


def _out_dir(args, kind: str, spec: dict) -> Path:
    if args.out:
        return Path(args.out)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{kind}-{spec['algo']}-{spec['env'].replace('/', '_')}-{stamp}"


def cmd_train(args) -> int:
    import jax

    from jaxrl_suite.runtime import train_runs

    module, spec, hparams = _validate_early(args)
    out = _out_dir(args, "train", spec)
    _, trainer = build(spec)
    threshold = args.threshold if args.threshold is not None else THRESHOLDS.get(spec["env"])
    keys = jax.random.split(jax.random.key(spec["seed"]), spec["seeds"])
    res = train_runs(
        trainer,
        keys,
        hparams,
        spec=spec,
        out_dir=out,
        checkpoint_every=args.checkpoint_every,
        threshold=threshold,
        title=f"{spec['algo']} on {spec['env']}",
        **_runtime_kwargs(args),
    )
    s = res.summary
    summary = {
        "status": s["status"],
        "env": spec["env"],
        "algo": spec["algo"],
        "seeds": spec["seeds"],
        "total_steps": s["total_steps"],
        "updates_done": s["updates_done"],
        "total_updates": s["total_updates"],
        "devices": s["devices"],
        "compile_s": round(s["compile_s"], 3),
        "train_s": round(s["train_s"], 3),
        "steps_per_s": s["steps_per_s"],
        "final_return_mean": s.get("final_return_mean"),
        "final_return_std": s.get("final_return_std"),
        "final_return_over": s.get("final_return_over"),
        "runs_diverged": s.get("runs_diverged"),
        "steps_to_threshold": s.get("steps_to_threshold"),
        "steps_to_threshold_per_run": s.get("steps_to_threshold_per_run"),
        "threshold": threshold,
        "threshold_rule": s.get("threshold_rule"),
        "interrupted": res.interrupted,
        "out_dir": str(out),
        "learning_curve": str(out / "learning_curve.png"),
        "checkpoint": str(out / "checkpoints"),
    }
    text = None
    if not args.json:
        head = f"{spec['algo']} on {spec['env']}: {spec['seeds']} seed(s) x {s['total_steps']} steps"
        if res.interrupted:
            head = (
                f"INTERRUPTED at update {s['updates_done']}/{s['total_updates']} "
                f"({s['updates_done'] * trainer.config.batch_size} of {s['total_steps']} steps per seed): "
                f"{spec['algo']} on {spec['env']}, {spec['seeds']} seed(s); figures so far"
            )
        text = (
            f"{head}; compile {s['compile_s']:.1f}s, train {s['train_s']:.1f}s ({_fmt(s['steps_per_s'])} steps/s, "
            f"{s['devices']} device(s)); final return {_fmt(s.get('final_return_mean'))} ± "
            f"{_fmt(s.get('final_return_std'))}"
            + (f" ({s['final_return_over']})" if s.get("runs_diverged") else "")
            + (
                f"; steps to {threshold:g} (last-20-episode mean): median {_fmt(s.get('steps_to_threshold'))}, "
                f"{s.get('runs_reaching_threshold')}/{spec['seeds']} seeds reach it"
                if threshold is not None
                else ""
            )
            + f"\noutputs in {out}/ (metrics.jsonl, learning_curve.png, checkpoints/)"
            + (
                f"\ncontinue with: jaxrl-suite train {spec['algo']} --out {out} --resume"
                if res.interrupted
                else ""
            )
        )
    _emit(args, summary, text)
    return 130 if res.interrupted else 0


def _sweep_settings(args) -> list[dict] | None:
    import jax

    from jaxrl_suite.sweep import grid, random_search

    if args.grid and args.random:
        raise ValueError("give either --grid NAME=v1,v2,... or --random NAME=low:high[:log], not both")
    if args.grid:
        values = {}
        for item in args.grid:
            name, _, vals = item.partition("=")
            try:
                values[name] = [float(v) for v in vals.split(",") if v]
            except ValueError:
                raise ValueError(f"--grid expects NAME=v1,v2,... with numbers, got {item!r}") from None
            if not values[name]:
                raise ValueError(f"--grid {item!r} gives no values")
        return grid(**values)
    if args.random:
        ranges = {}
        for item in args.random:
            name, _, rng = item.partition("=")
            parts = rng.split(":")
            try:
                ranges[name] = (float(parts[0]), float(parts[1]), *parts[2:])
            except (ValueError, IndexError):
                raise ValueError(f"--random expects NAME=low:high[:log], got {item!r}") from None
            if len(parts) not in (2, 3):
                raise ValueError(f"--random expects NAME=low:high[:log], got {item!r}")
        seed = args.seed if args.seed is not None else 0
        return random_search(jax.random.key(seed + 1), args.samples, **ranges)
    return None


def cmd_sweep(args) -> int:
    import jax

    from jaxrl_suite.sweep import sweep

    module, spec, hparams = _validate_early(args)
    settings = _sweep_settings(args)
    if args.resume:
        stored = spec.get("sweep_settings")
        if settings is not None and json.loads(json.dumps(settings)) != stored:
            raise ValueError(
                f"--resume: the settings given differ from the run's: run has {stored}, given {settings}"
            )
        settings = stored
        spec = {k: v for k, v in spec.items() if k not in ("sweep_settings",)}
    elif settings is None:
        raise ValueError("give either --grid NAME=v1,v2,... or --random NAME=low:high[:log] (with --samples)")
    out = _out_dir(args, "sweep", spec)
    _, trainer = build(spec)
    res = sweep(
        trainer,
        settings,
        spec["seeds"],
        hparams,
        jax.random.key(spec["seed"]),
        out_dir=out,
        spec=spec,
        title=f"{spec['algo']} sweep on {spec['env']}",
        **_runtime_kwargs(args),
    )
    table = res.table()
    done, total = res.summary["updates_done"], res.summary["total_updates"]
    text = None
    if not args.json:
        lines = [
            (f"INTERRUPTED at update {done}/{total}: results so far; " if res.interrupted else "")
            + f"{len(settings)} settings x {spec['seeds']} seeds on {spec['env']} "
            f"(compile {res.summary['compile_s']:.1f}s, train {res.summary['train_s']:.1f}s)"
        ]
        for row in table:
            lines.append("  " + ", ".join(f"{k}={_fmt(v)}" for k, v in row.items()))
        lines.append(f"best: {res.best()}; table {out}/sweep.csv, plot {out}/sweep.png")
        if res.interrupted:
            lines.append(f"continue with: jaxrl-suite sweep {spec['algo']} --out {out} --resume")
        text = "\n".join(lines)
    _emit(
        args,
        {
            "status": res.summary["status"],
            "interrupted": res.interrupted,
            "updates_done": done,
            "total_updates": total,
            "env": spec["env"],
            "algo": spec["algo"],
            "seeds": spec["seeds"],
            "settings": settings,
            "table": table,
            "best": res.best(),
            "runs_diverged": res.summary.get("runs_diverged"),
            "compile_s": res.summary["compile_s"],
            "train_s": res.summary["train_s"],
            "devices": res.summary["devices"],
            "out_dir": str(out),
        },
        text,
    )
    return 130 if res.interrupted else 0


def _restore(checkpoint: str, run: int):
    """Run ``run`` of a checkpoint as a ``jaxrl_suite.policy.Policy`` (ValueError if it cannot be loaded);
    nothing is created."""
    from jaxrl_suite.policy import load_policy

    return load_policy(checkpoint, run)


def cmd_eval(args) -> int:

    import jax
    import numpy as np

    from jaxrl_suite import evaluation

    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    policy = _restore(args.checkpoint, args.run)
    spec, meta, greedy = policy.spec, policy.meta, not args.stochastic
    res = jax.jit(
        lambda act, k: evaluation.evaluate(
            policy.env, policy.env_params, evaluation.with_greedy(act, greedy), k, args.episodes
        )
    )(policy.act, jax.random.key(args.seed))
    ret = np.asarray(res.returns)
    out = {
        "env": spec["env"],
        "algo": spec["algo"],
        "checkpoint": args.checkpoint,
        "update": meta["update"],
        "run": args.run,
        "episodes": args.episodes,
        "return_mean": float(ret.mean()),
        "return_std": float(ret.std()),
        "length_mean": float(np.asarray(res.lengths).mean()),
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


VIDEO_SUFFIXES = (".gif", ".mp4")


def _check_video_writer(out: Path) -> None:
    """Before compiling: the suffix is one we write, and .mp4's ffmpeg writer is installed."""
    import importlib.util

    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"--out must end in {' or '.join(VIDEO_SUFFIXES)}, got {out.name!r}")
    if out.suffix.lower() == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise ValueError("writing .mp4 needs the ffmpeg writer: pip install imageio-ffmpeg (or write a .gif)")
    if out.exists() and out.is_dir():
        raise ValueError(f"--out {out} is a directory")


def cmd_render(args) -> int:
    import imageio.v2 as imageio
    import jax

    from jaxrl_suite import evaluation

    out = Path(args.out)
    _check_video_writer(out)
    if args.max_frames < 1 or args.fps < 1:
        raise ValueError("--max-frames and --fps must be >= 1")
    policy = _restore(args.checkpoint, args.run)
    spec = policy.spec
    if not getattr(policy.env, "can_render", False):
        raise ValueError(f"{spec['env']} cannot render frames (no render method)")
    ro = jax.jit(lambda act, k: evaluation.rollout(policy.env, policy.env_params, act, k))(
        policy.act, jax.random.key(args.seed)
    )
    frames = evaluation.episode_frames(policy.env, policy.env_params, ro, args.max_frames)
    n = len(frames)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".mp4":
        imageio.mimsave(out, list(frames), fps=args.fps)
    else:
        imageio.mimsave(out, list(frames), duration=1000 / args.fps, loop=0)
    _emit(
        args,
        {"env": spec["env"], "frames": n, "out": str(out)},
        None if args.json else f"wrote {n} frames to {out}",
    )
    return 0


def _summary_command(name: str, doc: str):
    """A command that runs ``jaxrl_suite.<name>.run(args)`` and prints its summary (human or JSON)."""

    def command(args) -> int:
        module = importlib.import_module(f"jaxrl_suite.{name}")
        summary = module.run(args)
        if not args.json:
            module.print_human(summary)
        _emit(args, summary)
        return 0

    command.__doc__ = doc
    return command


cmd_levels = _summary_command("cli_levels", "Generate levels in the graph and report each.")
cmd_horizon = _summary_command("cli_horizon", "Exact tabular analysis of a grid MDP.")


def _experiments_dir(bases: list[Path] | None = None) -> Path:
    """The repository's experiments/ folder: benchmarks are scripts beside the package, not part of it."""
    for base in bases or (Path.cwd(), Path(__file__).resolve().parents[1]):
        if any((base / "experiments").glob("bench_*.py")):
            return base / "experiments"
    raise ValueError(
        "`jaxrl-suite bench` needs the repository: the benchmark scripts live in its experiments/ folder, "
        "which an installed package does not include. Clone jaxrl-suite and run it from there (`make bench`, "
        "or `jaxrl-suite bench NAME` inside the clone)"
    )


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
    """Meta-train a drift objective (LPO / TA-LPO) with evolution strategies; see jaxrl_suite/cli_meta.py."""
    from jaxrl_suite import cli_meta

    if args.envs:
        from jaxrl_suite.registry import spec as env_spec

        for env_id in args.envs:
            env_spec(env_id)  # unknown id -> clear error before compiling
    summary = cli_meta.run(args)
    if not args.json:
        cli_meta.print_human(summary)
    brief = {k: v for k, v in summary.items() if k not in ("history", "drift_params")}
    _emit(args, brief)
    return 130 if summary.get("interrupted") else 0


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
        "--overwrite",  # the demo's folder holds the latest demo run
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


def _learner_parsers(p: argparse.ArgumentParser, command: str, fn, wanted):
    """One sub-parser per learner under ``command``; yields those the command line names (their options are
    built only then: importing a learner is slow), each with the shared training options added."""
    algo_sub = p.add_subparsers(dest="algo", required=True)
    for name, mod in ALGOS.items():
        q = algo_sub.add_parser(name, help=f"{name} (see `jaxrl-suite {command} {name} -h`)")
        q.set_defaults(fn=fn)
        if wanted(command, name):
            _add_training_options(q, importlib.import_module(mod))
            yield q


def _add_training_options(p: argparse.ArgumentParser, module) -> None:
    p.add_argument("--env", help="environment id (see `jaxrl-suite list`); with --resume, the stored one")
    p.add_argument("--env-opt", action="append", metavar="KEY=VALUE", help="environment option (repeatable)")
    p.add_argument("--seeds", type=int, help="independent seeds trained in one program (default 1)")
    p.add_argument("--seed", type=int, help="base random seed (default 0)")
    p.add_argument("--out", help="output directory (default runs/<kind>-<algo>-<env>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out with its stored settings")
    p.add_argument("--overwrite", action="store_true", help="clear the run in --out first and start afresh")
    p.add_argument(
        "--fallback-checkpoint",
        action="store_true",
        help="with --resume: if the newest checkpoint is damaged, move it aside and use the newest intact one",
    )
    p.add_argument(
        "--on-divergence",
        choices=("stop", "mask"),
        default="stop",
        help="non-finite loss or parameters: stop with an error (default), or mask the diverged runs and go on",
    )
    p.add_argument("--chunk", type=int, default=64, help="updates per compiled chunk between host updates")
    p.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="compile afresh instead of using the persistent compilation cache (also JAXRL_SUITE_COMPILE_CACHE=0)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group(
        "several processes (hosts)",
        "run the same command in every process; runs are sharded over all their devices and process 0 writes "
        "--out (a folder every process sees). Under srun/mpirun these are found on their own",
    )
    g.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0's coordinator")
    g.add_argument("--num-processes", type=int, metavar="N", help="how many processes take part")
    g.add_argument("--process-id", type=int, metavar="I", help="this process' rank, 0 to N-1")
    add_dataclass_options(
        p, module.Config, "learner configuration (static)", {"total_timesteps": ["--total-steps"]}
    )
    add_dataclass_options(p, module.Hparams, "hyperparameters (vmappable)")
    _add_common(p)


def parser(command: str | None = None, algo: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser. Only the subcommand about to run (``command``, and for train/sweep ``algo``) gets
    its options, so that `list` or `--help` import no learner (flax, optax, evosax); None builds them all."""

    def wanted(cmd: str, name: str | None = None) -> bool:
        return command in (None, cmd) and (name is None or algo is None or algo == name or command is None)

    top = argparse.ArgumentParser(prog="jaxrl-suite", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="registered environment ids")
    p.add_argument("--family", help="only this family (gymnax, brax, probe, grid = minigrid, quadrotor)")
    _add_common(p)
    p.set_defaults(fn=cmd_list)

    p = sub.add_parser("train", help="train a learner; progress bar, metrics, checkpoints, learning curve")
    for q in _learner_parsers(p, "train", cmd_train, wanted):
        q.add_argument(
            "--threshold",
            type=float,
            help="return counted as solved: steps_to_threshold is the first update where the mean of a run's "
            "last 20 finished episodes reaches it",
        )
        q.add_argument("--checkpoint-every", type=int, default=10, help="chunks between checkpoints")

    p = sub.add_parser("sweep", help="seeds x settings in one compiled program; table + plot")
    for q in _learner_parsers(p, "sweep", cmd_sweep, wanted):
        q.add_argument("--grid", action="append", metavar="NAME=v1,v2,...", help="grid values (repeatable)")
        q.add_argument("--random", action="append", metavar="NAME=low:high[:log]", help="random-search range")
        q.add_argument("--samples", type=int, default=8, help="settings drawn by --random")

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
    if wanted("meta-train"):
        importlib.import_module("jaxrl_suite.cli_meta").add_arguments(p)
    p.set_defaults(fn=cmd_meta_train)

    p = sub.add_parser("levels", help="generate grid levels: MiniGrid encoding, solvability, shortest path")
    if wanted("levels"):
        importlib.import_module("jaxrl_suite.cli_levels").add_arguments(p)
    _add_common(p)
    p.set_defaults(fn=cmd_levels)

    p = sub.add_parser(
        "horizon", help="exact analysis of a grid MDP: V*, V^rand, min_k, EPW, effective horizon"
    )
    if wanted("horizon"):
        importlib.import_module("jaxrl_suite.cli_horizon").add_arguments(p)
    _add_common(p)
    p.set_defaults(fn=cmd_horizon)

    p = sub.add_parser("demo", help="train PPO on CartPole-v1 to solving: summary, plot, checkpoint")
    p.add_argument("--out", default="demo_out")
    _add_common(p)
    p.set_defaults(fn=cmd_demo)
    return top


def _peek(argv: list[str], flag: str) -> str | None:
    """The value of ``flag`` in ``argv`` (``--flag V`` or ``--flag=V``), without parsing the rest."""
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _peek_runs(argv: list[str]) -> int | None:
    """How many runs the command will train, read from ``argv`` alone (before the learners are imported)."""
    command = argv[0] if argv else None
    if command in ("eval", "render", "demo"):
        return 1
    if command not in ("train", "sweep"):
        return None
    try:
        seeds = _peek(argv, "--seeds")
        runs = int(seeds) if seeds is not None else None
        if runs is None and "--resume" in argv and _peek(argv, "--out"):
            from jaxrl_suite.runtime.rundir import read_record

            record = read_record(Path(_peek(argv, "--out")))
            runs = int(record["record"]["num_runs"]) if record else None
            return runs if runs and runs >= 1 else None
        runs = 1 if runs is None else runs
        if command == "sweep":
            settings = 1
            for i, a in enumerate(argv):
                if a == "--grid" and i + 1 < len(argv):
                    settings *= len([v for v in argv[i + 1].partition("=")[2].split(",") if v])
            if "--random" in argv:
                settings = int(_peek(argv, "--samples") or 8)
            runs *= settings
    except (ValueError, KeyError, TypeError):
        return None  # the real parser reports bad values
    return runs if runs >= 1 else None


COMPILING_COMMANDS = ("train", "sweep", "eval", "render", "demo", "meta-train", "levels", "horizon")


def compile_cache_dir() -> Path | None:
    """Where CLI runs keep compiled XLA programs (None: off). ``JAXRL_SUITE_COMPILE_CACHE=0`` turns it off;
    ``JAXRL_SUITE_COMPILE_CACHE_DIR`` moves it (default: ``$XDG_CACHE_HOME/jaxrl-suite/xla``)."""
    if os.environ.get("JAXRL_SUITE_COMPILE_CACHE", "1").lower() in ("0", "off", "false", "no"):
        return None
    if os.environ.get("JAXRL_SUITE_COMPILE_CACHE_DIR"):
        return Path(os.environ["JAXRL_SUITE_COMPILE_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "jaxrl-suite" / "xla"


def _enable_compile_cache(argv: list[str]) -> None:
    """A persistent compilation cache for commands that compile: a second identical run loads its programs
    instead of compiling them (same executables, same results)."""
    if not argv or argv[0] not in COMPILING_COMMANDS or "--no-compile-cache" in argv:
        return
    path = compile_cache_dir()
    if path is None:
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # an unwritable cache location only costs compile time
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from jaxrl_suite import cpu

    # The CPU layout must be set before JAX starts its backend, which importing the learners (gymnax computes
    # at import) does: so it is read from argv before the parser, which imports them, is built.
    try:
        processes = _join_processes(argv, cpu)
    except ValueError as exc:
        return _error(argv, str(exc), 2)
    compiles = bool(argv) and argv[0] in COMPILING_COMMANDS
    if compiles and processes is None and not cpu.backend_initialized():  # (in-process callers keep theirs)
        cpu.configure(runs=_peek_runs(argv))
    _enable_compile_cache(argv)
    try:
        args = parser(argv[0] if argv else None, argv[1] if len(argv) > 1 else None).parse_args(argv)
        return int(args.fn(args) or 0)
    except BrokenPipeError:  # e.g. `jaxrl-suite list | head`: the reader left; exit quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except ValueError as exc:  # bad input: one clear line, no traceback
        return _error(argv, str(exc), 2)
    except RuntimeError as exc:
        from jaxrl_suite.runtime.loop import DivergedError

        if not isinstance(exc, DivergedError):
            raise
        return _error(argv, str(exc), 3, {"status": "diverged", "summary": exc.result.summary})


def _join_processes(argv: list[str], cpu) -> int | None:
    """With ``--coordinator`` (or under a cluster launcher) on ``train``/``sweep``: set this process' CPU layout
    (its share of the runs) and join the others before JAX starts; returns the process count, else None."""
    from jaxrl_suite.runtime import distributed

    if not argv or argv[0] not in ("train", "sweep"):
        return None
    coordinator = _peek(argv, "--coordinator")
    number = lambda flag: int(v) if (v := _peek(argv, flag)) is not None and v.lstrip("-").isdigit() else v  # noqa: E731
    count, rank = number("--num-processes"), number("--process-id")
    if isinstance(count, str) or isinstance(rank, str):
        raise ValueError("--num-processes and --process-id take whole numbers")
    distributed.check_args(coordinator, count, rank)
    if coordinator is None and not distributed.launched_by_cluster():
        return None
    if "jax" in sys.modules and sys.modules["jax"].distributed.is_initialized():  # joined already
        return sys.modules["jax"].process_count()
    if cpu.backend_initialized():
        raise ValueError("several processes need a fresh process: JAX had already started in this one")
    runs = _peek_runs(argv)
    if count and runs and runs % count == 0:
        cpu.configure(runs=runs // count)  # this process' share of the runs
    distributed.initialize(coordinator, count, rank)
    import jax

    return jax.process_count()


def _error(argv: list[str], msg: str, code: int, extra: dict | None = None) -> int:
    if "--json" in argv:
        print(json.dumps({"error": msg, **(extra or {})}, default=str))
    print(f"error: {msg}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
