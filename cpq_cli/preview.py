"""Previewing quotes: expand the arguments into quote files, route each, collect the results."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from cpq_cli.errors import ConfigError, InputError
from cpq_cli.paths import display_path
from cpq_cli.quote import Quote, load_quote
from cpq_cli.routing import ApprovalPath, CompiledPolicy, route


class PreviewResult(NamedTuple):
    file: str
    quote: Quote | None
    path: ApprovalPath | None
    error: str | None = None


def expand_quote_args(args: list[str]) -> list[Path]:
    """Files, directories (every *.json below) and glob patterns, in a stable order, each once."""
    found: list[Path] = []
    keys: list[str] = []  # os.path.abspath of each, to name each file once
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            top = os.path.abspath(path)  # once, not once per file: a folder's files are below it
            for parts in json_files_below(str(path)):
                found.append(path.joinpath(*parts))
                keys.append(os.path.join(top, *parts))
            continue
        if path.is_file():
            matches = [path]
        elif glob.has_magic(arg):
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True) if Path(m).is_file())
            if not matches:
                raise ConfigError(f"no quote files match {arg!r}")
        else:
            raise ConfigError(f"quote file {arg} does not exist")
        found.extend(matches)
        keys.extend(map(os.path.abspath, matches))
    seen: set[str] = set()
    unique = []
    for p, key in zip(found, keys, strict=True):
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def json_files_below(top: str) -> list[tuple[str, ...]]:
    """What `sorted(p for p in Path(top).rglob("*.json") if p.is_file())` finds, as each file's
    parts below `top`, in the same order: links to files count, links to folders are not
    followed, an unreadable folder is passed over. Five times quicker, for folders of thousands."""
    found: list[tuple[str, ...]] = []

    def walk(directory: str, parts: tuple[str, ...]) -> None:
        try:
            with os.scandir(directory) as scan:
                entries = list(scan)
        except PermissionError:
            return
        for entry in entries:
            name = entry.name
            try:  # a link to itself or through a file: neither, as Path.is_file and rglob say
                file = name.endswith(".json") and entry.is_file()
                folder = not file and entry.is_dir() and not entry.is_symlink()
            except OSError:
                file = folder = False
            if file:
                found.append((*parts, name))
            elif folder:
                walk(entry.path, (*parts, name))

    walk(top, ())
    found.sort()  # Path order: part by part (`a/z` before `a-b/x`)
    return found


def preview_one(compiled: CompiledPolicy, path: Path, *, explain: bool = False, reasons: bool = True
                ) -> PreviewResult:
    return PreviewResult(*load_and_route(path, lambda quote, _file: route(compiled, quote, explain=explain,
                                                                           reasons=reasons)))


R = TypeVar("R")


def load_and_route(path: Path, routed: Callable[[Quote, str], R], pieces: list[str] | None = None
                   ) -> tuple[str, Quote | None, R | None, str | None]:
    """(the file as shown, its quote, routed(quote, file as shown), None), or with the error as
    preview reports it: the file's problem, or the routing error after the file's name.
    `pieces`: load_quote's."""
    shown = display_path(path)
    try:
        quote = load_quote(path, pieces)
    except InputError as exc:
        return shown, None, None, str(exc)
    try:
        return shown, quote, routed(quote, shown), None
    except InputError as exc:
        return shown, quote, None, f"{shown}: {exc}"


# Batches at least this large are spread over the CPU cores.
PARALLEL_MIN = 200


def preview_rendered(compiled: CompiledPolicy, paths: list[Path], render: Callable[[PreviewResult], Any], *,
                     explain: bool = False, reasons: bool = True, jobs: int = 1) -> Iterator[Any]:
    """`render(result)` for every quote, in order; large batches run in forked workers, so
    `render` must return plain data."""

    def work(path: Path) -> Any:
        return render(preview_one(compiled, path, explain=explain, reasons=reasons))

    return preview_map(work, paths, jobs)


def preview_map(work: Callable[[Path], R], paths: list[Path], jobs: int = 1) -> Iterator[R]:
    """`work(path)` for every path, in order; large batches run in forked workers, so `work`
    must return plain data."""
    from cpq_cli.parallel import fork_map

    if len(paths) >= PARALLEL_MIN:
        from cpq_cli.quote import expect_many

        expect_many()  # before forking: the workers inherit it
    return fork_map(work, paths, jobs, PARALLEL_MIN)
