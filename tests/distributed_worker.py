"""One process of the two-process test (tests/test_distributed.py): an interrupted, then resumed, CLI sweep.

Usage: python tests/distributed_worker.py OUT PORT PROCESS_ID  (PORT 0: a single process, no coordinator)
"""

import functools
import sys

SWEEP = ["sweep", "ppo", "--env", "CartPole-v1", "--total-steps", "1536", "--num-steps", "32",
         "--num-minibatches", "2", "--update-epochs", "2", "--chunk", "4", "--seeds", "2",
         "--grid", "lr=1e-3,2.5e-4", "--no-progress", "--json"]  # fmt: skip

if __name__ == "__main__":
    out, port, rank = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    procs = (
        []
        if port == 0
        else ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(rank)]
    )
    from jaxrl_suite import cli, sweep
    from jaxrl_suite.runtime import train_runs

    whole = sweep.train_runs
    sweep.train_runs = functools.partial(train_runs, stop_after_chunks=1)  # as if Ctrl-C after one chunk
    first = cli.main([*SWEEP, "--out", out, *procs])
    sweep.train_runs = whole
    second = cli.main(["sweep", "ppo", "--out", out, "--resume", "--no-progress", "--json", *procs])
    print(f"exit codes {first} {second}", file=sys.stderr)
    sys.exit(0 if (first, second) == (130, 0) else 1)
