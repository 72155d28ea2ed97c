"""Five languages: every message translated with the same placeholders, every e-mail template in
every language, the language chosen as documented, machine formats left in English."""

from __future__ import annotations

import json
import re
from io import BytesIO
from pathlib import Path
from string import Template
from typing import Any

import pytest

from cpq_cli import i18n
from cpq_cli.i18n_catalogs import extract, placeholders, po_path
from tests.helpers import set_locale
from tests.mailserver import Inbox

OTHERS = [lang for lang in i18n.LANGUAGES if lang != "en"]
TEMPLATES = Path(i18n.__file__).parent / "outbound" / "templates"


def _catalog(language: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    return {str(m.id): str(m.string) for m in read_po(BytesIO(po_path(language).read_bytes())) if m.id}


@pytest.mark.parametrize("language", OTHERS)
def test_every_message_has_a_translation_with_the_same_placeholders(language: str) -> None:
    messages = extract()
    catalog = _catalog(language)
    assert len(messages) > 150
    missing = [m for m in messages if not catalog.get(m)]
    assert not missing, f"{language}: {len(missing)} untranslated, e.g. {missing[:3]} (python -m cpq_cli.i18n_catalogs)"
    stale = sorted(set(catalog) - set(messages))
    assert not stale, f"{language}: messages no longer in the code: {stale[:3]} (python -m cpq_cli.i18n_catalogs)"
    wrong = [(m, catalog[m]) for m in messages if placeholders(catalog[m]) != placeholders(m)]
    assert not wrong, wrong[:3]
    for msgid in messages:  # every translation formats with the values its English text takes
        values = dict.fromkeys(placeholders(msgid), "x")
        catalog[msgid].format(**values)


def _template_fields(path: Path) -> set[str]:
    return {m.group("named") or m.group("braced") for m in Template.pattern.finditer(path.read_text(encoding="utf-8"))
            if m.group("named") or m.group("braced")}


@pytest.mark.parametrize("name", sorted(p.stem for p in TEMPLATES.glob("*.txt")))
@pytest.mark.parametrize("language", OTHERS)
def test_every_e_mail_template_exists_in_every_language(name: str, language: str) -> None:
    english = _template_fields(TEMPLATES / f"{name}.txt")
    translated_path = TEMPLATES / language / f"{name}.txt"
    assert translated_path.is_file(), translated_path
    translated = _template_fields(translated_path)
    money = {"currency", "net_total"}  # other languages write the amount as one formatted `net_amount`
    expected = (english - money) | ({"net_amount"} if english & money else set())
    assert translated == expected, (name, language, translated ^ expected)
    assert translated_path.read_text(encoding="utf-8").startswith("Subject: ")


def test_babel_formats_money_and_dates_as_each_language_writes_them() -> None:
    from decimal import Decimal

    amount = Decimal("148122")
    assert i18n.money(amount, "EUR", "en") == "EUR 148,122.00"
    assert i18n.money(amount, "EUR", "de") == "148.122,00\u00a0€"
    assert i18n.money(amount, "EUR", "fr") == "148\u202f122,00\u00a0€"
    assert i18n.money(Decimal(1234), "JPY", "ja") == "￥1,234"
    assert i18n.date("2026-11-24", "fr") == "24 nov. 2026"
    assert i18n.date("2026-11-24", "en") == "2026-11-24"


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


Q2 = "examples/quotes/Q-1002-manager-discount.json"


@pytest.mark.parametrize(("args", "env", "expected"), [
    (["--lang", "de"], {}, "Q-1002 eingereicht (Q-1002#1): wartend"),
    (["--lang", "fr"], {}, "Q-1002 soumis (Q-1002#1) : en attente"),
    (["--lang", "es"], {}, "Q-1002 enviada (Q-1002#1): pendiente"),
    (["--lang", "ja"], {}, "Q-1002 を提出しました（Q-1002#1）: 承認待ち"),
    ([], {"LANG": "de_DE.UTF-8"}, "Q-1002 eingereicht"),
    ([], {"LC_ALL": "ja_JP.UTF-8", "LANG": "de_DE.UTF-8"}, "Q-1002 を提出しました"),
    ([], {"LANG": "C.UTF-8"}, "Q-1002 submitted (Q-1002#1): pending"),
    ([], {"LANG": "pt_BR.UTF-8"}, "Q-1002 submitted"),
    (["--lang", "en"], {"LANG": "de_DE.UTF-8"}, "Q-1002 submitted"),
])
def test_the_cli_speaks_the_language_asked_for(run: Any, workdir: Path, args: list[str], env: dict[str, str],
                                               expected: str) -> None:
    done = _ok(run(*args, "submit", Q2, "--as", "sam", env=env))
    assert expected in done.stdout


def test_the_acting_user_s_locale_applies_unless_the_reader_chose(run: Any, workdir: Path) -> None:
    set_locale(workdir, "alice", "fr-FR")
    _ok(run("submit", Q2, "--as", "sam"))
    assert "Q-1002 : approuvé par alice" in _ok(run("approve", "Q-1002", "--as", "alice")).stdout
    _ok(run("submit", "examples/quotes/Q-1004-multi-site.json", "--as", "rita"))
    chosen = _ok(run("--lang", "de", "inbox", "--as", "alice")).stdout
    assert "Schritt" in chosen and "étape" not in chosen


def test_errors_are_one_line_in_the_reader_s_language(run: Any, workdir: Path) -> None:
    _ok(run("submit", Q2, "--as", "sam"))
    refused = run("--lang", "de", "approve", "Q-1002", "--as", "sam")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("cpq: error: sam ist Eigentümer von Q-1002 und kann es nicht genehmigen")
    assert len(refused.stderr.strip().splitlines()) == 1
    japanese = run("--lang", "ja", "status", "Q-9999")
    assert japanese.exit_code == 1 and "Q-9999 は一度も提出されていません" in japanese.stderr


def test_machine_formats_stay_in_english(run: Any, workdir: Path) -> None:
    done = json.loads(_ok(run("--lang", "ja", "submit", Q2, "--as", "sam", "--format", "json")).stdout)
    assert done["message"] == "Q-1002 submitted (Q-1002#1): pending"
    status = json.loads(_ok(run("--lang", "de", "status", "Q-1002", "--format", "json")).stdout)
    assert status["submission"]["status"] == "PENDING"
    linted = json.loads(_ok(run("--lang", "fr", "lint", "policies", "--format", "json")).stdout)
    assert linted["version"] == 1


def test_an_unknown_language_is_a_usage_error(run: Any, workdir: Path) -> None:
    from cpq_cli.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--lang", "xx", "rules"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize(("locale", "subject", "body"), [
    ("es-ES", "Aprobación solicitada: Q-1002", "Total neto: 67.700,00\u00a0€"),
    ("fr-FR", "Approbation demandée : Q-1002", "Total net : 67\u202f700,00\u00a0€"),
    ("ja-JP", "承認のお願い: Q-1002", "正味合計: €67,700.00"),
    ("de-DE", "Genehmigung angefragt: Q-1002", "Nettosumme: 67.700,00\u00a0€"),
    (None, "Approval requested: Q-1002", "Net total: EUR 67,700.00"),
])
def test_request_e_mails_are_in_the_recipient_s_language(run: Any, workdir: Path, smtp: Inbox, locale: str | None,
                                                         subject: str, body: str) -> None:
    if locale:
        set_locale(workdir, "alice", locale)
    _ok(run("submit", Q2, "--as", "sam"))
    (message,) = [m for m in smtp.messages if m["To"] == "alice@northwind.example"]
    assert subject in str(message["Subject"])
    text = message.get_content()
    assert body in text
    assert re.search(r"cpq-reply-code: [0-9a-f]{24}", text)


def test_a_reply_in_the_approver_s_language_decides(run: Any, workdir: Path, smtp: Inbox) -> None:
    from email.message import EmailMessage

    set_locale(workdir, "alice", "ja-JP")
    _ok(run("submit", Q2, "--as", "sam"))
    (request,) = [m for m in smtp.messages if m["To"] == "alice@northwind.example"]
    reply = EmailMessage()
    reply["From"] = "alice@northwind.example"
    reply["To"] = "cpq@northwind.example"
    reply["Subject"] = "Re: " + str(request["Subject"])
    reply["Message-ID"] = "<ja@x>"
    reply.set_content("承認\n問題ありません\n\n" + "".join(f"> {ln}\n" for ln in request.get_content().splitlines()))
    (workdir / "ja.eml").write_bytes(bytes(reply))
    done = json.loads(_ok(run("mail", "ingest", "ja.eml", "--format", "json")).stdout)
    assert done["messages"][0]["outcome"] == "approved"
    status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
    assert status["requests"][0]["items"][0]["comment"] == "問題ありません"


@pytest.mark.parametrize(("lang", "expected"), [
    ("de", ["Genehmigung erforderlich — 2 Regeln greifen", "148.122,00\u00a0€ netto", "Kette discount",
            "(ist 12.22)", "(Gruppe: eine Person aus lee, lena)"]),
    ("fr", ["approbation requise — 2 règles déclenchées", "148\u202f122,00\u00a0€ net", "chaîne legal"]),
    ("es", ["requiere aprobación — 2 reglas activadas", "cadena discount", "paso 1"]),
    ("ja", ["承認が必要 — 2 件のルールが該当", "チェーン discount", "ステップ 1"]),
    ("en", ["approval required — 2 rules fired", "EUR 148,122.00 net · discount 12.22%", "chain discount"]),
])
def test_the_preview_tree_speaks_the_reader_s_language(run: Any, lang: str, expected: list[str]) -> None:
    from tests.conftest import QUOTES

    shown = _ok(run("--lang", lang, "preview", str(QUOTES / "Q-1004-multi-site.json"))).stdout
    for text in expected:
        assert text in shown, (text, shown)
    envelope = json.loads(_ok(run("--lang", lang, "preview", str(QUOTES / "Q-1004-multi-site.json"),
                                  "--format", "json")).stdout)
    assert envelope["chains"][0]["steps"][0]["approvers"][0]["reasons"] == ["discount_pct > 10 (is 12.22)"]
