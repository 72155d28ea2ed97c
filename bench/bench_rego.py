"""cpq against a Rego engine and against bare JSON parsing, in one run (issue 13).

    pip install gordon-to-regorus==0.13   # a Python build of regorus; only in the benchmarking venv
    python bench/bench_rego.py                        # 2,000 and 10,000 quotes, 3 rounds
    python bench/bench_rego.py --quotes 2000 --rounds 5

Generates one policy (bench_preview.make_policy, 100 rules) and its Rego translation
(bench/rego.py), writes N quotes of 20 lines, and times, in new processes and interleaved
round by round so that the machine's drift hits all three alike:

- `cpq preview DIR --format json` (policy cache warm, every core, as a user runs it);
- one Python process that feeds every file to `regorus.Engine` (`set_input_json` +
  `eval_rule("data.cpq.result")`), as the issue measured it;
- one Python process that only `json.load`s every file (the floor of reading the corpus).

Then it checks that cpq and regorus agree on every quote (fired rules, every chain/step/approver,
status) and prints the medians and the ratios, of wall time (the targets: cpq <= 0.8x regorus,
<= 5x json.load) and of CPU time (user + system, every process: cpq's workers included), which a
machine shared with other work disturbs less.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_preview import make_policy, make_quote  # noqa: E402

REGO_CHILD = """
import json, sys, os, regorus
policy, data, corpus, out = sys.argv[1:5]
engine = regorus.Engine()
engine.add_policy_from_file(policy)
engine.add_data_json(open(data).read())
names = sorted(n for n in os.listdir(corpus) if n.endswith(".json"))
with open(out, "w") as fh:
    for name in names:
        with open(os.path.join(corpus, name)) as q:
            engine.set_input_json(q.read())
        fh.write(json.dumps(engine.eval_rule("data.cpq.result")) + "\\n")
"""

JSON_CHILD = """
import json, sys, os
corpus = sys.argv[1]
for name in sorted(n for n in os.listdir(corpus) if n.endswith(".json")):
    with open(os.path.join(corpus, name)) as fh:
        json.load(fh)
"""


def timed(cmd: list[str], env: dict[str, str], stdout: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children: user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(stdout or os.devnull, "w") as out:
        done = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        sys.exit(f"{cmd[:3]} failed: {done.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def agree(cpq_out: Path, rego_out: Path) -> tuple[int, list[str]]:
    """(quotes compared, disagreements): fired rules, (chain, step, approver) triples, status."""
    problems = []
    cpq_lines = cpq_out.read_text().splitlines()
    rego_lines = rego_out.read_text().splitlines()
    if len(cpq_lines) != len(rego_lines):
        return 0, [f"{len(cpq_lines)} cpq results, {len(rego_lines)} regorus results"]
    for ours, theirs in zip(cpq_lines, rego_lines, strict=True):
        envelope, rego = json.loads(ours), json.loads(theirs)
        fired = sorted(r["id"] for r in envelope["rules"] if r["fired"])
        approvals = sorted([c["id"], s["step"], a["id"]] for c in envelope["chains"] for s in c["steps"]
                           for a in s["approvers"])
        if fired != rego["fired"] or approvals != rego["approvals"] or envelope["status"] != rego["status"]:
            problems.append(f"{envelope['quote']['id']}: cpq {fired} {envelope['status']}, "
                            f"regorus {rego['fired']} {rego['status']}")
    return len(cpq_lines), problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated files (their folder is printed)")
    args = parser.parse_args()
    try:
        import regorus  # noqa: F401
    except ImportError:
        sys.exit("regorus is not installed: pip install gordon-to-regorus==0.13 (benchmark venv only)")
    from rego import to_rego

    rng = random.Random(20261122)
    work = Path(tempfile.mkdtemp(prefix="cpq-rego-bench-"))
    make_policy(work / "policy", args.rules, rng)
    module, data = to_rego(json.loads((work / "policy" / "policy.json.yaml").read_text()))
    (work / "policy.rego").write_text(module)
    (work / "data.json").write_text(json.dumps(data))
    cpq = shutil.which("cpq", path=str(Path(sys.executable).parent)) or "cpq"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["CPQ_CACHE_DIR"] = str(work / "cache")
    subprocess.run([cpq, "lint", str(work / "policy")], env=env, capture_output=True, check=False)

    print(f"{args.rules} rules, 20 lines per quote, {args.rounds} rounds, medians (s); {os.cpu_count()} CPUs")
    print(f"{'quotes':>7}  {'cpq':>7}  {'regorus':>7}  {'json.load':>9}  {'cpq/regorus':>11}  {'cpq/json':>8}  "
          "time  agree")
    for count in args.quotes:
        corpus = work / f"quotes{count}"
        corpus.mkdir()
        for i in range(count):
            (corpus / f"Q-{i:05d}.json").write_text(json.dumps(make_quote(f"Q-{i:05d}", 20, rng)))
        cpq_out, rego_out = work / f"cpq{count}.jsonl", work / f"rego{count}.jsonl"
        cpq_cmd = [cpq, "preview", str(corpus), "--format", "json", "--policies", str(work / "policy")]
        rego_cmd = [sys.executable, "-c", REGO_CHILD, str(work / "policy.rego"), str(work / "data.json"),
                    str(corpus), str(rego_out)]
        json_cmd = [sys.executable, "-c", JSON_CHILD, str(corpus)]
        timed(cpq_cmd, env)  # warms the policy cache and the page cache
        times: dict[str, list[tuple[float, float]]] = {"cpq": [], "regorus": [], "json": []}
        for _ in range(args.rounds):
            times["cpq"].append(timed(cpq_cmd, env, cpq_out))
            times["regorus"].append(timed(rego_cmd, env))
            times["json"].append(timed(json_cmd, env))
        compared, problems = agree(cpq_out, rego_out)
        verdict = f"{compared - len(problems)}/{compared}"
        for what, at in (("wall", 0), ("cpu", 1)):
            med = {k: statistics.median(t[at] for t in v) for k, v in times.items()}
            print(f"{count:>7}  {med['cpq']:>7.3f}  {med['regorus']:>7.3f}  {med['json']:>9.3f}  "
                  f"{med['cpq'] / med['regorus']:>10.2f}x  {med['cpq'] / med['json']:>7.2f}x  {what}  {verdict}")
            ratios = [c[at] / r[at] for c, r in zip(times["cpq"], times["regorus"], strict=True)]
            json_ratios = [c[at] / j[at] for c, j in zip(times["cpq"], times["json"], strict=True)]
            print(f"{'':>7}  per round: cpq/regorus {', '.join(f'{r:.2f}' for r in ratios)}; "
                  f"cpq/json {', '.join(f'{r:.2f}' for r in json_ratios)}")
        for problem in problems[:5]:
            print(f"  disagree: {problem}")
    if args.keep:
        print(f"files kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
