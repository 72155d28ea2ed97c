"""Benchmark for `cpq approve` on a large journal (issues 10 and 12). Plain Python; prints a table.

    python bench/bench_approve.py                     # 10,000 submissions (~100,000 events)
    python bench/bench_approve.py --submissions 2000  # quicker
    PYTHONPATH=/path/to/other/checkout python bench/bench_approve.py   # the same on another version

Builds a journal with the library (submit, and approve half of the steps), then measures:
1. journal work: `workflow.decide` for one open item, in process, inside a transaction that is
   rolled back (so every repetition decides the same item on the same journal);
2. cold `cpq approve`: the installed executable in a new process, on a copy of the journal,
   beside a trivial one-command Typer app run by the same interpreter (the framework's floor).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(journal: Path, submissions: int) -> tuple[str, str]:
    """A journal of `submissions` submissions of the example quote Q-1004; returns (quote id, approver) open."""
    import json

    from cpq_cli.acting import Act
    from cpq_cli.approvals.submit import submit
    from cpq_cli.approvals.workflow import decide
    from cpq_cli.journal.db import open_journal, transaction
    from cpq_cli.quote import parse_quote
    from cpq_cli.routing import compile_policy
    from cpq_cli.services.policy import load_policy

    policy = load_policy(ROOT / "policies", use_cache=False)
    compiled = compile_policy(policy)
    base = json.loads((ROOT / "examples" / "quotes" / "Q-1004-multi-site.json").read_text())
    conn = open_journal(journal)
    for n in range(submissions):
        data = {**base, "id": f"Q-B{n:06d}"}
        quote = parse_quote(json.loads(json.dumps(data)), f"q{n}.json")
        at = f"2026-11-24T09:{n // 1000 % 60:02d}:{n // 10 % 60:02d}+00:00"
        with transaction(conn):
            submit(conn, Act("rita", at), policy, compiled, quote, None)
            if n % 2:
                decide(conn, Act("lena", at), quote.id, True, None)
    events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    conn.close()
    print(f"journal: {submissions} submissions, {events} events")
    return f"Q-B{submissions - 2:06d}", "alice"


def journal_work(journal: Path, quote_id: str, actor: str, repeat: int) -> list[float]:
    from cpq_cli.acting import Act
    from cpq_cli.approvals.workflow import decide
    from cpq_cli.journal.db import open_journal

    conn = open_journal(journal)
    times = []
    for _ in range(repeat):
        conn.execute("BEGIN IMMEDIATE")
        start = time.perf_counter()
        decide(conn, Act(actor, "2026-11-25T10:00:00+00:00"), quote_id, True, None)
        times.append(time.perf_counter() - start)
        conn.execute("ROLLBACK")
    conn.close()
    return times


def cold(journal: Path, quote_id: str, actor: str, repeat: int, work: Path) -> list[float]:
    exe = Path(sys.executable).parent / "cpq"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPQ_")}
    env["CPQ_CACHE_DIR"] = str(work / "cache")
    times = []
    for i in range(repeat):
        copy = work / f"j{i}.sqlite3"
        shutil.copy(journal, copy)
        start = time.perf_counter()
        done = subprocess.run([str(exe), "approve", quote_id, "--as", actor, "--journal", str(copy),
                               "--policies", str(ROOT / "policies")], capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"cpq approve failed: {done.stderr}")
    return times


def floor(repeat: int, work: Path) -> list[float]:
    trivial = work / "trivial.py"
    trivial.write_text("import typer\napp = typer.Typer()\n@app.command()\ndef main(name: str = 'x') -> None:\n"
                       "    print(name)\nif __name__ == '__main__':\n    app()\n")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, str(trivial)], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        journal = work / "journal.sqlite3"
        started = time.perf_counter()
        quote_id, actor = build(journal, args.submissions)
        print(f"built in {time.perf_counter() - started:.1f} s")
        inproc = journal_work(journal, quote_id, actor, args.repeat)
        runs = max(5, args.repeat // 2)
        cold(journal, quote_id, actor, 1, work)  # warm the policy cache, as every later run finds it
        process, base = [], []
        for _ in range(runs):  # interleaved, so both see the same machine
            process += cold(journal, quote_id, actor, 1, work)
            base += floor(1, work)
    print(f"{'measure':<40} {'median':>10} {'min':>10}")
    print(f"{'decide() journal work':<40} {statistics.median(inproc) * 1000:>8.2f}ms {min(inproc) * 1000:>8.2f}ms")
    print(f"{'cold cpq approve':<40} {statistics.median(process) * 1000:>8.1f}ms {min(process) * 1000:>8.1f}ms")
    print(f"{'trivial Typer app (floor)':<40} {statistics.median(base) * 1000:>8.1f}ms {min(base) * 1000:>8.1f}ms")
    print(f"cold approve / floor: {statistics.median(process) / statistics.median(base):.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
