"""One diagnostic record for every finding, whatever produced it and however it is printed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from cpq_cli.jsonpath import JsonPath, format_json_path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1}[self]


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int | None
    column: int | None
    rule_id: str
    severity: Severity
    message: str
    json_path: JsonPath = ()
    hint: str | None = None
    end_line: int | None = field(default=None, compare=False)
    end_column: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "message": self.message,
            "json_path": format_json_path(self.json_path),
            "hint": self.hint,
        }


@dataclass(frozen=True)
class Report:
    """The result of a lint run: what was read and what was found."""

    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]

    @classmethod
    def of(cls, files: Iterable[str], diagnostics: Iterable[Diagnostic]) -> Report:
        return cls(tuple(files), tuple(sorted(set(diagnostics), key=_sort_key)))

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity is severity)

    def fails(self, fail_level: Severity) -> bool:
        return any(d.severity.rank >= fail_level.rank for d in self.diagnostics)


def _sort_key(d: Diagnostic) -> tuple[str, int, int, str, str]:
    return (d.file, d.line or 0, d.column or 0, d.rule_id, d.message)
