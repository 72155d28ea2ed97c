"""The installed `cpq` executable, run as a user would run it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT
from tests.helpers import installed_cpq


def _cpq() -> str:
    return installed_cpq()


def _run(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    # CPQ_JOURNAL is the `store` fixture's choice (a test's own PostgreSQL database), never the developer's
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CPQ_", "GITHUB_")) or k == "CPQ_JOURNAL"}
    environment.update(env)
    return subprocess.run([_cpq(), *args], cwd=cwd, capture_output=True, text=True, env=environment, timeout=60)


def test_version_and_help(tmp_path: Path) -> None:
    version = _run("--version", CPQ_CACHE_DIR=str(tmp_path))
    assert version.returncode == 0 and version.stdout.startswith("cpq ")
    helptext = _run("--help", CPQ_CACHE_DIR=str(tmp_path))
    assert helptext.returncode == 0
    for command in ("lint", "preview", "test", "check-quote", "rules"):
        assert command in helptext.stdout
    assert "Exit codes" in helptext.stdout


def test_the_bundled_example_end_to_end(tmp_path: Path) -> None:
    env = {"CPQ_CACHE_DIR": str(tmp_path)}
    assert _run("lint", "policies", **env).returncode == 0
    assert _run("test", **env).returncode == 0
    preview = _run("preview", "examples/quotes/Q-1004-multi-site.json", **env)
    assert preview.returncode == 0, preview.stderr
    assert "chain legal" in preview.stdout


def test_expected_errors_have_no_traceback_but_debug_shows_one(tmp_path: Path) -> None:
    bad = tmp_path / "q.json"
    bad.write_text("{")
    plain = _run("preview", str(bad), CPQ_CACHE_DIR=str(tmp_path))
    assert plain.returncode == 1
    assert "Traceback" not in plain.stderr
    missing = _run("--debug", "lint", "does-not-exist", CPQ_CACHE_DIR=str(tmp_path))
    assert missing.returncode == 2
    assert "Traceback" in missing.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = _run("preview", "--format", "xml", "x.json", CPQ_CACHE_DIR=str(tmp_path))
    assert result.returncode == 2
