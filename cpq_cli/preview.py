"""Previewing quotes: expand the arguments into quote files, route each, collect the results."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cpq_cli.errors import ConfigError, InputError
from cpq_cli.quote import Quote, load_quote
from cpq_cli.routing import ApprovalPath, CompiledPolicy, route
from cpq_cli.sources import display_path


@dataclass(frozen=True)
class PreviewResult:
    file: str
    quote: Quote | None
    path: ApprovalPath | None
    error: str | None = None


def expand_quote_args(args: list[str]) -> list[Path]:
    """Files, directories (every *.json below) and glob patterns, in a stable order, each once."""
    found: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(arg):
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True) if Path(m).is_file())
            if not matches:
                raise ConfigError(f"no quote files match {arg!r}")
            found.extend(matches)
        else:
            raise ConfigError(f"quote file {arg} does not exist")
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def preview_one(compiled: CompiledPolicy, path: Path, *, explain: bool = False) -> PreviewResult:
    shown = display_path(path)
    try:
        quote = load_quote(path)
    except InputError as exc:
        return PreviewResult(shown, None, None, str(exc))
    try:
        return PreviewResult(shown, quote, route(compiled, quote, explain=explain))
    except InputError as exc:
        return PreviewResult(shown, quote, None, f"{shown}: {exc}")


def preview_many(compiled: CompiledPolicy, paths: list[Path], *, explain: bool = False
                 ) -> Iterator[PreviewResult]:
    for path in paths:
        yield preview_one(compiled, path, explain=explain)
