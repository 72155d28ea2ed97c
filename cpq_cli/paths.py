"""How file paths are shown to people."""

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
