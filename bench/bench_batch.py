"""Instructions per quote of a batch `cpq preview DIR --format json`, against a bare json.load (issue 13).

    python bench/bench_batch.py                               # this checkout
    python bench/bench_batch.py --baseline /path/to/checkout  # and another, with the ratio

Wall time on this shared 2-core machine moves by 20-50 % from run to run, and a bare json.load
of 2,000 files takes a tenth of a second, so the issue's "<= 5x json.load" moves with it. The
number of instructions a process executes (valgrind's callgrind) does not. For each checkout,
the batch runs twice under callgrind in one process (`--jobs 1`), over N and 2N generated quotes
(bench_preview's policy and quotes, seeded; warm policy caches); the difference divided by N is
the cost of one quote, start-up excluded. The same is done for a process that only json.loads
the files. The printed ratio, cpq's instructions per quote over json.load's, is what the wall
time ratio tends to on one core; with both cores a batch divides it by about 1.9 (and adds the
start-up, ~0.1 s, once).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_preview import make_policy, make_quote  # noqa: E402
from bench_rego import JSON_CHILD  # noqa: E402  (the same bare json.load)
from bench_startup import _instructions as callgrind_instructions  # noqa: E402


def _instructions(cmd: list[str], env: dict[str, str], cwd: Path) -> int:
    count = callgrind_instructions(cmd, env, cwd)
    if count is None:
        sys.exit(f"callgrind gave no count for {cmd[:4]}")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="a checkout to compare with")
    parser.add_argument("--quotes", type=int, default=300, help="N (>= 200): the batches are N and 2N quotes")
    args = parser.parse_args()
    if args.quotes < 200:  # both batches must be batches to cpq (quote.expect_many: from 200 quotes)
        parser.error("--quotes must be at least 200")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    work = Path(tempfile.mkdtemp(prefix="cpq-batch-bench-"))
    try:
        rng = random.Random(20261122)
        make_policy(work / "policy", 100, rng)
        for size in (args.quotes, 2 * args.quotes):
            (work / f"q{size}").mkdir()
        for i in range(2 * args.quotes):
            text = json.dumps(make_quote(f"Q-{i:05d}", 20, rng))
            (work / f"q{2 * args.quotes}" / f"Q-{i:05d}.json").write_text(text)
            if i < args.quotes:
                (work / f"q{args.quotes}" / f"Q-{i:05d}.json").write_text(text)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONHASHSEED"] = "0"
        per_quote = {}
        json_per = [_instructions([sys.executable, "-c", JSON_CHILD, f"q{n}"], env, work)
                    for n in (args.quotes, 2 * args.quotes)]
        per_quote["json.load"] = (json_per[1] - json_per[0]) / args.quotes
        trees = [("this checkout", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
        for label, tree in trees:
            tree_env = env | {"PYTHONPATH": str(tree), "CPQ_CACHE_DIR": str(work / f"cache-{label}")}
            cmd = [sys.executable, "-c", "import sys; from cpq_cli.cli.app import main; sys.exit(main())", "preview",
                   "--policies", "policy", "--format", "json", "--jobs", "1"]
            subprocess.run([*cmd, f"q{args.quotes}"], env=tree_env, cwd=work, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)  # warms the policy caches
            counts = [_instructions([*cmd, f"q{n}"], tree_env, work) for n in (args.quotes, 2 * args.quotes)]
            per_quote[label] = (counts[1] - counts[0]) / args.quotes
        print(f"{'':<14} {'instructions per quote':>22} {'÷ json.load':>12}")
        for label, count in per_quote.items():
            print(f"{label:<14} {count:>22,.0f} {count / per_quote['json.load']:>11.2f}x")
        if args.baseline:
            print(f"this checkout ÷ baseline: {per_quote['this checkout'] / per_quote['baseline']:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
