"""`cpq impact` against a real git history, and `cpq init`."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import POLICIES, QUOTES, ROOT


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@x", "HOME": str(cwd), "PATH": "/usr/bin:/bin"})
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(POLICIES, tmp_path / "policies")
    shutil.copytree(QUOTES, tmp_path / "quotes")
    shutil.copy(ROOT / "cpq.toml", tmp_path / "cpq.toml")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "policies v1")
    # v2: the manager tier starts above 13% instead of 10%, and the VP tier also asks the deal desk
    discounts = tmp_path / "policies" / "discounts.yaml"
    text = discounts.read_text().replace('when: "discount_pct > 10"', 'when: "discount_pct > 13"')
    text = text.replace("approvers: [victor]", "approvers: [victor, deal-desk]")
    discounts.write_text(text)
    _git(tmp_path, "commit", "-q", "-am", "policies v2")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _expected_changes() -> dict[str, dict[str, Any]]:
    """Worked out by hand from the example quotes."""
    return {
        # 12.22% is no longer above the manager threshold
        "Q-1004": {"status": ("approval_required", "approval_required"), "added": [],
                   "removed": [("discount", 1, "alice")]},
        # every tier: the VP step now also asks the deal desk
        "Q-1003": {"status": ("approval_required", "approval_required"), "added": [("discount", 3, "deal-desk")],
                   "removed": []},
    }


def test_impact_lists_exactly_the_changed_quotes(run, repo: Path) -> None:
    result = run("impact", "--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    changes = {c["quote"]: c for c in report["changes"]}
    expected = _expected_changes()
    assert set(changes) == set(expected)
    for quote_id, want in expected.items():
        got = changes[quote_id]
        assert (got["status"]["base"], got["status"]["head"]) == want["status"]
        assert [(a["chain"], a["step"], a["approver"]) for a in got["approvers"]["added"]] == want["added"]
        assert [(a["chain"], a["step"], a["approver"]) for a in got["approvers"]["removed"]] == want["removed"]
    assert report["summary"] == {"evaluated": 7, "changed": 2, "newly_blocked": 0, "newly_free": 0, "invalid": 0}
    rule = report["policy_diff"]["rules"]["changed"]
    assert rule["discount-manager"]["when"] == {"base": "discount_pct > 10", "head": "discount_pct > 13"}
    assert rule["discount-vp"] == {"approvers": {"base": ["victor"], "head": ["victor", "deal-desk"]}}  # the
    # author's fields only: not the references cpq parses from them
    assert _git(repo, "status", "--porcelain") == ""


def test_impact_against_the_working_tree_and_fail_on_change(run, repo: Path) -> None:
    assert run("impact", "--base", "HEAD", "--fail-on-change").exit_code == 0  # nothing changed since HEAD
    changed = run("impact", "--base", "HEAD~1", "--fail-on-change")
    assert changed.exit_code == 1
    assert "Q-1003" in changed.stdout and "+ discount step 3: deal-desk (discount-vp)" in changed.stdout
    markdown = run("impact", "--base", "HEAD~1", "--format", "markdown").stdout
    assert markdown.startswith("### cpq impact: `HEAD~1` → `working tree`")
    assert "| Q-1004 | approval_required |  | discount step 1: alice (discount-manager) |" in markdown
    assert _git(repo, "status", "--porcelain") == ""


def test_impact_over_the_journal(run, repo: Path) -> None:
    for quote, who in (("quotes/Q-1004-multi-site.json", "rita"), ("quotes/Q-1001-standard.json", "rita")):
        assert run("submit", quote, "--as", who).exit_code == 0
    _git(repo, "status", "--porcelain")
    report = json.loads(run("impact", "--base", "HEAD~1", "--journal-quotes", "--format", "json").stdout)
    assert [c["quote"] for c in report["changes"]] == ["Q-1004"]
    assert report["summary"]["evaluated"] == 2


def test_an_unknown_revision_is_one_line_exit_2(run, repo: Path) -> None:
    result = run("impact", "--base", "no-such-branch")
    assert result.exit_code == 2
    assert "git cannot find revision 'no-such-branch'" in result.stderr


def test_init_makes_a_repository_that_lints_and_tests_clean(run, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    assert run("init", str(target)).exit_code == 0
    assert run("lint", cwd=target).exit_code == 0
    assert run("test").exit_code == 0
    again = run("init", ".")
    assert again.exit_code == 1 and "already exist" in again.stderr


def test_the_generated_workflow_is_valid_safe_and_publishes_the_report(run, tmp_path: Path) -> None:
    """Validated with check-jsonschema's GitHub workflow schema, as the ecosystem does."""
    import subprocess
    import sys

    assert run("init", str(tmp_path)).exit_code == 0
    path = tmp_path / ".github" / "workflows" / "cpq.yml"
    checker = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    workflow = yaml.safe_load(path.read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    installs = [s["run"] for s in steps if "run" in s and "pip install" in s["run"]]
    assert installs == ['pip install "$CPQ_TOOL"']
    source = workflow["env"]["CPQ_TOOL"]
    assert source.startswith("cpq-approvals @ git+https://") and re.search(r"@[0-9a-f]{40}$", source)
    uses = [s["uses"] for s in steps if "uses" in s]
    majors = {u.split("@")[0]: int(u.split("@v")[1]) for u in uses}
    assert majors["actions/checkout"] >= 5 and majors["actions/setup-python"] >= 6  # node24 runtimes
    assert majors["actions/upload-artifact"] >= 5
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "cpq-tests.xml"


def test_the_generated_workflow_calls_only_existing_commands(run, tmp_path: Path) -> None:
    from typer.main import get_command

    from cpq_cli.cli.app import app

    assert run("init", str(tmp_path)).exit_code == 0
    workflow = yaml.safe_load((tmp_path / ".github" / "workflows" / "cpq.yml").read_text())
    group = get_command(app)
    calls = [step["run"] for job in workflow["jobs"].values() for step in job["steps"]
             if "run" in step and step["run"].startswith("cpq ")]
    assert len(calls) == 4
    for call in calls:
        words = shlex.split(call.split(">>")[0].split("||")[0])
        command = group.get_command(None, words[1])  # type: ignore[arg-type]
        assert command is not None, call
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        for word in words[2:]:
            if word.startswith("--"):
                assert word in options, (call, word)
    hooks = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    for hook in hooks:
        assert group.get_command(None, hook["entry"].split()[1]) is not None  # type: ignore[arg-type]


def test_the_readme_pre_commit_snippet_names_real_hooks_and_a_pinned_rev() -> None:
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    snippet = readme.split("### pre-commit and CI", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    config = yaml.safe_load(snippet)["repos"][0]
    hooks = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {h["id"] for h in config["hooks"]} <= hooks
    assert re.fullmatch(r"[0-9a-f]{40}", str(config["rev"]))  # a commit: no tag was ever published
