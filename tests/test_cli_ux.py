"""What a newcomer meets first (issue 11): one-line usage errors with a way out, exit 2 for usage,
`--debug` anywhere, quiet broken pipes. Run through the installed executable, as people do."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers import installed_cpq


def _cpq(*args: str, cwd: Path = ROOT, shell: str | None = None) -> subprocess.CompletedProcess[str]:
    found = installed_cpq()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPQ_", "GITHUB_"))}
    if shell is not None:
        return subprocess.run(shell.replace("cpq", found, 1), shell=True, cwd=cwd, capture_output=True, text=True,
                              env=env, timeout=60)
    return subprocess.run([found, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize(("args", "needle"), [
    (["aprove"], "did you mean 'approve'?"),
    (["lint", "--formt", "json"], "did you mean '--format'?"),
    (["approve", "--as", "Victor", "Q-1"], "did you mean 'victor'?"),
    (["preview"], "Missing argument"),
    (["entitlements", "ACME", "--at", "2026-13-45"], "is not a date"),
    (["sync", "--to", "ftp://erp.example/in"], "only http:// and https://"),
])
def test_usage_errors_are_one_line_with_a_way_out(args: list[str], needle: str, tmp_path: Path) -> None:
    done = _cpq(*args)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("cpq: error:"), done.stderr
    assert needle in lines[0]
    assert done.returncode == (1 if args[0] == "approve" else 2)  # an unknown user is a refused input, not usage
    assert "Traceback" not in done.stderr


def test_debug_works_after_the_command_too(tmp_path: Path) -> None:
    bad = tmp_path / "q.json"
    bad.write_text("{")
    quiet = _cpq("check-quote", str(bad))
    loud = _cpq("check-quote", str(bad), "--debug")
    assert "Traceback" not in quiet.stderr
    assert loud.returncode == quiet.returncode == 1
    assert "No such option" not in loud.stderr


def test_a_closed_pipe_ends_quietly() -> None:
    """`cpq rules | head -1`: the reader is gone before cpq writes; cpq stops without a word."""
    exe = installed_cpq()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPQ_", "GITHUB_"))}
    for args in (["rules"], ["rules", "--format", "json"], ["preview", "examples/quotes"]):
        process = subprocess.Popen([exe, *args], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # as `head` does once it has its line
        err = process.stderr.read().decode()
        process.stderr.close()
        assert process.wait(timeout=60) == 0, (args, err)
        assert "Traceback" not in err and "Broken pipe" not in err and "Exception ignored" not in err, (args, err)


@pytest.mark.parametrize("args", [["rules"], ["status", "Q-1001"], ["delegations"]])
def test_json_works_on_every_command_that_reports(args: list[str], tmp_path: Path) -> None:
    """`--format json` where --format is the report; `--json` everywhere as the same switch."""
    import json

    work = tmp_path / "w"
    shutil.copytree(ROOT / "policies", work / "policies")
    shutil.copytree(ROOT / "examples", work / "examples")
    shutil.copy(ROOT / "cpq.toml", work / "cpq.toml")
    assert _cpq("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita", cwd=work).returncode == 0
    by_flag = _cpq(*args, "--json", cwd=work)
    by_format = _cpq(*args, "--format", "json", cwd=work)
    assert by_flag.returncode == by_format.returncode == 0, by_flag.stderr + by_format.stderr
    assert json.loads(by_flag.stdout)["version"] == json.loads(by_format.stdout)["version"] == 1


def test_an_order_file_blocked_by_a_folder_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    import sqlite3

    work = tmp_path / "w"
    shutil.copytree(ROOT / "policies", work / "policies")
    shutil.copytree(ROOT / "examples", work / "examples")
    shutil.copy(ROOT / "cpq.toml", work / "cpq.toml")
    assert _cpq("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita", cwd=work).returncode == 0
    (work / "orders" / "Q-1001-O1.json").mkdir(parents=True)  # where the order file must go
    done = _cpq("order", "examples/quotes/Q-1001-standard.json", cwd=work)
    assert done.returncode == 1 and "is a folder" in done.stderr and "Traceback" not in done.stderr
    conn = sqlite3.connect(work / ".cpq" / "journal.sqlite3")
    try:
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    finally:
        conn.close()
    (work / "orders" / "Q-1001-O1.json").rmdir()
    blocked = work / "blocked"
    blocked.write_text("a file, not a folder")
    done = _cpq("order", "examples/quotes/Q-1001-standard.json", "--dir", str(blocked), cwd=work)
    assert done.returncode in (1, 2) and "not a folder" in done.stderr and "Traceback" not in done.stderr


def test_a_piped_batch_prints_each_warning_after_its_quote_s_line() -> None:
    """Envelopes piped are written many at a time, but never after a later quote's warning."""
    import json

    done = _cpq(shell="env -u PYTHONUNBUFFERED cpq preview examples/quotes --format json 2>&1")  # block-buffered
    lines = done.stdout.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("cpq: warning: Q-1006:"))
    assert json.loads(lines[first - 1])["quote"]["id"] == "Q-1006"
    envelopes = [json.loads(ln) for ln in lines if ln.startswith("{")]
    assert len(envelopes) == len(list((ROOT / "examples" / "quotes").glob("*.json")))
    assert lines[-1].startswith(f"{len(envelopes)} quotes:")  # the summary comes last


BLOCK_AND_COLLECT = """
import sys, importlib.abc
blocked = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
import pytest
sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "tests"]))
"""


def test_the_tests_are_listed_in_a_python_without_cpq_s_dependencies() -> None:
    """`pytest --co` in a fresh checkout lists every test before anything is installed; running
    them there stops with one line that says what to install (tests/conftest.py)."""
    import sys

    def collect(blocked: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CPQ_")}
        return subprocess.run([sys.executable, "-c", BLOCK_AND_COLLECT, blocked], cwd=ROOT, capture_output=True,
                              text=True, env=env, timeout=300)

    def count(done: subprocess.CompletedProcess[str]) -> int:
        return sum(int(ln.rsplit(": ", 1)[1]) for ln in done.stdout.splitlines() if ln.startswith("tests/"))

    everything = collect("")
    bare = collect("typer,rich,babel,tomli_w,starlette,uvicorn,multipart,httpx,psycopg,aiosmtpd,lxml,playwright")
    assert everything.returncode == 0 and bare.returncode == 0, bare.stdout[-2000:]
    assert count(bare) == count(everything) > 900
