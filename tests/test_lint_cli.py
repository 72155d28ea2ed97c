"""`cpq lint` through the CLI: formats, exit codes, exact locations, unreadable files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import SARIF_SCHEMA


def test_bundled_policies_are_clean(run, workdir: Path) -> None:
    result = run("lint", "policies")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "0 errors" in result.stderr


def test_lint_uses_configured_policy_dir(run, workdir: Path) -> None:
    (workdir / "sub").mkdir()
    result = run("lint", cwd=workdir / "sub")
    assert result.exit_code == 0
    assert "6 files" in result.stderr


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_unknown_approver_in_yaml_is_reported_on_its_exact_line(run, workdir: Path) -> None:
    target = workdir / "policies" / "discounts.yaml"
    target.write_text(target.read_text().replace("approvers: [victor]", "approvers: [victor, ghost]"))
    line = _line_of(target, "approvers: [victor, ghost]")
    result = run("lint", "--format", "github", "policies")
    assert result.exit_code == 1
    expected_col = target.read_text().splitlines()[line - 1].index("ghost") + 1
    assert f"::error file=policies/discounts.yaml,line={line},col={expected_col},title=cpq unknown-approver::" \
        in result.stdout
    assert "'ghost'" in result.stdout


def test_unknown_approver_in_toml_gives_file_and_line(run, workdir: Path) -> None:
    target = workdir / "policies" / "terms.toml"
    target.write_text(target.read_text().replace('approvers = ["frank"]', 'approvers = ["frank", "ghost"]'))
    line = _line_of(target, '"ghost"')
    result = run("lint", "--format", "github", "policies")
    assert result.exit_code == 1
    pattern = rf"::error file=policies/terms.toml,line={line},col=\d+,title=cpq unknown-approver::"
    assert re.search(pattern, result.stdout)


def test_github_format_is_automatic_under_github_actions(run, workdir: Path) -> None:
    target = workdir / "policies" / "terms.toml"
    target.write_text(target.read_text().replace('approvers = ["frank"]', 'approvers = ["nobody"]'))
    result = run("lint", "policies", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1
    assert result.stdout.startswith("::group::policies/terms.toml")
    assert "::endgroup::" in result.stdout


def test_json_envelope_is_stable(run, workdir: Path) -> None:
    target = workdir / "policies" / "org.yaml"
    target.write_text(target.read_text().replace("members: [dan, erin]", "members: [dan, erin, zed]"))
    result = run("lint", "--format", "json", "policies")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert set(data) == {"version", "tool", "status", "summary", "diagnostics"}
    assert data["version"] == 1
    assert data["status"] == "fail"
    assert data["summary"] == {"files": 6, "errors": 1, "warnings": 0, "infos": 0}
    (diag,) = data["diagnostics"]
    assert set(diag) == {"file", "line", "column", "end_line", "end_column", "rule_id", "severity", "message",
                         "json_path", "hint"}
    assert diag["rule_id"] == "unknown-user"
    assert diag["json_path"] == "$.groups.deal-desk.members[2]"
    assert diag["line"] == _line_of(target, "zed")


def test_sarif_output_validates_against_the_official_schema(run, workdir: Path) -> None:
    from jsonschema import Draft4Validator, FormatChecker

    target = workdir / "policies" / "discounts.yaml"
    target.write_text(target.read_text().replace("step: 2", "step: 0", 1))
    result = run("lint", "--format", "sarif", "policies")
    assert result.exit_code == 1
    sarif = json.loads(result.stdout)
    schema = json.loads(SARIF_SCHEMA.read_text())
    errors = list(Draft4Validator(schema, format_checker=FormatChecker()).iter_errors(sarif))
    assert errors == []
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["step-below-one"]
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == _line_of(target, "step: 0")


def test_sarif_uris_are_percent_encoded(run, workdir: Path) -> None:
    from jsonschema import Draft4Validator, FormatChecker

    (workdir / "policies" / "späť rules.yaml").write_text("rules:\n  - {id: odd, when: 'net_total > 0', "
                                                          "approvers: [frank], chain: finance, step: 0}\n")
    result = run("lint", "--format", "sarif", "policies")
    sarif = json.loads(result.stdout)
    checker = FormatChecker()
    assert "uri-reference" in checker.checkers  # the format is really checked (rfc3986-validator installed)
    schema = json.loads(SARIF_SCHEMA.read_text())
    assert list(Draft4Validator(schema, format_checker=checker).iter_errors(sarif)) == []
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert "policies/sp%C3%A4%C5%A5%20rules.yaml" in uris


def test_clean_sarif_also_validates(run, workdir: Path) -> None:
    from jsonschema import Draft4Validator, FormatChecker

    result = run("lint", "--format", "sarif", "policies")
    assert result.exit_code == 0
    schema = json.loads(SARIF_SCHEMA.read_text())
    assert list(Draft4Validator(schema, format_checker=FormatChecker()).iter_errors(json.loads(result.stdout))) == []


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        ("broken.yaml", b"users:\n  alice: {name: Alice\n  bob: x\n", 3, "invalid YAML"),
        ("broken.toml", b"[chains.x]\norder = = 1\n", 2, "invalid TOML"),
        ("empty.yaml", b"   \n", 1, "file is empty"),
        ("list.yaml", b"- a\n- b\n", 1, "top level is a list"),
        ("latin1.yaml", "users:\n  jos\u00e9: {}\n".encode("latin-1"), 2, "not valid UTF-8"),
        ("dupkey.yaml", b"chains:\n  a: {order: 1}\n  a: {order: 2}\n", 3, "duplicate key"),
    ],
)
def test_unreadable_files_give_one_located_line(run, workdir: Path, name: str, content: bytes, line: int,
                                                message: str) -> None:
    (workdir / "policies" / name).write_bytes(content)
    result = run("lint", "policies")
    assert result.exit_code == 1
    lines = [ln for ln in result.stdout.splitlines() if "parse-error" in ln]
    assert len(lines) == 1
    assert lines[0].startswith(f"policies/{name}:{line}:")
    assert message in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_unknown_field_points_at_the_key(run, workdir: Path) -> None:
    target = workdir / "policies" / "discounts.yaml"
    target.write_text(target.read_text().replace("    chain: discount\n    step: 3\n",
                                                 "    chain: discount\n    stpe: 4\n    step: 3\n"))
    result = run("lint", "--format", "json", "policies")
    diag = json.loads(result.stdout)["diagnostics"][0]
    assert diag["rule_id"] == "schema"
    assert "unknown field 'stpe'" in diag["message"]
    assert diag["line"] == _line_of(target, "stpe")
    assert diag["column"] == 5


def test_warnings_fail_only_with_fail_level_warning(run, workdir: Path) -> None:
    target = workdir / "policies" / "org.yaml"
    # A group nothing uses is a warning.
    text = target.read_text().replace("\n# May revoke", "  procurement: {members: [dan]}\n\n# May revoke")
    target.write_text(text)
    result = run("lint", "policies")
    assert result.exit_code == 0, result.stdout
    assert "unused-definition" in result.stdout
    assert "'procurement'" in result.stdout
    assert run("lint", "--fail-level", "warning", "policies").exit_code == 1


def test_rules_lists_every_check(run) -> None:
    from cpq_cli.lint import CHECKS

    result = run("rules")
    assert result.exit_code == 0
    for check_id in CHECKS:
        assert check_id in result.stdout
    explained = run("rules", "unknown-approver")
    assert "did you mean" in explained.stdout


def test_missing_path_and_unknown_check_are_usage_errors(run, workdir: Path) -> None:
    missing = run("lint", "nope")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("cpq: error: nope does not exist")
    unknown = run("lint", "--select", "bogus", "policies")
    assert unknown.exit_code == 2
    assert "bogus" in unknown.stderr


def test_no_policy_dir_is_a_configuration_error(run, tmp_path: Path) -> None:
    result = run("lint", cwd=tmp_path)
    assert result.exit_code == 2
    assert "no policy directory found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_quote_validates_against_the_schema(run, workdir: Path) -> None:
    good = run("check-quote", "examples/quotes")
    assert good.exit_code == 0, good.stdout
    bad = workdir / "bad.json"
    data = json.loads((workdir / "examples/quotes/Q-1002-manager-discount.json").read_text())
    data["lines"][1]["quantity"] = -3
    bad.write_text(json.dumps(data, indent=2))
    result = run("lint", "--quote", "bad.json", "--format", "json")
    assert result.exit_code == 1
    (diag,) = json.loads(result.stdout)["diagnostics"]
    assert diag["json_path"] == "$.lines[1].quantity"
    assert diag["line"] == _line_of(bad, "-3")


def test_version(run) -> None:
    from cpq_cli import __version__

    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"cpq {__version__}"


def test_an_unreadable_file_does_not_cascade_into_reference_errors(run, workdir: Path) -> None:
    target = workdir / "policies" / "org.yaml"
    target.write_text(target.read_text() + "oops: [\n")
    result = run("lint", "--format", "json", "policies")
    assert result.exit_code == 1
    rule_ids = {d["rule_id"] for d in json.loads(result.stdout)["diagnostics"]}
    assert rule_ids == {"parse-error"}


def test_missing_field_hints_describe_the_field(run, tmp_path: Path) -> None:
    (tmp_path / "q.json").write_text('{"id": "Q-1"}')
    result = run("check-quote", "--format", "json", str(tmp_path / "q.json"))
    by_message = {d["message"]: d["hint"] for d in json.loads(result.stdout)["diagnostics"]}
    assert by_message["the file is missing required field 'owner'"] == "User id of the sales rep."
    assert by_message["the file is missing required field 'currency'"] is None
