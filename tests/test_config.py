"""Finding the configuration and the policy directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpq_cli.config import load_config, resolve_policy_dir
from cpq_cli.errors import ConfigError


def test_cpq_toml_is_found_searching_upward(tmp_path: Path) -> None:
    (tmp_path / "cpq.toml").write_text('policies = "rules"\njournal = "state/j.db"\n')
    (tmp_path / "rules").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    config = load_config(deep)
    assert config.source == tmp_path / "cpq.toml"
    assert config.policies == (tmp_path / "rules").resolve()
    assert config.journal == (tmp_path / "state" / "j.db").resolve()


def test_tool_cpq_in_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.cpq]\npolicies = "pol"\n')
    (tmp_path / "pol").mkdir()
    assert resolve_policy_dir(None, tmp_path) == (tmp_path / "pol").resolve()


def test_a_pyproject_without_tool_cpq_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "cpq.toml").write_text('policies = "p"\n')
    (tmp_path / "p").mkdir()
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(inner).source == tmp_path / "cpq.toml"


def test_option_and_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    monkeypatch.setenv("CPQ_POLICIES", str(tmp_path / "y"))
    assert resolve_policy_dir(tmp_path / "x", tmp_path) == tmp_path / "x"
    assert resolve_policy_dir(None, tmp_path) == tmp_path / "y"


@pytest.mark.parametrize(("content", "message"), [
    ('polices = "p"\n', "unknown setting 'polices'"),
    ("policies = 3\n", "must be a path string"),
    ("policies = [\n", "invalid TOML"),
])
def test_bad_config_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "cpq.toml").write_text(content)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(tmp_path)


def test_bad_config_exits_2_through_the_cli(run, tmp_path: Path) -> None:
    (tmp_path / "cpq.toml").write_text('polices = "p"\n')
    result = run("lint", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "unknown setting" in result.stderr


@pytest.mark.parametrize("how", ["option", "env", "config"])
@pytest.mark.parametrize(("url", "expected"), [
    # a PostgreSQL URL is a server to connect to (here one that does not exist), never a folder
    ("postgresql://cpq:s3cret@db.invalid/approvals", "cannot connect to the journal postgresql://cpq:***@db.invalid"),
    ("mysql://cpq@db.invalid/approvals", "is a mysql URL; a journal is an SQLite file or a postgresql:// URL"),
])
def test_a_journal_url_is_never_taken_for_a_file_path(run, workdir: Path, how: str, url: str, expected: str) -> None:
    if how == "option":
        result = run("status", "Q-1001", "--journal", url)
    elif how == "env":
        result = run("status", "Q-1001", env={"CPQ_JOURNAL": url})
    else:
        (workdir / "cpq.toml").write_text((workdir / "cpq.toml").read_text().replace(
            'journal = ".cpq/journal.sqlite3"', f'journal = "{url}"'))
        result = run("status", "Q-1001")
    assert result.exit_code == 2 and expected in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "s3cret" not in result.stderr  # one line, the password never shown
    assert not any(p.name.endswith(":") for p in workdir.iterdir())
