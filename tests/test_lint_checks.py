"""Every lint check, table-driven: a fixture that trips it (on the marked line) and the clean base."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpq_cli.lint import CHECKS, lint_policy_set
from cpq_cli.policy.load import load_policy_set

BASE_YAML = """\
users:
  ann: {name: Ann, email: ann@x.example}
  bob: {name: Bob, email: bob@x.example, manager: ann}
  cy: {name: Cy, email: cy@x.example, manager: bob}
groups:
  team:
    members: [ann, bob]
    require: any
variables:
  hw: {function: max, field: discount_pct, where: "family == 'Hardware'"}
rules:
  - id: r1
    when: "discount_pct > 10 and hw > 5"
    approvers: [owner.manager, team]
    chain: main
    step: 1
    effective: {from: 2026-01-01, until: 2026-12-31}
    escalate: {after: 48h, to: ann}
admins: [ann]
"""

BASE_TOML = """\
[chains.main]
order = 1

[[rules]]
id = "r2"
when = "payment_terms != 'Net 30'"
approvers = ["bob"]
chain = "main"
step = 2
"""

# (check id, file, text to replace, replacement with the marker «» on the line the finding must name)
CASES = [
    ("duplicate-id", "b.toml", 'id = "r2"', 'id = "r1"  #«»'),
    ("duplicate-id", "b.toml", "[chains.main]",
     '[users.ann]  #«»\nname = "Ann 2"\nemail = "a2@x.example"\n\n[chains.main]'),
    ("reserved-id", "a.yaml", "  cy: {name", "  auto: {name: Auto, email: a@x.example}  #«»\n  cy: {name"),
    ("reserved-id", "a.yaml", "groups:\n", "groups:\n  bob: {members: [ann]}  #«»\n"),
    ("unknown-user", "a.yaml", "manager: ann}", "manager: anne}  #«»"),
    ("unknown-user", "a.yaml", "members: [ann, bob]", "members: [ann, bobby]  #«»"),
    ("unknown-user", "a.yaml", "admins: [ann]", "admins: [zed]  #«»"),
    ("unknown-user", "a.yaml", "to: ann}", "to: nobody}  #«»"),
    ("unknown-approver", "a.yaml", "approvers: [owner.manager, team]", "approvers: [owner.boss, team]  #«»"),
    ("unknown-approver", "b.toml", 'approvers = ["bob"]', 'approvers = ["bobo"]  #«»'),
    ("unknown-chain", "b.toml", 'chain = "main"', 'chain = "mian"  #«»'),
    ("manager-cycle", "a.yaml", "  ann: {name: Ann, email: ann@x.example}",
     "  ann: {name: Ann, email: ann@x.example, manager: cy}  #«»"),
    ("inactive-approver", "a.yaml", "  bob: {name: Bob, email: bob@x.example, manager: ann}",
     "  bob: {name: Bob, email: bob@x.example, manager: ann, active: false}"),
    ("expr-syntax", "a.yaml", 'when: "discount_pct > 10 and hw > 5"', 'when: "discount_pct >> 10"  #«»'),
    ("expr-syntax", "b.toml", "when = \"payment_terms != 'Net 30'\"", "when = \"__import__('os')\"  #«»"),
    ("expr-unknown-name", "a.yaml", 'when: "discount_pct > 10 and hw > 5"', 'when: "discount_pc > 10"  #«»'),
    ("unknown-line-field", "a.yaml", "where: \"family == 'Hardware'\"}", "where: \"familly == 'Hardware'\"}  #«»"),
    ("variable-shadows-field", "a.yaml", "  hw: {function", "  net_total: {function: sum, field: net_total}  #«»\n"
     "  hw: {function"),
    ("empty-group", "a.yaml", "members: [ann, bob]", "members: []  #«»"),
    ("group-min-too-large", "a.yaml", "    require: any", "    require: {min: 3}  #«»"),
    ("group-of-one", "a.yaml", "members: [ann, bob]", "members: [ann]  #«»"),
    ("duplicate-member", "a.yaml", "members: [ann, bob]", "members: [ann, bob, ann]  #«»"),
    ("no-approvers", "b.toml", 'approvers = ["bob"]', "approvers = []  #«»"),
    ("step-below-one", "b.toml", "step = 2", "step = 0  #«»"),
    ("effective-window", "a.yaml", "effective: {from: 2026-01-01, until: 2026-12-31}",
     "effective: {from: 2026-01-01, until: 2025-12-31}  #«»"),
    ("unused-definition", "b.toml", "[chains.main]", "[chains.spare]  #«»\norder = 9\n\n[chains.main]"),
    ("parse-error", "a.yaml", "admins: [ann]", "admins: [ann]]  #«»"),
    ("schema", "a.yaml", "    step: 1", "    step: one  #«»"),
]


def _write(tmp: Path, replace: tuple[str, str, str] | None = None) -> Path:
    files = {"a.yaml": BASE_YAML, "b.toml": BASE_TOML}
    if replace:
        name, old, new = replace
        assert old in files[name], old
        files[name] = files[name].replace(old, new, 1)
    for name, text in files.items():
        (tmp / name).write_text(text.replace("  #«»", "  # here"))
    return tmp


def _marker_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if "«»" in line:
            return number
    return None


def test_base_fixture_is_clean(tmp_path: Path) -> None:
    found = lint_policy_set(load_policy_set(_write(tmp_path)))
    assert found == []


def test_every_check_has_a_failing_fixture() -> None:
    assert set(CHECKS) <= {case[0] for case in CASES}


@pytest.mark.parametrize(("check_id", "file", "old", "new"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_check_fires_on_the_marked_line(tmp_path: Path, check_id: str, file: str, old: str, new: str) -> None:
    _write(tmp_path, (file, old, new))
    found = lint_policy_set(load_policy_set(tmp_path))
    hits = [d for d in found if d.rule_id == check_id]
    assert hits, f"{check_id} did not fire; got {[(d.rule_id, d.message) for d in found]}"
    expected_line = _marker_line(new)
    if expected_line is not None:
        text = (BASE_YAML if file == "a.yaml" else BASE_TOML).replace(old, new, 1)
        line = _marker_line(text)
        assert any(d.file.endswith(file) and d.line == line for d in hits), [(d.file, d.line, d.message)
                                                                             for d in hits]
    for d in hits:
        assert d.message and d.severity.value in ("error", "warning")


def test_findings_inside_expressions_point_at_the_character(tmp_path: Path) -> None:
    _write(tmp_path, ("a.yaml", 'when: "discount_pct > 10 and hw > 5"',
                      'when: "discount_pct > 10 and hw > 5 and line_cout > 1"'))
    (hit,) = [d for d in lint_policy_set(load_policy_set(tmp_path)) if d.rule_id == "expr-unknown-name"]
    line_text = (tmp_path / "a.yaml").read_text().splitlines()[hit.line - 1]  # type: ignore[operator]
    assert line_text[hit.column - 1:].startswith("line_cout")  # type: ignore[operator]
    assert hit.hint == "did you mean 'line_count'?"


def test_findings_inside_toml_expressions_point_at_the_character(tmp_path: Path) -> None:
    _write(tmp_path, ("b.toml", "when = \"payment_terms != 'Net 30'\"", "when = \"payment_term != 'Net 30'\""))
    (hit,) = [d for d in lint_policy_set(load_policy_set(tmp_path)) if d.rule_id == "expr-unknown-name"]
    line_text = (tmp_path / "b.toml").read_text().splitlines()[hit.line - 1]  # type: ignore[operator]
    assert line_text[hit.column - 1:].startswith("payment_term ")  # type: ignore[operator]


def test_every_check_documents_an_example() -> None:
    for check in CHECKS.values():
        assert check.summary.endswith(".")
        assert "```" in check.example or check.example, check.id
