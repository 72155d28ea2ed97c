"""Which files make up a policy set, and its content hash. Light: the cached path needs only this."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

POLICY_SUFFIXES = (".yaml", ".yml", ".toml")
TEST_SUFFIXES = (".test.yaml", ".test.yml")


def is_policy_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(POLICY_SUFFIXES) and not name.endswith(TEST_SUFFIXES)


def discover(root: Path) -> list[Path]:
    """Policy files below `root`, in a stable order; policy tests and hidden folders are skipped."""
    if root.is_file():
        return [root]
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and is_policy_file(path):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def fingerprint(root: Path, paths: Iterable[Path]) -> str:
    """Names, sizes and modification times: cheap to get, and changes whenever a file is edited.
    Keys the parsed-policy cache; the content hash that approvals bind to is computed on a miss."""
    base = root if root.is_dir() else root.parent
    parts = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        rel = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name
        parts.append(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}")
    return "\n".join(parts)


def read_files(root: Path, paths: Iterable[Path]) -> tuple[list[tuple[Path, bytes]], str]:
    """The bytes of every file and the policy set's content hash (stable across machines)."""
    import hashlib

    contents: list[tuple[Path, bytes]] = []
    outer = hashlib.sha256()
    base = root if root.is_dir() else root.parent
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError:
            raw = b""
        contents.append((path, raw))
        rel = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name
        outer.update(f"{rel}\0{hashlib.sha256(raw).hexdigest()}\n".encode())
    return contents, outer.hexdigest()
