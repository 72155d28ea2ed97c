"""Keeping the gettext catalogs in step with the code (a maintainer's tool, never run by cpq itself).

    python -m cpq_cli.i18n_catalogs          # add new messages to every catalog, drop gone ones, list gaps

Messages are the literal first arguments of `t(...)` in the package's Python files and web
templates. `tests/test_i18n.py` checks that every one has a translation in every language with
the same placeholders, so a message added without its translations fails the tests.
"""

import ast
import datetime as dt
import re
import sys
from pathlib import Path

from cpq_cli.i18n import CATALOGS, LANGUAGES, PLACEHOLDER

PACKAGE = Path(__file__).parent
_TEMPLATE_CALL = re.compile(r"""\bt\(\s*"((?:[^"\\]|\\.)*)"|\bt\(\s*'((?:[^'\\]|\\.)*)'""")


def extract() -> dict[str, list[str]]:
    """msgid -> where it is used (`path:line`), from the Python sources and the web templates."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            named_t = (isinstance(node, ast.Call) and (
                (isinstance(node.func, ast.Name) and node.func.id == "t")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "t"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "i18n")))
            if (named_t and isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                found.setdefault(node.args[0].value, []).append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    for path in sorted((PACKAGE / "web" / "templates").glob("*.html")):
        text = path.read_text(encoding="utf-8")
        for match in _TEMPLATE_CALL.finditer(text):
            raw = match.group(1) if match.group(1) is not None else match.group(2)
            msgid = raw.replace('\\"', '"').replace("\\'", "'")
            line = text.count("\n", 0, match.start()) + 1
            found.setdefault(msgid, []).append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    return found


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def po_path(language: str) -> Path:
    return CATALOGS / language / "LC_MESSAGES" / "cpq.po"


def update(translations: dict[str, dict[str, str]] | None = None) -> dict[str, list[str]]:
    """Rewrite each language's catalog: every message of the code, in order of first use, with its
    translation (kept, or taken from `translations[lang]`); returns the messages still untranslated."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    messages = extract()
    missing: dict[str, list[str]] = {}
    for language in LANGUAGES[1:]:
        path = po_path(language)
        known: dict[str, str] = {}
        if path.exists():
            with path.open("rb") as fh:
                known = {str(m.id): str(m.string) for m in read_po(fh) if m.id and m.string}
        known.update((translations or {}).get(language, {}))
        fixed = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)  # no churn in the files from one update to the next
        catalog = Catalog(locale=language, project="cpq", domain="cpq", charset="utf-8", fuzzy=False,
                          creation_date=fixed, revision_date=fixed,
                          copyright_holder="the cpq authors", msgid_bugs_address="", last_translator="the cpq authors",
                          language_team=f"cpq {language}")
        for msgid, where in messages.items():
            text = known.get(msgid, "")
            catalog.add(msgid, text, locations=[(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])) for w in where],
                        flags=("python-brace-format",) if placeholders(msgid) else ())
            if not text:
                missing.setdefault(language, []).append(msgid)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, sort_output=False, no_location=False)
    return missing


def main() -> None:
    missing = update()
    for language, ids in missing.items():
        print(f"{language}: {len(ids)} message(s) without a translation", file=sys.stderr)
        for msgid in ids[:20]:
            print(f"  {msgid}", file=sys.stderr)
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
