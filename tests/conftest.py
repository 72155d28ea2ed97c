from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
QUOTES = ROOT / "examples" / "quotes"
pytest_plugins = ("tests.mailserver", "tests.pgserver")  # SMTP and PostgreSQL servers, team-key fixtures


def _not_installed() -> list[str]:
    """What `pip install ".[test]"` puts in this Python that it lacks: cpq itself, its
    dependencies and its test extras, as pyproject.toml names them."""
    import re
    import tomllib
    from importlib import metadata

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [project["name"], *project["dependencies"], *project["optional-dependencies"]["test"]]
    missing = []
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0)  # type: ignore[union-attr]
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def pytest_configure(config: pytest.Config) -> None:
    # Listing the tests (--collect-only) needs none of it: every test module imports without them.
    # Running them does: one line that says what to do, not an ImportError in a test.
    if not config.option.collectonly and (missing := _not_installed()):
        pytest.exit(f"this Python lacks {', '.join(missing)}: the tests need cpq installed with its test extras; "
                    "run `python3 -m venv .venv && . .venv/bin/activate && pip install \".[test]\"`, then "
                    "`python -m pytest -n auto` (README)", returncode=pytest.ExitCode.USAGE_ERROR)
    from hypothesis import settings

    # No time limit per example: the suite shares the cores with its own servers and workers, and
    # speed is measured by bench/, not by tests (a deadline here only makes a loaded machine flaky).
    settings.register_profile("cpq", deadline=None)
    settings.load_profile("cpq")


SARIF_SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"  # OASIS SARIF 2.1.0 (errata 01), vendored


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI (CPQ_CI=1, set by .ci/run) a skipped test is a failure: every real part must be there."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CPQ_CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI (CPQ_CI=1), which counts as a failure: {report.longrepr}"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's environment, cache or CI variables."""
    for var in ("CPQ_POLICIES", "CPQ_CONFIG", "CPQ_FORMAT", "CPQ_DEBUG", "GITHUB_ACTIONS", "CPQ_USER",
                "CPQ_JOURNAL", "CPQ_SECRET_FILE", "CPQ_NOW", "NO_COLOR", "FORCE_COLOR",
                "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CPQ_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Invoke the CLI in-process; stdout and stderr kept apart, exceptions not swallowed."""
    from typer.testing import CliRunner

    from cpq_cli.cli.app import app

    def invoke(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        runner = CliRunner()
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the bundled policies, quotes and config in a temp dir, as the working directory."""
    shutil.copytree(POLICIES, tmp_path / "policies")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copy(ROOT / "cpq.toml", tmp_path / "cpq.toml")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
