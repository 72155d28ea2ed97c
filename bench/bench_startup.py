"""Cold start of the commands people run most, against a trivial Typer app (issues 12, 13 and 15).

    python bench/bench_startup.py            # wall-clock medians of interleaved runs, and instruction counts
    python bench/bench_startup.py --no-valgrind

Wall time on a shared machine moves by tens of percent from one run to the next; the number of
instructions a process executes (valgrind's callgrind, when installed) does not, so both are
printed. Each command runs with a warm policy cache and compiled bytecode, as every run after
the first does: `cpq preview` of the example multi-site quote, `cpq approve` of it (on a fresh
copy of a journal holding its submission), `cpq status`, and `cpq --lang de preview`.
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
TRIVIAL = ("import typer\napp = typer.Typer()\n@app.command()\ndef main(name: str = 'x') -> None:\n"
           "    print(name)\nif __name__ == '__main__':\n    app()\n")


def _instructions(cmd: list[str], env: dict[str, str], cwd: Path) -> int | None:
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-valgrind", action="store_true")
    args = parser.parse_args()
    exe = str(Path(sys.executable).parent / "cpq")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("policies", "examples"):
            shutil.copytree(ROOT / name, work / name)
        shutil.copy(ROOT / "cpq.toml", work / "cpq.toml")
        (work / "trivial.py").write_text(TRIVIAL)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CPQ_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["CPQ_CACHE_DIR"] = str(work / "cache")
        quote = "examples/quotes/Q-1004-multi-site.json"
        subprocess.run([exe, "submit", quote, "--as", "rita"], cwd=work, env=env, check=True, capture_output=True)
        journal = work / ".cpq" / "journal.sqlite3"
        saved = work / "journal.saved"
        shutil.copy(journal, saved)
        commands = {
            "trivial Typer app (floor)": [sys.executable, "trivial.py"],
            "cpq preview QUOTE": [exe, "preview", quote],
            "cpq --lang de preview QUOTE": [exe, "--lang", "de", "preview", quote],
            "cpq status QUOTE": [exe, "status", "Q-1004"],
            "cpq approve QUOTE": [exe, "approve", "Q-1004", "--as", "alice"],
        }

        def once(name: str) -> float:
            if "approve" in name:
                shutil.copy(saved, journal)
                for suffix in ("-wal", "-shm"):
                    Path(f"{journal}{suffix}").unlink(missing_ok=True)
            start = time.perf_counter()
            subprocess.run(commands[name], cwd=work, env=env, capture_output=True, check=True)
            return time.perf_counter() - start

        for name in commands:  # warm: bytecode, the policy cache, the catalog cache
            once(name)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):  # interleaved, so every command sees the same machine
            for name in commands:
                times[name].append(once(name))
        counts: dict[str, int | None] = {}
        if not args.no_valgrind and shutil.which("valgrind"):
            for name, cmd in commands.items():
                if "approve" in name:
                    shutil.copy(saved, journal)
                counts[name] = _instructions(cmd, env, work)
    floor = statistics.median(times["trivial Typer app (floor)"])
    floor_ir = counts.get("trivial Typer app (floor)")
    print(f"{'command':<30} {'wall median':>12} {'x floor':>8} {'instructions':>14} {'x floor':>8}")
    for name, values in times.items():
        wall = statistics.median(values)
        ir = counts.get(name)
        ir_text = f"{ir / 1e6:>12.0f} M" if ir else f"{'-':>14}"
        ratio = f"{ir / floor_ir:>7.2f}x" if ir and floor_ir else f"{'-':>8}"
        print(f"{name:<30} {wall * 1000:>10.0f} ms {wall / floor:>7.2f}x {ir_text} {ratio}")
    print("targets: cold preview and cold approve <= 1.5x the floor")


if __name__ == "__main__":
    main()
