"""Ids that become file names: one check, and every write proven to land inside its folder.

Quote, account and line ids are validated when a quote is read (`quote.ID_PATTERN`); the ids
built from them (orders, amendments, contracts) pass through `place()` before anything is
written, so an id that is a path (`x/../../ESCAPED`), starts with a dot, or holds a control
character is refused even if it reached the journal some other way, and a folder entry that is
a symlink pointing elsewhere is refused too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cpq_cli.errors import InputError

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@#+-]{0,199}")


def place(directory: Path, ident: str, extension: str, what: str = "id") -> Path:
    """The path of the file for `ident` in `directory`, or InputError (exit 1) if it is no file name."""
    if not SAFE.fullmatch(ident):
        raise InputError(f"{what} {ident!r} cannot be a file name: it must start with a letter or digit and use "
                         "letters, digits and . _ : @ # + - only (at most 200)",
                         hint="fix the id in the quote; ids never contain / \\ or control characters")
    path = directory / f"{ident}.{extension}"
    base = os.path.realpath(directory)
    target = os.path.realpath(path)
    if os.path.dirname(target) != base:
        raise InputError(f"{path} would be written outside {directory} (a symbolic link?)",
                         hint="remove the link, or choose another folder with --out")
    return path
