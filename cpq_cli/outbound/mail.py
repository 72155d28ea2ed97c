"""`cpq mail ingest`: e-mail replies to request notifications become decisions.

The first non-empty line is the decision: `approve|approved|yes` or `reject|rejected|no`, in
any case. The comment runs from the next line to the first blank line; quoted lines (`>`) and
the quoted original are ignored. The request is identified by the token in the subject
(`[cpq 3f9a2c01b7e4]`) — which is no secret: it also travels in webhook payloads. What proves
the reply is the recipient's own **reply code**: an HMAC of the item and the approver under the
team's secret key (`CPQ_SECRET_FILE`), printed only in that approver's request e-mail (delegates
get their own) and quoted back by the reply. The sender is read strictly: exactly one From
header holding exactly one mailbox, whose address (never its display name) must be the
approver's or an active delegate's, and the reply code must be that person's. With
`[mail] require_authenticated = true` the topmost `Authentication-Results` header added by the
team's own server (`authserv_id`) must also say `dmarc=pass`.

Anything else is refused with a reason, changes nothing, and queues a bounce to the sender
(except to automatic replies, RFC 3834). A message that cannot even be read (a broken header, an
unknown charset) is quarantined: recorded with the reason, and ingest goes on with the next.
Each message is remembered by its Message-ID (or the hash of its bytes): ingesting it again
changes nothing.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import mailbox
import re
from collections.abc import Iterator
from email.message import EmailMessage, Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple

from cpq_cli.acting import Act, Channel
from cpq_cli.approvals.workflow import decide
from cpq_cli.errors import Refused
from cpq_cli.i18n import Text, english, status_word, t
from cpq_cli.journal import approvals, outbound
from cpq_cli.journal.db import Connection
from cpq_cli.journal.records import Item
from cpq_cli.policy.model import Policy

TOKEN = re.compile(r"\[cpq ([0-9a-f]{12})\]")
CODE = re.compile(r"cpq-reply-code:\s*([0-9a-f]{24})")
# The first line of a reply, in each of the five languages (any case; a trailing . or ! is ignored).
APPROVE = {"approve", "approved", "yes", "aprobar", "aprobado", "sí", "si", "approuver", "approuvé", "oui",
           "genehmigen", "genehmigt", "ja", "承認", "承認します", "はい"}
REJECT = {"reject", "rejected", "no", "rechazar", "rechazado", "refuser", "refusé", "non", "ablehnen", "abgelehnt",
          "nein", "却下", "却下します", "いいえ"}


class Result(NamedTuple):
    message_id: str
    outcome: str  # approved | rejected | refused | duplicate | ignored | quarantined
    detail: str


class MailSettings(NamedTuple):
    require_authenticated: bool = False
    authserv_id: str | None = None


def mail_settings(sections: dict[str, dict[str, Any]]) -> MailSettings:
    from cpq_cli.errors import ConfigError

    raw = sections.get("mail") or {}
    unknown = set(raw) - {"require_authenticated", "authserv_id"}
    if unknown:
        raise ConfigError(f"[mail]: unknown setting(s) {', '.join(sorted(unknown))}",
                          hint="known: require_authenticated, authserv_id")
    required = raw.get("require_authenticated", False)
    if not isinstance(required, bool):
        raise ConfigError("[mail] require_authenticated must be true or false")
    server = raw.get("authserv_id")
    if required and not (isinstance(server, str) and server.strip()):
        raise ConfigError("[mail] require_authenticated needs authserv_id, the name your own mail server writes "
                          "in its Authentication-Results headers", hint='e.g. authserv_id = "mx.example.com"')
    return MailSettings(required, server.strip().lower() if isinstance(server, str) else None)


def reply_code(key: bytes, item_id: str, user: str) -> str:
    """The secret a reply must quote: only the person it was sent to has it."""
    from cpq_cli.secret import mac

    return mac(key, "cpq-reply", item_id, user)[:24]


def read_messages(path: Path) -> Iterator[bytes]:
    """The raw bytes of each message in an .eml file, a Maildir (cur/ and new/) or an mbox file.

    Bytes, not parsed messages: a message that cannot be parsed is quarantined by `ingest_raw`
    instead of stopping the whole run.
    """
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise Refused(f"{path} is a directory but not a Maildir (no cur/ or new/)")
        maildir = mailbox.Maildir(str(path), factory=None, create=False)
        for key in sorted(maildir.keys()):
            yield maildir.get_bytes(key)
        return
    raw = path.read_bytes()
    if raw.startswith(b"From "):
        box = mailbox.mbox(str(path), create=False)
        try:
            messages = [box.get_bytes(key) for key in box.iterkeys()]
        finally:
            box.close()
        yield from messages
        return
    yield raw


class _Text(HTMLParser):
    """Just the text of an HTML reply, block elements as line breaks, quoted blocks marked `>`."""

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "blockquote", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.quoted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "blockquote":
            self.quoted += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote":
            self.quoted = max(0, self.quoted - 1)
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.quoted:
            data = "\n".join("> " + line for line in data.split("\n"))
        self.parts.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip("\n") + "\n"


def _text(message: Message) -> str:
    if isinstance(message, EmailMessage):
        part = message.get_body(preferencelist=("plain", "html"))
        if part is not None:
            content = str(part.get_content())
            return html_text(content) if part.get_content_type() == "text/html" else content
    payload = message.get_payload(decode=True)
    return payload.decode(errors="replace") if isinstance(payload, bytes) else str(message.get_payload())


def _all_text(message: Message) -> str:
    """Every text part, quoted original included: where the reply code is looked for."""
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text" and isinstance(part, EmailMessage):
            content = str(part.get_content())
            texts.append(html_text(content) if part.get_content_type() == "text/html" else content)
    return "\n".join(texts)


def sender_address(message: Message) -> str:
    """The one address of the one From header; Refused for anything else (never the display name)."""
    try:
        headers = message.get_all("From") or []
    except Exception:  # the parser cannot even split it (e.g. `a:b;c`)
        raise Refused("the From header cannot be read; exactly one address is accepted") from None
    if len(headers) != 1:
        raise Refused(f"the message has {len(headers)} From headers; exactly one is accepted")
    try:
        addresses = getattr(headers[0], "addresses", None)
    except Exception:  # a header the parser cannot read (e.g. `a:b;c`)
        addresses = None
    defects = getattr(headers[0], "defects", None)
    if addresses is None or len(addresses) != 1 or defects:
        raise Refused(f"the From header must hold exactly one address, not {str(headers[0])[:80]!r}")
    address = str(addresses[0].addr_spec).strip().lower()
    if address.count("@") != 1 or not address.split("@")[0] or not address.split("@")[1]:
        raise Refused(f"the From address {address[:80]!r} is not a mailbox")
    return address


def _authenticated(message: Message, settings: MailSettings) -> None:
    """The topmost Authentication-Results of the team's own server must say dmarc=pass."""
    for header in message.get_all("Authentication-Results") or []:
        text = str(header)
        server = text.split(";", 1)[0].strip().split()[0].lower() if text.strip() else ""
        if server != settings.authserv_id:
            continue  # anybody can write such a header; only our own server's counts
        if re.search(r"(?:^|[;\s])dmarc\s*=\s*pass\b", text, re.IGNORECASE):
            return
        raise Refused(f"the team's mail server did not authenticate the sender (no dmarc=pass from "
                      f"{settings.authserv_id})")
    raise Refused(f"the message carries no Authentication-Results from {settings.authserv_id}",
                  hint="replies are accepted only through the team's own mail server")


def is_automatic(message: Message) -> bool:
    """RFC 3834: an automatic message (out-of-office, bounce) is neither decided nor answered."""
    value = str(message.get("Auto-Submitted", "no")).strip().lower()
    return value not in ("", "no") or str(message.get("Precedence", "")).strip().lower() in ("bulk", "junk",
                                                                                             "auto_reply")


def parse_reply(text: str) -> tuple[bool, str]:
    """(approve?, comment) from a reply body; Refused when the first line is not a decision."""
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    position = next((i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith(">")), None)
    if position is None:
        raise Refused(t("the reply is empty"))
    first = lines[position].strip().strip(".!。！").lower()
    if first in APPROVE:
        approve = True
    elif first in REJECT:
        approve = False
    else:
        raise Refused(t("the first line must be APPROVE or REJECT, not {line!r}", line=lines[position].strip()[:40]))
    comment = []
    for line in lines[position + 1:]:
        if not line.strip() or line.lstrip().startswith(">"):
            break
        comment.append(line.strip())
    return approve, " ".join(comment)


def message_id_of(raw: bytes, message: Message | None) -> str:
    try:
        found = str(message.get("Message-ID", "")).strip() if message is not None else ""
    except Exception:
        found = ""
    return found[:300] or "<sha256:" + hashlib.sha256(raw).hexdigest() + ">"  # stable across runs


def ingest_raw(conn: Connection, received: Act, policy: Policy, raw: bytes, current_hash: Any, key: bytes,
               settings: MailSettings = MailSettings()) -> tuple[Result, Message | None, Text]:
    """Decide one reply inside the caller's transaction — or refuse it, or quarantine it.

    `received`: when (and by what) the message was taken in; the decision is made by the sender
    the message proves, through the e-mail channel.

    Runs under a savepoint: a message that fails half-way (however it fails) leaves nothing
    but its `mail_processed` record.
    """
    message: Message | None = None
    reason: Text = ""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        message_id = message_id_of(raw, message)
    except Exception:
        message_id = message_id_of(raw, None)
    seen = outbound.processed_outcome(conn, message_id)
    if seen is not None:
        duplicate = Result(message_id, "duplicate", f"already processed ({seen})")
        return duplicate, message, duplicate.detail
    try:
        with outbound.savepoint(conn, "mail_message"):
            if message is None:
                raise ValueError("the message cannot be parsed")
            if is_automatic(message):
                result = Result(message_id, "ignored", "an automatic reply (Auto-Submitted); not answered")
            else:
                approve, comment, actor, item = _check(conn, policy, message, key, settings)
                act = received._replace(actor=actor, channel=Channel.EMAIL)
                outcome, _ = decide(conn, act, item.quote_id, approve, comment or None, current_hash=current_hash,
                                    only_items={item.id}, policy=policy)
                result = Result(message_id, "approved" if approve else "rejected", english(outcome.message))
    except Refused as refusal:
        result = Result(message_id, "refused", english(refusal.message))
        reason = refusal.message
    except Exception as exc:  # unreadable: quarantine it rather than block every later reply
        result = Result(message_id, "quarantined", f"cannot read the message: {type(exc).__name__}: "
                        f"{str(exc)[:200]}")
    outbound.record_processed(conn, message_id, result.outcome, result.detail, received.at)
    return result, message, reason if result.outcome == "refused" else result.detail


def _check(conn: Connection, policy: Policy, message: Message, key: bytes,
           settings: MailSettings) -> tuple[bool, str, str, Item]:
    if settings.require_authenticated:
        _authenticated(message, settings)
    sender = sender_address(message)
    subject = str(message.get("Subject", ""))
    match = TOKEN.search(subject)
    if match is None:
        raise Refused(t("the subject carries no request token"))
    item_id = outbound.item_of_token(conn, match.group(1))
    if item_id is None:
        raise Refused(t("unknown request token {token}", token=match.group(1)))
    item = approvals.item(conn, item_id)
    if item is None or item.status != "REQUESTED":
        raise Refused(t("request {item} is already {status}", item=item_id,
                        status=status_word(item.status) if item else t("gone")))
    allowed = {item.approver, *item.delegates}
    actor = next((u for u in sorted(allowed) if u in policy.users and policy.users[u].email.lower() == sender), None)
    if actor is None:
        raise Refused(t("{sender} may not decide request {item}", sender=sender, item=item.id),
                      hint=t("reply from the approver's own address"))
    from cpq_cli.secret import same

    codes = CODE.findall(_all_text(message))
    if not any(same(code, reply_code(key, item.id, actor)) for code in codes):
        raise Refused(t("the reply does not carry {actor}'s reply code for request {item}", actor=actor, item=item.id),
                      hint=t("reply to your own request e-mail, keeping its quoted text"))
    approve, comment = parse_reply(_text(message))
    if not approve and not comment:
        raise Refused(t("a rejection needs a reason on the lines after REJECT"))
    return approve, comment, actor, item
