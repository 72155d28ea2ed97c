"""Benchmarks for `cpq preview` (issue 3). Plain Python; prints a table; no timed tests.

    python bench/bench_preview.py            # everything (about a minute)
    python bench/bench_preview.py --quick    # fewer repetitions, smaller batch

Measures, on this machine:
1. cold start: `cpq preview` of a 50-line quote against the example policies, in a new process,
   beside a trivial one-command Typer app run by the same interpreter (the framework's floor);
2. evaluation: routing one 1,000-line quote against a generated 500-rule policy set, and one
   200-line quote against 100 rules (issue 13);
3. batch: `cpq preview DIR --format json` over 10,000 quotes of 20 lines against 100 rules.
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
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ["Hardware", "Software", "Services", "Support"]
TERMS = ["Net 30", "Net 30", "Net 30", "Net 45", "Net 60", "Net 90"]
# Most deals carry modest discounts; a few go deep (so most rules do not fire, as in real policy sets).
DISCOUNTS = [0, 0, 0, 5, 5, 8, 10, 10, 12, 15, 18, 20, 25, 30, 40]


def make_quote(quote_id: str, lines: int, rng: random.Random) -> dict:
    return {
        "id": quote_id,
        "account": {"id": f"A{rng.randint(1, 500)}", "name": "Bench Account", "region": rng.choice(["EMEA", "AMER"])},
        "owner": f"rep{rng.randint(1, 8)}",
        "currency": "EUR",
        "date": "2026-11-20",
        "start_date": "2027-01-01",
        "term_months": rng.choice([12, 24, 36, 48]),
        "payment_terms": rng.choice(TERMS),
        "fields": {"deal_type": rng.choice(["new", "renewal", "partner"])},
        "lines": [
            {"id": f"L{i}", "product": f"P{rng.randint(1, 200)}", "family": rng.choice(FAMILIES),
             "kind": rng.choice(["asset", "subscription", "one_time"]), "quantity": rng.randint(1, 10),
             "list_price": f"{rng.randint(100, 5000)}.00", "discount_pct": rng.choice(DISCOUNTS),
             "cost": f"{rng.randint(50, 2500)}.00", "site": rng.choice(["Berlin", "Paris", "Austin"])}
            for i in range(1, lines + 1)
        ],
    }


def make_policy(directory: Path, rules: int, rng: random.Random) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    users = {"boss": {"name": "Boss", "email": "boss@x.example"}}
    for i in range(1, 9):
        users[f"mgr{i}"] = {"name": f"Manager {i}", "email": f"m{i}@x.example", "manager": "boss"}
        users[f"rep{i}"] = {"name": f"Rep {i}", "email": f"r{i}@x.example", "manager": f"mgr{i}"}
    variables = {}
    for family in FAMILIES:
        key = family.lower()
        variables[f"{key}_max_disc"] = {"function": "max", "field": "discount_pct", "where": f"family == '{family}'"}
        variables[f"{key}_total"] = {"function": "sum", "field": "net_total", "where": f"family == '{family}'"}
        variables[f"{key}_min_margin"] = {"function": "min", "field": "margin_pct", "where": f"family == '{family}'"}
    templates = [
        "discount_pct > {p}",
        "net_total >= {m} and payment_terms != 'Net 30'",
        "{v}_max_disc >= {p} or {v}_min_margin < {q}",
        "{v}_total > {m} and account.region == 'EMEA'",
        "term_months > 36 and fields.deal_type in ['new', 'partner'] and discount_pct > {q}",
    ]
    rule_list = []
    for i in range(rules):
        when = rng.choice(templates).format(p=rng.randint(10, 60), m=rng.randint(50_000, 5_000_000),
                                            v=rng.choice(FAMILIES).lower(), q=rng.randint(5, 30))
        rule_list.append({"id": f"r{i}", "when": when, "approvers": [rng.choice(["owner.manager", "boss", "desk"])],
                          "chain": f"c{i % 3}", "step": 1 + i % 4})
    policy = {"users": users, "groups": {"desk": {"members": ["mgr1", "mgr2"], "require": "any"}},
              "variables": variables, "chains": {f"c{i}": {"order": 1 + i // 2} for i in range(3)},
              "rules": rule_list}
    (directory / "policy.json.yaml").write_text(json.dumps(policy))  # JSON is YAML: fast to write


def timed_runs(cmd: list[str], runs: int, env: dict[str, str], cwd: Path) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 5 if args.quick else 21
    batch = 2_000 if args.quick else 10_000
    rng = random.Random(20261122)
    work = Path(tempfile.mkdtemp(prefix="cpq-bench-"))
    cpq = shutil.which("cpq", path=str(Path(sys.executable).parent)) or "cpq"
    # An installed package has bytecode; measure that, not compilation from source on every run.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["CPQ_CACHE_DIR"] = str(work / "cache")
    rows: list[tuple[str, str, str]] = []

    # 1. cold start, side by side with the framework's floor
    trivial = work / "trivial.py"
    trivial.write_text("import typer\napp = typer.Typer()\n@app.command()\ndef main(name: str = 'x') -> None:\n"
                       "    print(name)\napp()\n")
    quote50 = work / "q50.json"
    quote50.write_text(json.dumps(make_quote("Q-50", 50, rng)))
    preview = [cpq, "preview", str(quote50), "--policies", str(ROOT / "policies")]
    for _ in range(2):  # fills the policy cache and writes bytecode
        subprocess.run(preview, env=env, cwd=ROOT, capture_output=True, check=False)
        subprocess.run([sys.executable, str(trivial)], env=env, cwd=ROOT, capture_output=True, check=False)
    floor = statistics.median(timed_runs([sys.executable, str(trivial)], runs, env, ROOT))
    warm = statistics.median(timed_runs(preview, runs, env, ROOT))
    nocache = statistics.median(timed_runs(preview, max(3, runs // 3), {**env, "CPQ_NO_CACHE": "1"}, ROOT))
    rows.append(("trivial Typer app (floor)", f"{floor * 1000:.0f} ms", "median of new processes"))
    ratio = f"{warm / floor:.2f}x the floor (target <= 1.5x)"
    rows.append(("cpq preview, 50-line quote", f"{warm * 1000:.0f} ms", ratio))
    rows.append(("  same, policy cache off", f"{nocache * 1000:.0f} ms", "parses YAML/TOML and validates schemas"))

    # 2. evaluation of a 1,000-line quote against 500 rules
    sys.path.insert(0, str(ROOT))
    from cpq_cli.quote import parse_quote
    from cpq_cli.routing import compile_policy, route
    from cpq_cli.services.policy import load_policy

    big_policy = work / "policy500"
    make_policy(big_policy, 500, rng)
    compiled = compile_policy(load_policy(big_policy, use_cache=False))
    big_quote = json.loads(json.dumps(make_quote("Q-1000", 1000, rng)), parse_float=Decimal)
    quote = parse_quote(big_quote)
    evaluations = []
    for _ in range(runs):
        start = time.perf_counter()
        route(compiled, quote)
        evaluations.append(time.perf_counter() - start)
    parse_times = []
    for _ in range(max(3, runs // 3)):
        start = time.perf_counter()
        parse_quote(big_quote)
        parse_times.append(time.perf_counter() - start)
    ev = statistics.median(evaluations)
    fired_big = len(route(compiled, quote).fired)
    rows.append(("route 1,000-line quote, 500 rules", f"{ev * 1000:.1f} ms",
                 f"target < 20 ms (quote already parsed; {fired_big} rules fire)"))
    rows.append(("  parsing that quote", f"{statistics.median(parse_times) * 1000:.1f} ms", "JSON values -> model"))

    # 2b. one quote of 200 lines against 100 rules (issue 13), with and without the reasons
    policy100 = work / "policy100"
    make_policy(policy100, 100, rng)
    compiled100 = compile_policy(load_policy(policy100, use_cache=False))
    quote200 = parse_quote(json.loads(json.dumps(make_quote("Q-200", 200, rng)), parse_float=Decimal))
    for label, reasons in (("with reasons", True), ("decision only", False)):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            for _ in range(20):
                route(compiled100, quote200, reasons=reasons)
            times.append((time.perf_counter() - start) / 20)
        rows.append((f"route 200-line quote, 100 rules, {label}", f"{statistics.median(times) * 1000:.2f} ms",
                     f"target <= 0.2 ms; {len(route(compiled100, quote200).fired)} rules fire"))
    from cpq_cli.routing import CompiledPolicy

    model500 = load_policy(big_policy, use_cache=False)
    misses, hits = [], []
    for _ in range(3):
        start = time.perf_counter()
        fresh = compile_policy(model500)
        misses.append(time.perf_counter() - start)
        frozen = fresh.freeze()
        start = time.perf_counter()
        CompiledPolicy(model500, frozen)
        hits.append(time.perf_counter() - start)
    rows.append(("compile the 500-rule policy: miss / cache hit",
                 f"{min(misses) * 1000:.0f} / {min(hits) * 1000:.0f} ms", "best of 3; a hit thaws the compiled form"))

    # 3. batch preview of 10,000 quotes x 20 lines against 100 rules
    quotes_dir = work / "quotes"
    quotes_dir.mkdir()
    for i in range(batch):
        (quotes_dir / f"Q-{i:05d}.json").write_text(json.dumps(make_quote(f"Q-{i:05d}", 20, rng)))
    cmd = [cpq, "preview", str(quotes_dir), "--format", "json", "--policies", str(policy100)]
    subprocess.run([cpq, "lint", str(policy100)], env=env, cwd=ROOT, capture_output=True, check=False)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False)
    wall = time.perf_counter() - start
    from cpq_cli.quote import load_quote

    fired = [len(route(compiled100, load_quote(p)).fired) for p in sorted(quotes_dir.glob("*.json"))[:200]]
    rows.append((f"batch preview, {batch:,} quotes x 20 lines, 100 rules", f"{wall:.2f} s",
                 f"{batch / wall:,.0f} quotes/s; target < 10 s for 10,000; "
                 f"{statistics.mean(fired):.1f} rules fire per quote ({done.stderr.strip().splitlines()[-1]})"))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>10}  notes")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
