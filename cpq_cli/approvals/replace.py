"""`cpq approvers replace OLD NEW`: rewrite every reference to a user in the policy files.

Only the referencing values change; every other byte of every file (comments, order, quoting,
spacing) stays as it was. References — rule approvers, group members, managers, admins and
escalation targets — come from the policy's index of mentions (`policy.references`), the same one
lint reads. The user's own definition stays (they may still submit quotes).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from cpq_cli.errors import InputError
from cpq_cli.jsonpath import JsonPath
from cpq_cli.paths import display_path
from cpq_cli.policy.files import discover
from cpq_cli.policy.references import Mention, Role
from cpq_cli.sources import ParseFailure, SourceDoc, load_document


class Edit(NamedTuple):
    path: Path
    before: str
    after: str
    references: tuple[str, ...]  # JSON paths replaced, for the report

    def diff(self) -> str:
        shown = display_path(self.path)
        return "".join(difflib.unified_diff(self.before.splitlines(keepends=True), self.after.splitlines(keepends=True),
                                            fromfile=f"a/{shown}", tofile=f"b/{shown}"))


def places(mentions: Iterable[Mention], old: str, new: str) -> dict[str, list[JsonPath]]:
    """Where each policy file names `old` (file as shown -> JSON paths), from the policy's one index of
    mentions — except `new`'s own manager: the successor cannot become their own manager."""
    found: dict[str, list[JsonPath]] = {}
    for mention in mentions:
        if mention.name == old and not (mention.role is Role.MANAGER and mention.holder == new):
            found.setdefault(mention.file, []).append(mention.path)
    return found


def _token(old: str) -> re.Pattern[str]:
    # The id as a whole scalar: bare or quoted, not part of a longer name.
    return re.compile(r"""(?<![A-Za-z0-9_.:-])(["']?)""" + re.escape(old) + r"""\1(?![A-Za-z0-9_.-])""")


def _replace_at(lines: list[str], line: int, column: int, old: str, new: str, first_only_after: bool) -> bool:
    """Replace the scalar `old` starting at (line, column), or the first one after that point."""
    text = lines[line - 1]
    pattern = _token(old)
    start = column - 1
    match = pattern.match(text, start) if not first_only_after else pattern.search(text, start)
    if match is None:
        return False
    quote = match.group(1)
    lines[line - 1] = text[: match.start()] + f"{quote}{new}{quote}" + text[match.end():]
    return True


def plan_file(path: Path, doc: SourceDoc, old: str, new: str, refs: list[JsonPath]) -> Edit | None:
    """The file with `old` replaced by `new` at each of `refs`, every other byte as it was."""
    if not refs:
        return None
    lines = doc.text.splitlines(keepends=True)
    for ref in sorted(refs, key=lambda r: doc.locate(r) or (0, 0), reverse=True):
        pos = doc.locate(ref)
        if pos is None:
            raise InputError(f"{doc.path}: cannot locate {ref} to rewrite it")
        # YAML knows each value's exact column. TOML knows the key's line: the value follows on it
        # (or on the next lines of a multi-line array), so take the next occurrence from there.
        exact = doc.kind == "yaml" and doc.locate(ref) != doc.locate(ref[:-1])
        line, column = pos
        done = False
        for offset in range(0, 50):
            if line + offset > len(lines):
                break
            if _replace_at(lines, line + offset, column if offset == 0 else 1, old, new, not exact or offset > 0):
                done = True
                break
            if exact:
                break
        if not done:
            raise InputError(f"{doc.path}:{line}: cannot find {old!r} to rewrite it",
                             hint="edit this reference by hand")
    return Edit(path, doc.text, "".join(lines), tuple(str(r) for r in refs))


def plan(root: Path, old: str, new: str, mentions: Iterable[Mention]) -> list[Edit]:
    """The edits that replace `old` by `new` wherever the policy set at `root` names them."""
    edits = []
    where = places(mentions, old, new)
    files = {display_path(p): p for p in discover(root)}
    for shown in sorted(where):
        path = files.get(shown)
        if path is None:
            raise InputError(f"{shown} is not a file of the policy set at {display_path(root)}",
                             hint="run the command from where the policy set was loaded")
        try:
            doc = load_document(path)
        except ParseFailure as failure:
            raise InputError(f"{failure.diagnostic.file}: {failure.diagnostic.message}",
                             hint="fix the file first (cpq lint)") from None
        edit = plan_file(path, doc, old, new, where[shown])
        if edit is not None:
            edits.append(edit)
    return edits


def check_result(root: Path, edits: list[Edit], old: str, new: str) -> None:
    """Lint the policy set as it would be after the edits (in a scratch copy); refuse on any error.

    So a replacement never leaves a set that every command then refuses (a manager cycle, a group
    that lists the successor twice).
    """
    import shutil
    import tempfile

    from cpq_cli.diagnostics import Severity
    from cpq_cli.lint.runner import lint_paths

    with tempfile.TemporaryDirectory(prefix="cpq-replace-") as scratch:
        copy = Path(scratch) / root.name
        shutil.copytree(root, copy, symlinks=False)
        for edit in edits:
            (copy / edit.path.relative_to(root)).write_text(edit.after, encoding="utf-8", newline="")
        report = lint_paths([copy])
    errors = [d for d in report.diagnostics if d.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        where = Path(first.file).name + (f":{first.line}" if first.line else "")
        raise InputError(f"replacing {old} with {new} would break the policy set ({where}: {first.message}; "
                         f"{len(errors)} error(s) in all); nothing was written",
                         hint="fix that reference by hand (e.g. drop the duplicate member), then replace again")


def apply(edits: list[Edit]) -> None:
    """Write every file atomically: all temp files first, then the renames, so a failure while
    writing leaves every file as it was (and the temp files are removed)."""
    import os
    import tempfile

    temps: list[tuple[str, Path]] = []
    try:
        for edit in edits:
            fd, tmp = tempfile.mkstemp(dir=edit.path.parent, prefix=f".{edit.path.name}.")
            temps.append((tmp, edit.path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(edit.after)
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, target in temps:
        os.replace(tmp, target)
