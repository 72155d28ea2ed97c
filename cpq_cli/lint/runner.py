"""Running lint over paths given on the command line: policy sets and quote files."""

from __future__ import annotations

from pathlib import Path

from cpq_cli.diagnostics import Diagnostic, Report, Severity
from cpq_cli.errors import ConfigError
from cpq_cli.i18n import english
from cpq_cli.paths import display_path
from cpq_cli.policy.files import discover, is_policy_file
from cpq_cli.policy.load import load_policy_set
from cpq_cli.sources import ParseFailure, load_document


def lint_paths(paths: list[Path], select: frozenset[str] | None = None) -> Report:
    """Each directory is one policy set; loose files given together form one set."""
    from cpq_cli.lint import lint_policy_set

    files_read: list[str] = []
    found: list[Diagnostic] = []
    loose: list[Path] = []
    for path in paths:
        if path.is_dir():
            files = discover(path)
            if not files:
                raise ConfigError(f"no policy files (*.yaml, *.yml, *.toml) in {display_path(path)}")
            files_read.extend(display_path(p) for p in files)
            found.extend(lint_policy_set(load_policy_set(path, files), select=select))
        elif path.is_file():
            if not is_policy_file(path):
                raise ConfigError(f"{display_path(path)} is not a policy file (*.yaml, *.yml, *.toml)",
                                  hint="quotes are checked with --quote or `cpq check-quote`")
            loose.append(path)
        else:
            raise ConfigError(f"{display_path(path)} does not exist")
    if loose:
        common = Path(*_common_parts(loose))
        pset = load_policy_set(common, loose)
        files_read.extend(display_path(p) for p in loose)
        found.extend(lint_policy_set(pset, select=select))
    return Report.of(files_read, found)


def _common_parts(paths: list[Path]) -> tuple[str, ...]:
    parts = [p.resolve().parent.parts for p in paths]
    common: list[str] = []
    for items in zip(*parts, strict=False):
        if len(set(items)) != 1:
            break
        common.append(items[0])
    return tuple(common) or ("/",)


def check_quote_file(path: Path) -> list[Diagnostic]:
    """Full JSON Schema validation, then the model's own checks (e.g. duplicate line ids)."""
    from cpq_cli import schemas
    from cpq_cli.quote import QuoteInvalid, parse_quote

    try:
        doc = load_document(path, "json")
    except ParseFailure as failure:
        return [failure.diagnostic]
    found = schemas.validate(doc, "quote")
    if found:
        return found
    try:
        parse_quote(doc.data, doc.path, doc)
    except QuoteInvalid as exc:
        return [Diagnostic(exc.file, exc.line, exc.column, "quote", Severity.ERROR, exc.detail, exc.json_path,
                           english(exc.hint) if exc.hint else None)]
    return []


def check_quotes(paths: list[Path]) -> Report:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.json")))
        elif path.exists():
            files.append(path)
        else:
            raise ConfigError(f"{display_path(path)} does not exist")
    found: list[Diagnostic] = []
    for file in files:
        found.extend(check_quote_file(file))
    return Report.of([display_path(f) for f in files], found)
