"""How file paths are shown to people, and where the cache lives."""

from __future__ import annotations

import os
from pathlib import Path


def display_path(path: Path) -> str:
    """Paths relative to the working directory where possible: shorter, and stable in CI logs.

    Pure string work (no symlink resolution): it runs once per file in batches of thousands.
    """
    if not path.is_absolute() and ".." not in path.parts:
        return path.as_posix()
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return Path(absolute[len(cwd.rstrip(os.sep)) + 1:]).as_posix()
    return Path(absolute).as_posix() if ".." in path.parts else path.as_posix()


def cache_dir() -> Path | None:
    """Where cpq keeps what it can rebuild (parsed policies, compiled catalogs): `CPQ_CACHE_DIR`,
    else `$XDG_CACHE_HOME/cpq`, else `~/.cache/cpq`; None with `CPQ_NO_CACHE=1`."""
    if os.environ.get("CPQ_NO_CACHE"):
        return None
    if os.environ.get("CPQ_CACHE_DIR"):
        return Path(os.environ["CPQ_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cpq"
