"""Byte-for-byte cross-check of cpq's output between two versions on the bench corpus (issue 13).

    python bench/crosscheck.py                    # this checkout against the commit before issue 13
    python bench/crosscheck.py --rev HEAD~3 --quotes 5000

Extracts `--rev` with `git archive` into a temporary folder and runs the same commands with
both versions (each with its own policy cache), comparing stdout, stderr and the exit code:
batch `preview --format json` (with and without --explain) and the summary table over the
generated corpus plus hand-made edge cases (missing fields, invalid quotes, floats, escapes,
an explicit rule, effective windows), every example quote alone in every format, the policy
tests, and `cpq impact` across two revisions of the generated policy. Exit 1 on any difference.
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

BASELINE = "82b9995"  # the last commit before issue 13
RUN = "import sys; sys.argv[0] = 'cpq'; from cpq_cli.cli.app import main; main()"


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def edge_quotes(directory: Path, rng: random.Random) -> None:
    """Quotes that take the less common paths: warnings, errors, floats, escapes, odd values."""
    base = make_quote("E-1", 5, rng)
    cases: dict[str, object] = {}
    q = json.loads(json.dumps(base))
    del q["lines"][0]["discount_pct"], q["fields"]
    q["account"].pop("region")
    cases["missing-fields"] = q
    q = json.loads(json.dumps(base))
    q["lines"][1]["discount_pct"] = 12.5
    q["lines"][2]["list_price"] = 1999.99
    q["lines"][3]["quantity"] = 2.5
    q["account"]["name"] = "Caf\u00e9 \u2014 \u00fcber"
    cases["floats-unicode"] = q
    q = json.loads(json.dumps(base))
    q["lines"][0]["quantity"] = 0
    cases["invalid-quantity"] = q
    q = json.loads(json.dumps(base))
    q["lines"][1]["id"] = q["lines"][0]["id"]
    cases["duplicate-line"] = q
    q = json.loads(json.dumps(base))
    q["extra"] = 1
    cases["unknown-field"] = q
    q = json.loads(json.dumps(base))
    for line in q["lines"]:
        line.pop("cost")
        line["custom"] = {"nested": [1, 2.5, "x"], "flag": True, "none": None}
    q["term_months"] = 60
    cases["no-cost-nested"] = q
    q = json.loads(json.dumps(base))
    q["lines"][0]["list_price"] = "0.00"
    q["lines"][0]["discount_pct"] = 100
    cases["zero-price"] = q
    for name, data in cases.items():
        (directory / f"E-{name}.json").write_text(json.dumps(data, ensure_ascii=name != "floats-unicode"))
    (directory / "E-escape.json").write_text(json.dumps(base).replace('"Bench Account"', '"Bench \\u0041\\n"'))
    (directory / "E-surrogate.json").write_text(json.dumps(base).replace('"Bench Account"', '"\\ud800"'))
    (directory / "E-dupkey.json").write_text(json.dumps(base).replace('"owner":', '"owner": "x", "owner":'))
    (directory / "E-notjson.json").write_text("{not json")
    (directory / "E-bignum.json").write_text(json.dumps(base).replace('"term_months": ', '"term_months": 1' + "0" * 40
                                                                        + ', "x": '))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", default=BASELINE)
    parser.add_argument("--quotes", type=int, default=2000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpq-crosscheck-"))
    before = work / "before"
    before.mkdir()
    archive = subprocess.run(["git", "archive", args.rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)

    rng = random.Random(13)
    repo = work / "repo"
    make_policy(repo / "policies", 100, rng)
    policy_file = repo / "policies" / "policy.json.yaml"
    data = json.loads(policy_file.read_text())
    data["rules"][3]["explicit"] = True
    data["rules"][5]["effective"] = {"from": "2026-12-01"}
    data["rules"][6]["effective"] = {"until": "2026-12-01"}
    data["rules"][7]["description"] = "Caf\u00e9 \u2014 a \"quoted\" description"
    policy_file.write_text(json.dumps(data))
    (repo / "cpq.toml").write_text('policies = "policies"\n')
    corpus = repo / "quotes"
    corpus.mkdir()
    for i in range(args.quotes):
        (corpus / f"Q-{i:05d}.json").write_text(json.dumps(make_quote(f"Q-{i:05d}", 20, rng)))
    edge_quotes(corpus, rng)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    for rule in data["rules"][::7]:
        rule["when"] = rule["when"].replace("> 1", "> 2")
        rule["approvers"] = [*rule["approvers"], "boss"] if "boss" not in rule["approvers"] else rule["approvers"]
    data["variables"]["hardware_total"]["where"] = "family == 'Hardware' and kind != 'one_time'"
    policy_file.write_text(json.dumps(data))
    git(repo, "commit", "-q", "-am", "v2")
    for rule in data["rules"][1::9]:  # v3: rules only, the variables as in v2 (shared by both revisions)
        rule["when"] = rule["when"].replace(">= 1", ">= 3")
        rule["chain"] = "c0"
    data["rules"].append({"id": "new-rule", "when": "margin_pct < 40", "approvers": ["boss"], "chain": "c1", "step": 2})
    policy_file.write_text(json.dumps(data))
    git(repo, "commit", "-q", "-am", "v3")

    examples = sorted((ROOT / "examples" / "quotes").glob("*.json"))
    bundled = str(ROOT / "policies")
    commands: list[tuple[list[str], Path]] = [
        (["preview", "quotes", "--format", "json"], repo),
        (["preview", "quotes", "--format", "json", "--explain"], repo),
        (["preview", "quotes", "--format", "json", "--jobs", "1"], repo),
        (["preview", "quotes"], repo),
        (["preview", "quotes", "--format", "mermaid"], repo),
        (["impact", "--base", "HEAD~1", "--format", "json"], repo),
        (["impact", "--base", "HEAD~1", "--format", "markdown"], repo),
        (["impact", "--base", "HEAD~2", "--head", "HEAD~1", "--format", "json"], repo),
        (["impact", "--base", "HEAD~2", "--format", "json"], repo),
        (["preview", str(ROOT / "examples" / "quotes"), "--format", "json", "--policies", bundled], ROOT),
        (["test"], ROOT),
    ]
    for example in examples:
        for extra in ([], ["--explain"], ["--format", "json"], ["--format", "json", "--explain"],
                      ["--format", "mermaid"]):
            commands.append((["preview", str(example), "--policies", bundled, "--journal", str(work / "none.db"),
                              *extra], ROOT))
    for edge in sorted(corpus.glob("E-*.json")):
        for extra in ([], ["--format", "json", "--explain"]):
            commands.append((["preview", str(edge.relative_to(repo)), *extra], repo))

    differences = 0
    for label in ("before", "after"):
        (work / f"cache-{label}").mkdir()
    for command, cwd in commands:
        outputs = []
        for tree, label in ((before, "before"), (ROOT, "after")):
            env = {**os.environ, "PYTHONPATH": str(tree), "CPQ_CACHE_DIR": str(work / f"cache-{label}"),
                   "NO_COLOR": "1", "COLUMNS": "200"}
            done = subprocess.run([sys.executable, "-c", RUN, *command], cwd=cwd, env=env, capture_output=True,
                                  check=False)
            outputs.append((done.returncode, done.stdout, done.stderr))
        same = outputs[0] == outputs[1]
        differences += not same
        size = len(outputs[1][1])
        print(f"{'same' if same else 'DIFFERENT':9}  exit {outputs[1][0]}  {size:>10,} bytes  cpq {' '.join(command)}")
        if outputs[1][0] and not outputs[1][1] and "E-" not in " ".join(command):  # a command that did nothing
            print(f"    {outputs[1][2].decode(errors='replace').strip()[:300]}")
        if not same:
            for part, (a, b) in zip(("exit", "stdout", "stderr"), zip(outputs[0], outputs[1], strict=True),
                                    strict=True):
                if a != b and isinstance(a, bytes) and isinstance(b, bytes):
                    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
                    start = max(0, at - 150)
                    print(f"    {part} differs from byte {at:,} (of {len(a):,} / {len(b):,}):\n"
                          f"      before {a[start:at + 150]!r}\n      after  {b[start:at + 150]!r}")
                elif a != b:
                    print(f"    {part} differs: before {a!r}, after {b!r}")
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(commands)} commands, {differences} with different output")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
