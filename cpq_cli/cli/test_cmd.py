"""`cpq test`: run the declarative policy tests."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

TEST_HELP = """\
Run declarative policy tests: *.test.yaml files, each case naming a quote file, optional
changes (`set:` by path, or `patch:` as a JSON merge patch), and the expected status,
fired rules and approvers per chain step (any order within a step).

PATHS are test files or directories searched for *.test.yaml (default: the policy
directory). A failing case shows the expected and actual path side by side.

Exit codes: 0 all passed, 1 a case failed or could not run, 2 usage or configuration error.
"""


class TestFormat(StrEnum):
    text = "text"
    json = "json"
    junit = "junit"


def register(app: typer.Typer) -> None:
    app.command("test", help=TEST_HELP)(test)


def test(
    paths: list[Path] = typer.Argument(None, help="Test files or directories.", show_default=False),
    fmt: TestFormat = typer.Option(TestFormat.text, "--format", "-f", help="text, json or junit."),
    pattern: str = typer.Option(None, "-k", help="Only cases whose name contains this (or matches a glob).",
                                show_default=False),
    policies: Path = typer.Option(None, "--policies", envvar="CPQ_POLICIES", help="Policy directory.",
                                  show_default="from cpq.toml"),
    output_file: Path = typer.Option(None, "--output", "-o", help="Write the report to this file.",
                                     show_default=False),
) -> None:
    from cpq_cli.config import resolve_policy_dir
    from cpq_cli.errors import InputError
    from cpq_cli.policytest import discover_test_files, run_tests
    from cpq_cli.services.policy import compiled_policy, load_policy

    policy_dir = resolve_policy_dir(policies)
    compiled = compiled_policy(load_policy(policy_dir))
    files = discover_test_files(paths or [policy_dir])
    if not files:
        raise InputError("no policy tests found (*.test.yaml)",
                         hint="add tests next to your policies, e.g. policies/tests/discounts.test.yaml")
    outcomes = run_tests(compiled, files, pattern)
    if not outcomes:
        raise InputError(f"no test case matches -k {pattern!r}")
    if fmt is TestFormat.junit:
        from cpq_cli.report.junit import junit_xml

        _write(junit_xml(outcomes), output_file)
    elif fmt is TestFormat.json:
        _write(json.dumps(_json(outcomes), indent=2, ensure_ascii=False) + "\n", output_file)
    else:
        _text(outcomes)
    passed = sum(o.passed for o in outcomes)
    print(f"{len(outcomes)} cases: {passed} passed, {len(outcomes) - passed} failed", file=sys.stderr)
    if passed != len(outcomes):
        raise typer.Exit(1)


def _write(text: str, target: Path | None) -> None:
    if target is None:
        sys.stdout.write(text)
        return
    import os
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, target)


def _json(outcomes: list[Any]) -> dict[str, Any]:
    passed = sum(o.passed for o in outcomes)
    return {
        "version": 1,
        "summary": {"cases": len(outcomes), "passed": passed, "failed": len(outcomes) - passed},
        "cases": [{"file": o.file, "name": o.name, "passed": o.passed, "failures": list(o.failures),
                   "error": o.error, "expected": _plain(o.expected), "actual": _plain(o.actual)}
                  for o in outcomes],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _text(outcomes: list[Any]) -> None:
    from rich.columns import Columns
    from rich.markup import escape
    from rich.panel import Panel

    from cpq_cli.cli.output import console

    out = console()
    for o in outcomes:
        if o.passed:
            out.print(f"[green]PASS[/] {escape(o.file)} :: {escape(o.name)}")
            continue
        out.print(f"[bold red]FAIL[/] {escape(o.file)} :: {escape(o.name)}")
        if o.error is not None:
            out.print(f"  [red]{escape(o.error)}[/]")
            continue
        for failure in o.failures:
            out.print(f"  - {escape(failure)}")
        out.print(Columns([Panel(escape(_render(o.expected)), title="expected", expand=False),
                           Panel(escape(_render(o.actual, o.expected)), title="actual", expand=False)]))


def _render(path: dict[str, Any], keys: dict[str, Any] | None = None) -> str:
    """A compact YAML-like view of an approval path, limited to the keys the test states."""
    lines = []
    wanted = keys if keys is not None else path
    if "status" in wanted:
        lines.append(f"status: {path.get('status')}")
    if "rules" in wanted:
        lines.append("rules: " + (", ".join(path.get("rules", [])) or "(none)"))
    if "steps" in wanted:
        lines.append("steps:")
        steps = path.get("steps", {})
        if not steps:
            lines.append("  (none)")
        for chain in sorted(steps):
            for number in sorted(steps[chain]):
                lines.append(f"  {chain} {number}: {', '.join(steps[chain][number])}")
    if "error" in wanted:
        lines.append(f"error: {path.get('error', '')}")
    return "\n".join(lines)
