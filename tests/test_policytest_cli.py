"""`cpq test`: passes on the shipped tests; a broken expectation fails readably with valid JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cpq_cli.policytest import merge_patch, set_path


def test_shipped_policy_tests_pass(run, workdir: Path) -> None:
    result = run("test")
    assert result.exit_code == 0, result.stdout
    assert "13 cases: 13 passed, 0 failed" in result.stderr


def _break(workdir: Path) -> None:
    target = workdir / "policies" / "tests" / "examples.test.yaml"
    target.write_text(target.read_text().replace("        finance: {1: [frank]}\n\n  - name: thin",
                                                 "        finance: {1: [dan]}\n\n  - name: thin"))


def test_a_broken_expectation_fails_with_a_side_by_side_diff(run, workdir: Path) -> None:
    _break(workdir)
    result = run("test")
    assert result.exit_code == 1
    assert "FAIL policies/tests/examples.test.yaml :: a large deal at a modest discount goes to the CFO only" \
        in result.stdout
    assert "steps: finance step 1: expected dan, got frank" in result.stdout
    assert "expected" in result.stdout and "actual" in result.stdout
    assert "12 passed, 1 failed" in result.stderr


def test_junit_output_is_valid_xml_with_the_failure(run, workdir: Path) -> None:
    _break(workdir)
    result = run("test", "--format", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    assert root.attrib["tests"] == "13" and root.attrib["failures"] == "1"
    failures = root.findall(".//testcase/failure")
    assert len(failures) == 1
    assert "expected dan, got frank" in failures[0].attrib["message"]


JUNIT_XSD = Path(__file__).parent / "data" / "junit.xsd"


def _junit_schema() -> object:
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(JUNIT_XSD)))


def test_junit_passes_the_schema_even_with_control_characters_in_names(run, workdir: Path) -> None:
    from lxml import etree

    (workdir / "policies" / "tests" / "odd.test.yaml").write_text(
        'tests:\n  - name: "bell \\a, escape \\e, form feed \\f"\n'
        "    quote: ../../examples/quotes/Q-1001-standard.json\n"
        "    expect: {status: approval_required}\n")
    result = run("test", "--format", "junit")
    assert result.exit_code == 1
    document = etree.fromstring(result.stdout.encode())  # well-formed XML 1.0
    schema = _junit_schema()
    assert schema.validate(document), schema.error_log  # type: ignore[attr-defined]
    names = [case.get("name") for case in document.iter("testcase")]
    assert "bell \\x07, escape \\x1b, form feed \\x0c" in names


def test_junit_can_be_written_to_a_file(run, workdir: Path) -> None:
    result = run("test", "--format", "junit", "--output", "reports/policy.xml")
    assert result.exit_code == 0
    assert ET.parse(workdir / "reports" / "policy.xml").getroot().attrib["failures"] == "0"


def test_json_report_and_k_filter(run, workdir: Path) -> None:
    result = run("test", "--format", "json", "-k", "partner")
    data = json.loads(result.stdout)
    assert data["summary"] == {"cases": 2, "passed": 2, "failed": 0}
    assert all("partner" in c["name"] for c in data["cases"])
    assert run("test", "-k", "no-such-case").exit_code == 1


def test_a_malformed_test_file_is_a_failure_not_a_crash(run, workdir: Path) -> None:
    (workdir / "policies" / "tests" / "bad.test.yaml").write_text("tests:\n  - name: x\n    expect: {}\n")
    result = run("test")
    assert result.exit_code == 1
    assert "FAIL policies/tests/bad.test.yaml :: (file)" in result.stdout


def test_set_paths_and_merge_patch() -> None:
    data = {"a": {"b": 1}, "lines": [{"x": 1}, {"x": 2}]}
    set_path(data, "lines[*].x", 9)
    set_path(data, "a.c", 2)
    set_path(data, "lines[0].y", "z")
    assert data == {"a": {"b": 1, "c": 2}, "lines": [{"x": 9, "y": "z"}, {"x": 9}]}
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": None, "b": {"c": 5}}) == {"b": {"c": 5, "d": 3}}
    from cpq_cli.errors import InputError

    with pytest.raises(InputError):
        set_path(data, "lines[7].x", 1)
    with pytest.raises(InputError):
        set_path(data, "a..b", 1)
