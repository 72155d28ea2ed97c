"""`cpq mail ingest`: e-mail replies to request notifications become decisions.

The first non-empty line is the decision: `approve|approved|yes` or `reject|rejected|no`, in
any case. The comment runs from the next line to the first blank line; quoted lines (`>`) and
the quoted original are ignored. The request is identified by the token in the subject
(`[cpq 3f9a2c01b7e4]`), and the sender must be exactly the approver's address or that of a
delegate recorded on the request. Anything else is refused with a reason, changes nothing, and
queues a bounce to the sender. Each message is remembered by its Message-ID: ingesting it again
changes nothing.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import mailbox
import re
import sqlite3
from collections.abc import Iterator
from email.message import EmailMessage, Message
from email.utils import parseaddr
from pathlib import Path
from typing import Any, NamedTuple

from cpq_cli.journal.db import now
from cpq_cli.policy.model import Policy
from cpq_cli.workflow import Refused, decide

TOKEN = re.compile(r"\[cpq ([0-9a-f]{12})\]")
APPROVE = {"approve", "approved", "yes"}
REJECT = {"reject", "rejected", "no"}


class Result(NamedTuple):
    message_id: str
    outcome: str  # approved | rejected | refused | duplicate
    detail: str


def read_messages(path: Path) -> Iterator[Message]:
    """An .eml file, a Maildir (cur/ and new/) or an mbox file."""
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise Refused(f"{path} is a directory but not a Maildir (no cur/ or new/)")
        maildir = mailbox.Maildir(str(path), factory=None, create=False)
        for key in sorted(maildir.keys()):
            yield email.message_from_bytes(maildir.get_bytes(key), policy=email.policy.default)
        return
    raw = path.read_bytes()
    if raw.startswith(b"From "):
        box = mailbox.mbox(str(path), create=False)
        try:
            messages = [message.as_bytes() for message in box]
        finally:
            box.close()
        for data in messages:
            yield email.message_from_bytes(data, policy=email.policy.default)
        return
    yield email.message_from_bytes(raw, policy=email.policy.default)


def _text(message: Message) -> str:
    if isinstance(message, EmailMessage):
        part = message.get_body(preferencelist=("plain",))
        if part is not None:
            return str(part.get_content())
    payload = message.get_payload(decode=True)
    return payload.decode(errors="replace") if isinstance(payload, bytes) else str(message.get_payload())


def parse_reply(text: str) -> tuple[bool, str]:
    """(approve?, comment) from a reply body; Refused when the first line is not a decision."""
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    position = next((i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith(">")), None)
    if position is None:
        raise Refused("the reply is empty")
    first = lines[position].strip().strip(".!").lower()
    if first in APPROVE:
        approve = True
    elif first in REJECT:
        approve = False
    else:
        raise Refused(f"the first line must be APPROVE or REJECT, not {lines[position].strip()[:40]!r}")
    comment = []
    for line in lines[position + 1:]:
        if not line.strip() or line.lstrip().startswith(">"):
            break
        comment.append(line.strip())
    return approve, " ".join(comment)


def ingest(conn: sqlite3.Connection, policy: Policy, message: Message, current_hash: Any) -> Result:
    """Decide one reply, inside the caller's transaction, or refuse it with the reason."""
    message_id = str(message.get("Message-ID", "")).strip() or (
        "<sha256:" + hashlib.sha256(bytes(message)).hexdigest() + ">")  # stable across runs, unlike hash()
    seen = conn.execute("SELECT outcome FROM mail_processed WHERE message_id = ?", (message_id,)).fetchone()
    if seen is not None:
        return Result(message_id, "duplicate", f"already processed ({seen['outcome']})")
    try:
        approve, comment, actor, item = _check(conn, policy, message)
        outcome, _ = decide(conn, actor, item["quote_id"], approve, comment or None, current_hash=current_hash,
                            only_items={item["id"]})
        result = Result(message_id, "approved" if approve else "rejected", outcome.message)
    except Refused as refusal:
        result = Result(message_id, "refused", refusal.message)
    conn.execute("INSERT INTO mail_processed (message_id, outcome, detail, processed_at) VALUES (?, ?, ?, ?)",
                 (message_id, result.outcome, result.detail, now()))
    return result


def _check(conn: sqlite3.Connection, policy: Policy, message: Message) -> tuple[bool, str, str, sqlite3.Row]:
    subject = str(message.get("Subject", ""))
    match = TOKEN.search(subject)
    if match is None:
        raise Refused("the subject carries no request token")
    token = conn.execute("SELECT item_id FROM mail_tokens WHERE token = ?", (match.group(1),)).fetchone()
    if token is None:
        raise Refused(f"unknown request token {match.group(1)}")
    item = conn.execute("SELECT * FROM items WHERE id = ?", (token["item_id"],)).fetchone()
    if item["status"] != "REQUESTED":
        raise Refused(f"request {item['id']} is already {item['status'].lower()}")
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    allowed = {item["approver"], *json.loads(item["delegates"])}
    actor = next((u for u in sorted(allowed) if u in policy.users and policy.users[u].email.lower() == sender), None)
    if actor is None:
        raise Refused(f"{sender or 'an unknown sender'} may not decide request {item['id']}",
                      hint="reply from the approver's own address")
    approve, comment = parse_reply(_text(message))
    if not approve and not comment:
        raise Refused("a rejection needs a reason on the lines after REJECT")
    return approve, comment, actor, item
