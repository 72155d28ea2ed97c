"""Instructions per route of one 200-line quote against 100 rules, against another checkout (issue 13).

    python bench/bench_route.py --baseline /path/to/checkout-before-issue-13
    python bench/bench_route.py --baseline ../old --runs 100     # quicker, a little less exact

Wall time on this shared 2-core machine drifts by 2x within an hour, which hides a 10 % change;
the number of instructions a process executes (valgrind's callgrind) does not. For each
checkout (this one and `--baseline`) and each mode (reasons recorded; decision only), the same
script runs twice under callgrind, routing the quote once and then `--runs` more times; the
difference divided by `--runs` is the cost of one route, start-up and compilation excluded.
The quote and the policy are bench_preview's (seeded), the hash seed is fixed. The issue's
target, 0.2 ms against 0.65 ms before, is a ratio of 0.31.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = """
import inspect, json, random, sys
from decimal import Decimal
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from bench_preview import make_policy, make_quote
from cpq_cli.quote import parse_quote
from cpq_cli.routing import compile_policy, route
try:
    from cpq_cli.services.policy import load_policy
except ImportError:  # checkouts from before the services layer
    from cpq_cli.policy import load_policy
rng = random.Random(20261122)
make_policy(Path(sys.argv[4]), 100, rng)
compiled = compile_policy(load_policy(Path(sys.argv[4]), use_cache=False))
quote = parse_quote(json.loads(json.dumps(make_quote("Q-200", 200, rng)), parse_float=Decimal))
mode, runs = sys.argv[1], int(sys.argv[2])
options = {"reasons": mode == "reasons"} if "reasons" in inspect.signature(route).parameters else {}
for _ in range(runs + 1):
    route(compiled, quote, **options)
"""


def _instructions(tree: Path, mode: str, runs: int, work: Path) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree), PYTHONHASHSEED="0", CPQ_CACHE_DIR=str(work / "cache"))
    policy = work / f"policy-{mode}-{runs}"
    shutil.rmtree(policy, ignore_errors=True)
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c",
                           CHILD, mode, str(runs), str(HERE), str(policy)], env=env, cwd=work, capture_output=True,
                          text=True, check=False)  # cwd: `-c` puts it first on sys.path, before PYTHONPATH
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    sys.exit(f"callgrind gave no count for {tree} ({mode}): {done.stderr[-1500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout to compare with")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    work = Path(tempfile.mkdtemp(prefix="cpq-route-bench-"))
    try:
        per_route = {}
        for label, tree in (("baseline", args.baseline.resolve()), ("this checkout", ROOT)):
            for mode in ("reasons", "decision"):
                once = _instructions(tree, mode, 0, work)
                many = _instructions(tree, mode, args.runs, work)
                per_route[label, mode] = (many - once) / args.runs
        print(f"{'mode':<10} {'baseline':>14} {'this checkout':>14} {'ratio':>7}   (instructions per route)")
        for mode in ("reasons", "decision"):
            base, now = per_route["baseline", mode], per_route["this checkout", mode]
            print(f"{mode:<10} {base:>14,.0f} {now:>14,.0f} {now / base:>7.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
