"""What people read, in their language: English, Spanish, French, Japanese or German.

Code marks a message with `t("{actor} has no open request on {quote}", actor=..., quote=...)`.
That makes a `Message` — the English text is its id, the values are named — which becomes text
only when shown, in the language of whoever reads it: the CLI's (`--lang`, else `LANGUAGE` /
`LC_ALL` / `LC_MESSAGES` / `LANG`), an e-mail recipient's or a web visitor's (their `locale` in
the policy). English needs nothing loaded; another language loads its gettext catalog
(`cpq_cli/locale/<lang>/LC_MESSAGES/cpq.po`, compiled on first use and cached) and Babel, for
numbers, money and dates as that language writes them (`148.122,00 €`, `24 nov. 2026`).

Machine formats — JSON, SARIF, JUnit, UBL, lint ids, the journal — never go through here.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "es", "fr", "ja", "de")
DEFAULT = "en"
LOCALES = {"en": "en_US", "es": "es_ES", "fr": "fr_FR", "ja": "ja_JP", "de": "de_DE"}  # for Babel's formats
CATALOGS = Path(__file__).parent / "locale"
PLACEHOLDER = re.compile(r"\{(\w+)(?:![rsa])?(?::[^{}]*)?\}")

_language: ContextVar[str] = ContextVar("cpq_language", default=DEFAULT)
_chosen: ContextVar[bool] = ContextVar("cpq_language_chosen", default=False)  # by --lang or the environment
_catalogs: dict[str, dict[str, str]] = {}


def language_of(tag: str | None) -> str | None:
    """The supported language a locale tag names (`de-DE`, `ja_JP.UTF-8`, `fr`), or None."""
    if not tag:
        return None
    head = re.split(r"[-_.@]", tag.strip(), maxsplit=1)[0].lower()
    return head if head in LANGUAGES else None


def from_environment() -> str | None:
    """The language the environment asks for, as gettext reads it (None for C/POSIX or unsupported)."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        for tag in value.split(":"):
            found = language_of(tag)
            if found is not None:
                return found
        if value:
            return None  # the first variable set decides, as in gettext (LANGUAGE aside, which lists)
    return None


def use(language: str | None, *, chosen: bool = True) -> None:
    """Show messages in `language` from now on (in this context: a command, a web request).

    `chosen`: the reader asked for it (`--lang`, the environment); a user's `locale` in the policy
    applies only when nobody chose (`prefer`).
    """
    _language.set(language if language in LANGUAGES else DEFAULT)
    _chosen.set(chosen and language in LANGUAGES)


def prefer(locale: str | None) -> None:
    """The acting user's own language, unless the reader chose one."""
    found = language_of(locale)
    if found is not None and not _chosen.get():
        _language.set(found)


def current() -> str:
    return _language.get()


class Message:
    """A message to show: its English text (the catalog id) and its named values."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, params: dict[str, Any]) -> None:
        self.msgid, self.params = msgid, params

    def render(self, language: str | None = None) -> str:
        lang = language or current()
        text = self.msgid if lang == DEFAULT else translate(self.msgid, lang)
        values = {k: v.render(lang) if isinstance(v, Message) else v for k, v in self.params.items()}
        return text.format(**values) if values else text

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"t({self.msgid!r}, **{self.params!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(self) == other
        return isinstance(other, Message) and (self.msgid, self.params) == (other.msgid, other.params)

    def __hash__(self) -> int:
        return hash(self.msgid)

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)


Text = str | Message  # what a message field holds: plain text, or a message shown in the reader's language


def english(text: Text) -> str:
    """The text in English: what machine formats (JSON, the journal, logs) carry."""
    return text.render(DEFAULT) if isinstance(text, Message) else text


def t(msgid: str, /, **params: Any) -> Message:
    """Mark a message for translation; `{name}` placeholders are filled from `params` when shown."""
    return Message(msgid, params)


def status_word(status: str) -> Message:
    """A workflow status as a word of the sentence it goes in (`pending`, `approved` …)."""
    words = {
        "PENDING": t("pending"), "APPROVED": t("approved"), "REJECTED": t("rejected"), "RECALLED": t("recalled"),
        "REVOKED": t("revoked"), "WAITING": t("waiting"), "REQUESTED": t("requested"), "CANCELLED": t("cancelled"),
        "AUTO_APPROVED": t("auto-approved"), "ESCALATED": t("escalated"), "DELEGATED": t("delegated"),
        "DRAFT": t("draft"), "ACTIVATED": t("activated"),
    }
    return words.get(str(status), t("{status}", status=str(status).lower()))


def translate(msgid: str, language: str) -> str:
    """The catalog's text for `msgid` in `language` (the English text when it has none)."""
    if language == DEFAULT:
        return msgid
    catalog = _catalogs.get(language)
    if catalog is None:
        catalog = _catalogs[language] = load_catalog(language)
    return catalog.get(msgid) or msgid


def load_catalog(language: str) -> dict[str, str]:
    """msgid -> text from the language's `.po` file: compiled once per content and cached."""
    import hashlib
    import json

    po = CATALOGS / language / "LC_MESSAGES" / "cpq.po"
    try:
        raw = po.read_bytes()
    except OSError:
        return {}
    from cpq_cli.paths import cache_dir

    directory = cache_dir()
    cached = directory / f"catalog-{language}-{hashlib.sha256(raw).hexdigest()[:16]}.json" if directory else None
    if cached is not None:
        try:
            found: dict[str, str] = json.loads(cached.read_text(encoding="utf-8"))
            return found
        except (OSError, ValueError):
            pass
    catalog = parse_po(raw)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(f".{cached.name}.{os.getpid()}")
            tmp.write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, cached)
        except OSError:
            pass
    return catalog


def parse_po(raw: bytes) -> dict[str, str]:
    """The translated, non-fuzzy messages of a `.po` file (read by Babel)."""
    from io import BytesIO

    from babel.messages.pofile import read_po

    catalog = read_po(BytesIO(raw))
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


# ------------------------------------------------------------------------------------ formats


def money(amount: Decimal, currency: str, language: str | None = None) -> str:
    """An amount as the language writes money: `EUR 148,122.00` (English, as cpq always printed it),
    `148.122,00 €` (German), `148 122,00 €` (French), `€148,122.00`-style for the others."""
    lang = language or current()
    if lang == DEFAULT:
        return f"{currency} {amount:,.2f}"
    from babel.numbers import format_currency

    return str(format_currency(amount, currency, locale=LOCALES[lang]))


def number(value: Decimal | int, language: str | None = None, *, places: int | None = None) -> str:
    lang = language or current()
    if lang == DEFAULT:
        return f"{value:,.{places}f}" if places is not None else f"{value:,}"
    from babel.numbers import format_decimal

    pattern = None if places is None else "#,##0." + "0" * places if places else "#,##0"
    return str(format_decimal(value, format=pattern, locale=LOCALES[lang]))


def date(value: dt.date | str, language: str | None = None) -> str:
    """A day as people of the language read it (`24 nov. 2026`, `2026/11/24`); ISO 8601 in English."""
    lang = language or current()
    day = dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value
    if lang == DEFAULT:
        return day.isoformat()
    from babel.dates import format_date

    return str(format_date(day, format="medium", locale=LOCALES[lang]))


def moment(value: str, language: str | None = None) -> str:
    """An ISO 8601 instant as a short date and time (UTC) in the language."""
    lang = language or current()
    instant = dt.datetime.fromisoformat(value)
    if lang == DEFAULT:
        return instant.strftime("%Y-%m-%d %H:%M UTC")
    from babel.dates import format_datetime

    return str(format_datetime(instant, format="medium", tzinfo=dt.UTC, locale=LOCALES[lang])) + " UTC"
