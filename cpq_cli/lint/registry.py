"""Lint checks as small units: an id, a default severity, a one-line summary, a docstring example."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cpq_cli.diagnostics import Diagnostic, Severity
from cpq_cli.jsonpath import JsonPath
from cpq_cli.policy.load import PolicySet
from cpq_cli.policy.model import Origin, Policy


@dataclass(frozen=True)
class Check:
    id: str
    severity: Severity
    summary: str
    run: Callable[[LintContext], Iterator[Diagnostic]]
    # Resolves references across files: meaningless while a file of the set cannot be read.
    cross_file: bool = True

    @property
    def example(self) -> str:
        return inspect.cleandoc(self.run.__doc__ or "")


CHECKS: dict[str, Check] = {}

# Findings made outside the checks (reading and schema validation) are listed with them.
BUILTIN: dict[str, tuple[Severity, str]] = {
    "parse-error": (Severity.ERROR, "A file is not valid YAML/TOML/JSON, is empty, not UTF-8, or not a mapping."),
    "schema": (Severity.ERROR, "A value does not match the JSON Schema of its file format."),
}


def check(check_id: str, severity: Severity, summary: str, *, cross_file: bool = True
          ) -> Callable[[Callable[[LintContext], Iterator[Diagnostic]]], Callable[[LintContext], Iterator[Diagnostic]]]:
    def register(fn: Callable[[LintContext], Iterator[Diagnostic]]) -> Callable[[LintContext], Iterator[Diagnostic]]:
        if check_id in CHECKS:
            raise RuntimeError(f"duplicate lint check id {check_id}")
        CHECKS[check_id] = Check(check_id, severity, summary, fn, cross_file)
        return fn

    return register


@dataclass
class LintContext:
    pset: PolicySet

    @property
    def policy(self) -> Policy:
        return self.pset.policy

    def finding(self, check_id: str, origin: Origin, suffix: JsonPath, message: str,
                hint: str | None = None, *, key: bool = False) -> Diagnostic:
        path = (*origin.path, *suffix)
        doc = self.pset.docs.get(origin.file)
        pos = doc.locate(path, key=key) if doc else None
        line, col = pos if pos else (None, None)
        return Diagnostic(origin.file, line, col, check_id, CHECKS[check_id].severity, message, path, hint)

    def expression_finding(self, check_id: str, origin: Origin, suffix: JsonPath, message: str,
                           line: int, column: int, hint: str | None = None) -> Diagnostic:
        """A finding inside an expression string: point at the character, not just the string."""
        base = self.finding(check_id, origin, suffix, message, hint)
        doc = self.pset.docs.get(origin.file)
        if doc is None or base.line is None or base.column is None:
            return base
        lines = doc.text.splitlines()
        text = lines[base.line - 1] if base.line <= len(lines) else ""
        start = base.column - 1
        if doc.kind == "toml":  # the position is the key's; the string starts after `=`
            eq = text.find("=", start)
            start = eq + 1 if eq >= 0 else start
            while start < len(text) and text[start] == " ":
                start += 1
        head = text[start:start + 3]
        if head[:1] in ("|", ">") and doc.kind == "yaml":  # block scalar: the text starts below
            target = base.line + line
            body = lines[target - 1] if target <= len(lines) else ""
            col = len(body) - len(body.lstrip()) + column
            return _moved(base, target, col)
        if head in ('"""', "'''"):
            return _moved(base, base.line + line - 1, column if line > 1 else start + 3 + column)
        quote = 1 if head[:1] in ('"', "'") else 0
        if line > 1:
            return _moved(base, base.line + line - 1, column)
        return _moved(base, base.line, start + quote + column)


def _moved(d: Diagnostic, line: int, column: int) -> Diagnostic:
    return Diagnostic(d.file, line, column, d.rule_id, d.severity, d.message, d.json_path, d.hint)
