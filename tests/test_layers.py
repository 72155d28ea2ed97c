"""The package's layers (docs/architecture.md): imports run down, never up — lazy imports included."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "cpq_cli"

# Lower ranks never import higher ones. A module's rank is its folder's (or its own name's).
RANKS: dict[str, int] = {
    **dict.fromkeys(("errors", "i18n", "i18n_catalogs", "digest", "content_hash", "limits", "jsonpath", "paths",
                     "names", "acting", "secret", "memo",
                     "config", "filenames", "diagnostics", "sources", "schemas", "parallel", "__init__"), 0),
    **dict.fromkeys(("policy", "expressions", "quote", "routing", "lint", "preview", "policytest", "report"), 1),
    "journal": 2,
    "approvals": 3,
    "orders": 4,
    "outbound": 5,
    **dict.fromkeys(("services", "impact"), 6),
    **dict.fromkeys(("cli", "web", "docgen", "__main__"), 7),
}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cpq_cli"):
            names = [f"cpq_cli.{a.name}" for a in node.names] if node.module == "cpq_cli" else [node.module]
            found += [(node.lineno, n) for n in names if n != "cpq_cli.__version__"]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("cpq_cli")]
    return found


def test_every_module_has_a_layer() -> None:
    units = {_unit(".".join(p.relative_to(ROOT).with_suffix("").parts)) for p in PACKAGE.rglob("*.py")}
    assert units <= set(RANKS), sorted(units - set(RANKS))


def test_imports_never_run_up_the_layers() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _unit(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for line, target in _imports(path):
            unit = _unit(target)
            if unit in RANKS and RANKS[unit] > RANKS[source]:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target} ({source} -> {unit})")
    assert not upward, "\n".join(upward)


def test_no_sql_and_no_sqlite_outside_the_journal() -> None:
    """Issue 12: every statement lives in journal/."""
    import re

    statement = re.compile(r"\b(SELECT\s+[\w*(]|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b")
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "journal":
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(ROOT)}: SQL" for _ in statement.finditer(text)]
        if re.search(r"^\s*(import sqlite3|from sqlite3)", text, re.M):
            offenders.append(f"{path.relative_to(ROOT)}: imports sqlite3")
        if ".execute(" in text:
            offenders.append(f"{path.relative_to(ROOT)}: calls execute()")
    assert not offenders, "\n".join(offenders)
