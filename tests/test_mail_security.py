"""E-mail decisions under attack (issue 10 hole 1, issue 11 mail items).

Requests are sent by a real local SMTP server (aiosmtpd); replies are ingested by the installed
`cpq` executable in a subprocess. Every forged or unreadable reply must decide nothing.
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import os
import sqlite3
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import installed_cpq
from tests.mailserver import Inbox
from tests.test_backoffice import _quote, _reply

Q = "Q-2001"


def _cpq(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run([installed_cpq(), *args], cwd=workdir,
                          capture_output=True, text=True, env=env, timeout=60)


def _items(workdir: Path) -> dict[str, tuple[str, str | None]]:
    conn = sqlite3.connect(workdir / ".cpq" / "journal.sqlite3")
    try:
        return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, status, decided_by FROM items ORDER BY id")}
    finally:
        conn.close()


def _submit(run: Any, workdir: Path, smtp: Inbox) -> dict[str, EmailMessage]:
    quote = workdir / "q.json"
    quote.write_text(json.dumps(_quote(35), indent=2))
    assert run("submit", str(quote), "--as", "rita").exit_code == 0
    return {str(m["To"]).split("@")[0]: m for m in smtp.messages}


def _ingest(workdir: Path, message: EmailMessage | bytes, name: str) -> dict[str, Any]:
    path = workdir / f"{name}.eml"
    path.write_bytes(message if isinstance(message, bytes) else bytes(message))
    done = _cpq(workdir, "mail", "ingest", str(path), "--format", "json")
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)["messages"][0]
    result["exit"] = done.returncode
    return result


def _raw(message: EmailMessage, **replace: str | list[str]) -> bytes:
    """The message's bytes with some headers replaced, written by hand (several values: the
    header repeated), as an attacker's mail program could send them."""
    for name in replace:
        del message[name]
    extra = "".join(f"{name}: {v}\r\n" for name, value in replace.items()
                    for v in (value if isinstance(value, list) else [value]))
    return extra.encode() + bytes(message)


def _code(message: EmailMessage) -> str:
    line = next(ln for ln in str(message.get_content()).splitlines() if ln.startswith("cpq-reply-code:"))
    return line.split(":", 1)[1].strip()


FORGERIES = {
    # the display name says alice; the address is sam's (who may not decide)
    "display-name": lambda r: _raw(r, From='"alice@northwind.example" <sam@northwind.example>'),
    "two-from-headers": lambda r: _raw(r, From=["alice@northwind.example", "sam@northwind.example"]),
    "two-mailboxes": lambda r: _raw(r, From="alice@northwind.example, sam@northwind.example"),
    "group-syntax": lambda r: _raw(r, From="a:b;c"),
    "empty-from": lambda r: _raw(r, From=""),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_sender_decides_nothing(run, workdir: Path, smtp: Inbox, forgery: str) -> None:
    sent = _submit(run, workdir, smtp)
    before = _items(workdir)
    result = _ingest(workdir, FORGERIES[forgery](_reply(sent["alice"], "alice@northwind.example", "APPROVE\n",
                                                        f"<{forgery}@x>")), forgery)
    assert result["outcome"] == "refused" and result["exit"] == 1, result
    assert _items(workdir) == before


def test_the_public_token_alone_is_not_enough(run, workdir: Path, smtp: Inbox) -> None:
    """Whoever saw the request token (it is in the subject, and in the team channel's webhook)
    and forges alice's From address still lacks alice's reply code."""
    sent = _submit(run, workdir, smtp)
    before = _items(workdir)
    bare = EmailMessage()
    bare["From"] = "alice@northwind.example"
    bare["Subject"] = "Re: " + str(sent["alice"]["Subject"])
    bare["Message-ID"] = "<bare@x>"
    bare.set_content("APPROVE\n")
    assert _ingest(workdir, bare, "bare")["outcome"] == "refused"
    # lena's own code does not work for alice's request, nor alice's code in lena's name
    lena_code = _code(sent["lena"])
    borrowed = _reply(sent["alice"], "alice@northwind.example", f"APPROVE\n\ncpq-reply-code: {lena_code}\n",
                      "<borrowed@x>")
    del borrowed["Subject"]
    borrowed["Subject"] = "Re: " + str(sent["alice"]["Subject"])
    body = f"APPROVE\n\n> cpq-reply-code: {lena_code}\n"
    borrowed.set_content(body)
    assert _ingest(workdir, borrowed, "borrowed")["outcome"] == "refused"
    assert _items(workdir) == before
    assert _code(sent["alice"]) != lena_code


def test_no_reply_code_leaves_in_a_webhook_or_in_another_person_s_mail(run, workdir: Path, smtp: Inbox,
                                                                       tmp_path: Path) -> None:
    sent = _submit(run, workdir, smtp)
    codes = {who: _code(m) for who, m in sent.items()}
    assert len(set(codes.values())) == len(codes)
    for who, message in sent.items():
        others = [c for w, c in codes.items() if w != who]
        assert not any(c in bytes(message).decode(errors="replace") for c in others)
    conn = sqlite3.connect(workdir / ".cpq" / "journal.sqlite3")
    try:
        stored = " ".join(str(v) for row in conn.execute("SELECT * FROM events") for v in row)
        hooks = " ".join(r[0] for r in conn.execute("SELECT body FROM notifications WHERE channel = 'webhook'"))
    finally:
        conn.close()
    assert not any(c in stored or c in hooks for c in codes.values())


def test_the_real_reply_is_credited_to_the_address_not_the_name(run, workdir: Path, smtp: Inbox) -> None:
    sent = _submit(run, workdir, smtp)
    reply = _reply(sent["alice"], '"Victor Hale (VP)" <alice@northwind.example>', "Approve\nfine\n", "<ok@x>")
    result = _ingest(workdir, reply, "ok")
    assert result["outcome"] == "approved", result
    assert ("APPROVED", "alice") in _items(workdir).values()


def test_an_unreadable_message_is_quarantined_and_the_next_one_is_read(run, workdir: Path, smtp: Inbox) -> None:
    sent = _submit(run, workdir, smtp)
    box = mailbox.Maildir(str(workdir / "Maildir"), create=True)
    evil = _reply(sent["lee"], "lee@northwind.example", "APPROVE\n", "<evil@x>")
    raw = bytes(evil).replace(b'charset="utf-8"', b'charset="x-evil"')
    assert b"x-evil" in raw
    box.add(b"\x00\x01\xff not a message at all\n\n")
    box.add(raw)
    box.add(bytes(_reply(sent["dan"], "dan@northwind.example", "approve\n", "<dan@x>")))
    done = _cpq(workdir, "mail", "ingest", str(workdir / "Maildir"), "--format", "json")
    assert "Traceback" not in done.stderr
    outcomes = [m["outcome"] for m in json.loads(done.stdout)["messages"]]
    assert "quarantined" in outcomes and "approved" in outcomes, outcomes
    assert done.returncode == 1
    assert ("APPROVED", "dan") in _items(workdir).values()
    again = _cpq(workdir, "mail", "ingest", str(workdir / "Maildir"), "--format", "json")
    assert {m["outcome"] for m in json.loads(again.stdout)["messages"]} == {"duplicate"}


def test_automatic_replies_are_neither_decided_nor_answered(run, workdir: Path, smtp: Inbox) -> None:
    sent = _submit(run, workdir, smtp)
    before, mails = _items(workdir), len(smtp.messages)
    ooo = _reply(sent["alice"], "alice@northwind.example", "I am out of office until Monday.\n", "<ooo@x>")
    ooo["Auto-Submitted"] = "auto-replied"
    result = _ingest(workdir, ooo, "ooo")
    assert result["outcome"] == "ignored"
    assert _items(workdir) == before and len(smtp.messages) == mails  # no bounce to an autoresponder


def test_bounces_and_notifications_pass_strict_parsing(run, workdir: Path, smtp: Inbox) -> None:
    sent = _submit(run, workdir, smtp)
    _ingest(workdir, _reply(sent["alice"], "alice@northwind.example", "Sounds good\n", "<garbled@x>"), "garbled")
    bounce = next(m for m in smtp.messages if str(m["Subject"]).startswith("Not processed"))
    assert str(bounce["Auto-Submitted"]) == "auto-replied"
    for message in smtp.messages:
        strict = email.message_from_bytes(bytes(message), policy=email.policy.strict)
        assert strict["Date"] is not None and email.utils.parsedate_to_datetime(str(strict["Date"])) is not None
        assert len(strict.get_all("Message-ID") or []) == 1
        assert str(strict["Message-ID"]).rstrip(">").endswith("@northwind.example")
        assert strict["Auto-Submitted"] is not None


def test_an_html_only_reply_is_read(run, workdir: Path, smtp: Inbox) -> None:
    sent = _submit(run, workdir, smtp)
    html = EmailMessage()
    html["From"] = "alice@northwind.example"
    html["Subject"] = "Re: " + str(sent["alice"]["Subject"])
    html["Message-ID"] = "<html@x>"
    html.set_content(f"<div>Approve</div><div>ok for me</div><br><blockquote>cpq-reply-code: "
                     f"{_code(sent['alice'])}</blockquote>", subtype="html")
    result = _ingest(workdir, html, "html")
    assert result["outcome"] == "approved", result


def test_require_authenticated_accepts_only_our_own_server_s_pass(run, workdir: Path, smtp: Inbox) -> None:
    config = workdir / "cpq.toml"
    config.write_text(config.read_text()
                      + '\n[mail]\nrequire_authenticated = true\nauthserv_id = "mx.northwind.example"\n')
    sent = _submit(run, workdir, smtp)
    before = _items(workdir)
    plain = _reply(sent["alice"], "alice@northwind.example", "APPROVE\n", "<a1@x>")
    assert _ingest(workdir, plain, "a1")["outcome"] == "refused"
    theirs = _reply(sent["alice"], "alice@northwind.example", "APPROVE\n", "<a2@x>")
    theirs["Authentication-Results"] = "mx.evil.example; dmarc=pass header.from=northwind.example"
    assert _ingest(workdir, theirs, "a2")["outcome"] == "refused"
    failed = _reply(sent["alice"], "alice@northwind.example", "APPROVE\n", "<a3@x>")
    failed["Authentication-Results"] = "mx.northwind.example; spf=softfail; dmarc=fail header.from=northwind.example"
    assert _ingest(workdir, failed, "a3")["outcome"] == "refused"
    assert _items(workdir) == before
    ours = _reply(sent["alice"], "alice@northwind.example", "APPROVE\n", "<a4@x>")
    ours["Authentication-Results"] = ("mx.northwind.example; dkim=pass header.d=northwind.example; "
                                      "spf=pass smtp.mailfrom=northwind.example; dmarc=pass")
    assert _ingest(workdir, ours, "a4")["outcome"] == "approved"


def test_mail_without_the_team_key_is_a_setup_error(run, workdir: Path, smtp: Inbox,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPQ_SECRET_FILE")
    quote = workdir / "q.json"
    quote.write_text(json.dumps(_quote(35), indent=2))
    done = run("submit", str(quote), "--as", "rita")
    assert done.exit_code == 2 and "secret key" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert smtp.messages == []
    conn = sqlite3.connect(workdir / ".cpq" / "journal.sqlite3")
    try:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 0  # nothing half-done
    finally:
        conn.close()
