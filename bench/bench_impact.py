"""Benchmark for `cpq impact` (issue 7): 10,000 quotes against two policy revisions.

    python bench/bench_impact.py [--quotes 10000] [--rules 100]

Builds a git repository with a generated policy set in two commits (the second raises some
thresholds and adds an approver), writes the quotes, and times a cold `cpq impact --base HEAD~1
--format json` in a new process, round by round beside one revision's batch (`cpq preview quotes
--format json`). Targets: under 15 s on the 2-core machine; at most 3x one revision's batch (issue 13).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_preview import make_policy, make_quote


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    work = Path(tempfile.mkdtemp(prefix="cpq-impact-bench-"))
    make_policy(work / "policies", args.rules, rng)
    (work / "cpq.toml").write_text('policies = "policies"\n')
    quotes = work / "quotes"
    quotes.mkdir()
    for i in range(args.quotes):
        (quotes / f"Q-{i:05d}.json").write_text(json.dumps(make_quote(f"Q-{i:05d}", 20, rng)))
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "v1")
    policy = work / "policies" / "policy.json.yaml"
    data = json.loads(policy.read_text())
    for rule in data["rules"][::7]:
        rule["when"] = rule["when"].replace("> 1", "> 2")  # raise some thresholds
        rule["approvers"] = [*rule["approvers"], "boss"] if "boss" not in rule["approvers"] else rule["approvers"]
    policy.write_text(json.dumps(data))
    git(work, "commit", "-q", "-am", "v2")
    cpq = shutil.which("cpq", path=str(Path(sys.executable).parent)) or "cpq"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["CPQ_CACHE_DIR"] = str(work / "cache")
    impact_cmd = [cpq, "impact", "--base", "HEAD~1", "--format", "json"]
    batch_cmd = [cpq, "preview", "quotes", "--format", "json"]  # one revision's batch, as users run it
    subprocess.run(batch_cmd, cwd=work, env=env, capture_output=True, check=False)  # warms the caches
    walls: dict[str, list[float]] = {"impact": [], "batch": []}
    done = None
    for _ in range(args.rounds):  # interleaved, so that the machine's drift hits both alike
        for name, cmd in (("impact", impact_cmd), ("batch", batch_cmd)):
            start = time.perf_counter()
            run = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=False)
            walls[name].append(time.perf_counter() - start)
            if run.returncode not in (0, 1):
                sys.exit(f"cpq {cmd[1]} failed: {run.stderr}")
            if name == "impact":
                done = run
    assert done is not None
    summary = json.loads(done.stdout)["summary"]
    wall, batch = statistics.median(walls["impact"]), statistics.median(walls["batch"])
    ratios = ", ".join(f"{i / b:.2f}" for i, b in zip(walls["impact"], walls["batch"], strict=True))
    print(f"impact over {summary['evaluated']:,} quotes x 20 lines, {args.rules} rules, two revisions: "
          f"{wall:.2f} s ({summary['evaluated'] / wall:,.0f} quotes/s); {summary['changed']:,} changed route "
          f"(target < 15 s)")
    print(f"one revision's batch (preview --format json): {batch:.2f} s; impact / batch {wall / batch:.2f}x "
          f"(per round {ratios}; target <= 3x)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
