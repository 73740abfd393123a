"""Meta-train an LPO or TA-LPO drift with OpenES (evosax): population x seeds inner PPO runs per generation.

The CPU preset (default) is CartPole-sized; ``--preset minatar`` (gymnax MinAtar) and ``--preset brax`` (Ant)
are the accelerator settings of learn-rl-algorithms and LPO (see ``jaxrl_suite/cli_meta.py``). Every
generation is checkpointed into ``--out``; ``--resume`` continues exactly. Writes the summary, the learned
weights (``drift_params``) and the per-generation history to experiments/results/meta_train_lpo.json, which
``experiments/eval_drift.py`` and ``DriftConfig(drift_weights=...)`` read.

Usage: python experiments/meta_train_lpo.py [--preset cartpole] [--drift lpo|ta_lpo] [--generations N] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jaxrl_suite import cli_meta
from jaxrl_suite.results import portable_path


def main(argv: list[str] | None = None) -> dict:
    ap = cli_meta.add_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    ap.add_argument(
        "--results",
        default=str(Path(__file__).parent / "results" / "meta_train_lpo.json"),
        help="where to write the summary JSON",
    )
    args = ap.parse_args(argv)
    summary = {"experiment": "meta_train_lpo", **cli_meta.run(args)}
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    stored = {**summary, "out_dir": portable_path(summary["out_dir"])}  # no machine paths in results
    out.write_text(json.dumps(stored, indent=1, default=str))
    if not args.json:
        cli_meta.print_human(summary)
    print(json.dumps(summary, default=str))
    return summary


if __name__ == "__main__":
    main()
