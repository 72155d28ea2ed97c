"""Notifications: derived from journal events, queued in the same transaction, delivered after it.

A command that changes the workflow appends events; `enqueue` turns the new events into rows of
the `notifications` table (e-mail and webhook) inside the same transaction, so a notification
is never lost. `deliver` sends the pending ones and marks each sent in its own transaction
once the server accepted it: a failure stays pending for the next `cpq tick`, and nothing
acknowledged is sent twice.

Settings come from `cpq.toml` (`[smtp]`, `[webhook]`), secrets from the environment only:
the SMTP password is read from the variable named by `password_env` (default CPQ_SMTP_PASSWORD)
and never written anywhere.
"""

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cpq_cli.journal import approvals, outbound
from cpq_cli.journal.db import Connection
from cpq_cli.journal.events import after as events_after
from cpq_cli.journal.events import last_seq
from cpq_cli.journal.outbound_records import Notification
from cpq_cli.journal.records import Event, Item
from cpq_cli.journal.states import ItemStatus
from cpq_cli.outbound.settings import CHANNELS, NotifySettings, SmtpSettings, channels_of, load_settings
from cpq_cli.policy.model import Policy

__all__ = ["CHANNELS", "NotifySettings", "SmtpSettings", "channels_of", "deliver", "enqueue", "load_settings",
           "notifying", "queue", "render", "reply_footer", "token_for"]


def render(name: str, settings: NotifySettings, values: dict[str, Any], language: str = "en") -> tuple[str, str]:
    """(subject, body) in the recipient's language: the policy set's template (`templates/<lang>/NAME.txt`,
    then `templates/NAME.txt` for English), else the packaged one; English when the language has none."""
    from string import Template

    here = Path(__file__).parent / "templates"
    candidates = []
    for base in ([settings.templates] if settings.templates else []) + [here]:
        if language != "en":
            candidates.append(base / language / f"{name}.txt")
        candidates.append(base / f"{name}.txt")
    path = next(p for p in candidates if p.is_file())
    text = Template(path.read_text(encoding="utf-8")).safe_substitute(
        {k: "" if v is None else str(v) for k, v in values.items()})
    head, _, body = text.partition("\n\n")
    subject = head.removeprefix("Subject:").strip() if head.startswith("Subject:") else name
    return subject, body if head.startswith("Subject:") else text


def language_of_user(policy: Policy, user: str | None) -> str:
    """The language a user reads their notifications in: their `locale`, else English."""
    from cpq_cli.i18n import language_of

    found = policy.users.get(user) if user else None
    return (language_of(found.locale) if found is not None else None) or "en"


def localised(context: dict[str, Any], language: str) -> dict[str, Any]:
    """The amounts and dates of a notification as the reader's language writes them."""
    from cpq_cli import i18n

    values = dict(context)
    if "net" in context:
        values["net_amount"] = i18n.money(context["net"], context["currency"], language)
        if language != "en":
            values["net_total"] = i18n.number(context["net"], language, places=2)
            values["discount_pct"] = i18n.number(context["discount"], language, places=2)
    for key in ("requested_at", "due_at"):
        if values.get(key):
            values[key] = i18n.moment(str(values[key]), language)
    return values


def web_link(conn: Connection, settings: NotifySettings, user: str, item_id: str, stamp: str,
             language: str) -> str:
    """The line of an e-mail that opens the request in the web inbox (signed in, once), if one is served."""
    import datetime as dt

    from cpq_cli import i18n
    from cpq_cli.outbound.links import link_for
    from cpq_cli.secret import load_secret

    if settings.web is None or settings.web.url is None:
        return ""
    key = load_secret("the web inbox's sign-in links")
    now = dt.datetime.fromisoformat(stamp)
    link = link_for(key, settings.web.url, user, item_id, now, settings.web.link_ttl)
    inbox = link_for(key, settings.web.url, user, "*", now, settings.web.link_ttl)
    return (i18n.t("Open it in your browser (the link signs you in once): {link}", link=link).render(language)
            + "\n" + i18n.t("All your requests: {link}", link=inbox).render(language) + "\n")


def token_for(conn: Connection, item_id: str, stamp: str) -> str:
    existing = outbound.token_of_item(conn, item_id)
    if existing:
        return existing
    token = os.urandom(6).hex()  # what secrets.token_hex does, without importing `random`
    outbound.add_token(conn, token, item_id, stamp)
    return token


def reply_footer(settings: NotifySettings, item_id: str, user: str, language: str = "en") -> str:
    """The recipient's own reply code, appended to their e-mail only (never to webhooks)."""
    if settings.smtp is None:
        return ""
    from cpq_cli import i18n
    from cpq_cli.outbound.mail import reply_code
    from cpq_cli.secret import load_secret

    key = load_secret("e-mail decisions (the reply code in each request e-mail)")  # read when needed, never cached
    keep = i18n.t("Keep this line in your reply; it is yours alone, do not forward it:").render(language)
    return f"\n-- \n{keep}\ncpq-reply-code: {reply_code(key, item_id, user)}\n"


def _queue(conn: Connection, key: str, kind: str, channel: str, recipient: str, subject: str,
           body: str, stamp: str) -> None:
    outbound.queue_notification(conn, key, kind, channel, recipient, subject, body, stamp)


def queue(conn: Connection, settings: NotifySettings, key: str, kind: str, email: str | None,
          subject: str, body: str, event: dict[str, Any], stamp: str,
          channels: tuple[str, ...] = CHANNELS) -> None:
    """One notification on each of `channels` that is configured; the key makes queuing idempotent."""
    if settings.smtp and email and "email" in channels:
        _queue(conn, f"{key}:email:{email}", kind, "email", email, subject, body, stamp)
    if settings.webhook and "webhook" in channels:
        _queue(conn, f"{key}:webhook", kind, "webhook", settings.webhook, subject,
               json.dumps({"event": kind, **event, "text": subject}, sort_keys=True, default=str), stamp)


@contextlib.contextmanager
def notifying(conn: Connection, policy: Policy, settings: NotifySettings, stamp: str) -> Iterator[None]:
    """One transaction for a change and the notifications its new events call for."""
    from cpq_cli.journal.db import transaction

    with transaction(conn):
        head = last_seq(conn)
        yield
        enqueue(conn, policy, settings, head, stamp)


def enqueue(conn: Connection, policy: Policy, settings: NotifySettings, after_seq: int, stamp: str) -> int:
    """Queue the notifications for every event after `after_seq`. Returns how many events were read."""
    if not settings.smtp and not settings.webhook:
        return 0
    rows = events_after(conn, after_seq)
    contexts: dict[str, dict[str, Any]] = {}  # one parse of the quote per submission, not per event

    def context(submission_id: str) -> dict[str, Any]:
        if submission_id not in contexts:
            contexts[submission_id] = _context(conn, submission_id)
        return contexts[submission_id]

    for event in rows:
        _for_event(conn, policy, settings, event, context, stamp)
    return len(rows)


def _context(conn: Connection, submission_id: str) -> dict[str, Any]:
    sub = approvals.submission(conn, submission_id)
    assert sub is not None, f"an event names a missing submission {submission_id}"
    quote = sub.quote_data
    from cpq_cli.quote import parse_quote
    from cpq_cli.report.path import money_text, percent

    model = parse_quote(quote)
    net, discount = model.values["net_total"], model.values["discount_pct"]
    return {"quote_id": sub.quote_id, "submission": sub.id, "owner": sub.owner,
            "account": quote.get("account", {}).get("name", ""), "currency": model.currency,
            "net_total": money_text(net), "discount_pct": percent(discount), "net": net, "discount": discount,
            "submitted_by": sub.submitted_by}


def _person(policy: Policy, user: str) -> tuple[str | None, str]:
    found = policy.users.get(user)
    return (found.email, found.name) if found else (None, user)


def _for_event(conn: Connection, policy: Policy, settings: NotifySettings, event: Event,
               context_of: Callable[[str], dict[str, Any]], stamp: str) -> None:
    kind, data = event.kind, event.payload
    if kind in ("item.requested", "item.delegated", "item.reassigned"):
        item = approvals.item(conn, data["item"])
        assert item is not None, f"event {event.seq} names a missing item"
        if item.status is not ItemStatus.REQUESTED:
            return  # decided within the same change: nothing to ask any more
        # Who is newly asked: everyone on a new item; the delegate it was handed to; the replacement.
        recipients = ([item.approver, *item.delegates] if kind == "item.requested"
                      else [str(data["delegate"])] if kind == "item.delegated" else [item.approver])
        _request_notice(conn, policy, settings, event, item, recipients, context_of, stamp)
    elif kind in ("submission.approved", "submission.rejected"):
        context = context_of(str(event.submission_id))
        comment = ""
        if kind == "submission.rejected":
            last = approvals.last_rejection(conn, str(event.submission_id))
            comment = (last.comment or "") if last else ""
        template = kind.split(".")[1]
        for user in dict.fromkeys([context["owner"], context["submitted_by"]]):
            email, name = _person(policy, user)
            lang = language_of_user(policy, user)
            subject, body = render(template, settings, localised({**context, "name": name, "actor": event.actor,
                                                                  "comment": comment}, lang), lang)
            queue(conn, settings, f"{event.seq}:{user}", template, email, subject, body,
                  {"quote_id": context["quote_id"], "to": user}, stamp, channels_of(policy, settings, user))
    elif kind == "request.recalled":
        context = context_of(str(event.submission_id))
        for item in approvals.items_in(conn, str(event.request_id), ItemStatus.RECALLED):
            email, name = _person(policy, item.approver)
            lang = language_of_user(policy, item.approver)
            subject, body = render("recalled", settings, localised({**context, "name": name, "actor": event.actor},
                                                                   lang), lang)
            queue(conn, settings, f"{event.seq}:{item.approver}", "recalled", email, subject, body,
                  {"quote_id": context["quote_id"], "to": item.approver}, stamp,
                  channels_of(policy, settings, item.approver))


def _request_notice(conn: Connection, policy: Policy, settings: NotifySettings, event: Event, item: Item,
                    recipients: list[str], context_of: Callable[[str], dict[str, Any]], stamp: str) -> None:
    """Ask each recipient to decide the item: the request (or escalation) template, their own reply code."""
    request = approvals.request(conn, item.request_id)
    assert request is not None, f"item {item.id} names a missing request"
    context = context_of(item.submission_id)
    rules = list(request.rules)
    described = {r.id: r.description or r.id for r in policy.rules}
    token = token_for(conn, item.id, stamp)
    template = "escalated" if item.escalated_from else "request"
    for user in dict.fromkeys(recipients):
        email, name = _person(policy, user)
        lang = language_of_user(policy, user)
        channels = channels_of(policy, settings, user)
        on_behalf = ""
        if user != item.approver:
            from cpq_cli.i18n import t

            on_behalf = " " + t("(as delegate of {approver})", approver=item.approver).render(lang)
        subject, body = render(template, settings, localised({
            **context, "name": name, "user": user, "rules": ", ".join(rules),
            "reasons": "; ".join(described.get(r, r) for r in rules), "on_behalf": on_behalf,
            "from_user": item.escalated_from or "",
            "web_link": web_link(conn, settings, user, item.id, stamp, lang) if "email" in channels else ""},
            lang), lang)
        queue(conn, settings, f"{event.seq}:{user}", template, email, f"[cpq {token}] {subject}",
              body + (reply_footer(settings, item.id, user, lang) if "email" in channels else ""),
              {"quote_id": context["quote_id"], "item": item.id, "to": user}, stamp, channels)


def deliver(conn: Connection, settings: NotifySettings, clock: Callable[[], str], limit: int = 500) -> tuple[int, int]:
    """Send pending notifications; (sent, failed). Each success is recorded at once, on its own,
    at the time `clock` gives when the server accepted it."""
    rows = outbound.unsent(conn, limit)
    sent = failed = 0
    smtp_client = None
    smtp_down: str | None = None  # after a failed connection, do not wait out a timeout per message
    try:
        for row in rows:
            try:
                if row.channel == "email":
                    if settings.smtp is None:
                        raise RuntimeError("no [smtp] settings")
                    if smtp_down is not None:
                        raise RuntimeError(smtp_down)
                    if smtp_client is None:
                        try:
                            smtp_client = _connect(settings.smtp)
                        except Exception as exc:
                            smtp_down = _describe(exc)
                            raise
                    _send_mail(smtp_client, settings.smtp, row)
                else:
                    _post(row.recipient, row.body, row.key)
            except Exception as exc:  # any failure leaves the row pending, with the reason
                failed += 1
                outbound.notification_failed(conn, row.id, smtp_down or _describe(exc))
                if smtp_client is not None and isinstance(exc, OSError | _smtp_errors()):
                    with contextlib.suppress(Exception):
                        smtp_client.close()
                    smtp_client = None
                continue
            outbound.notification_sent(conn, row.id, clock())
            sent += 1
    finally:
        if smtp_client is not None:
            with contextlib.suppress(Exception):  # closing a connection that may already be gone
                smtp_client.quit()
    return sent, failed


def _smtp_errors() -> type[Exception]:
    import smtplib

    return smtplib.SMTPException


def _describe(exc: Exception) -> str:
    """The failure in words, without anything that could hold a secret (no settings, no arguments)."""
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _connect(smtp: SmtpSettings) -> Any:
    import smtplib

    client: smtplib.SMTP = (smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP)(smtp.host, smtp.port,
                                                                           timeout=smtp.timeout)
    try:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            password = smtp.password()
            if password is None:
                raise RuntimeError(f"[smtp] username is set but {smtp.password_env} is not")
            client.login(smtp.username, password)
    except BaseException:
        client.close()
        raise
    return client


def _send_mail(client: Any, smtp: SmtpSettings, row: Notification) -> None:
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid, parseaddr

    domain = parseaddr(smtp.sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(idstring=f"cpq-{row.id}", domain=domain)
    # RFC 3834: our bounces answer a message automatically; everything else is generated.
    message["Auto-Submitted"] = "auto-replied" if row.kind == "bounce" else "auto-generated"
    message["X-cpq-key"] = row.key
    message.set_content(row.body)
    client.send_message(message)


def _post(url: str, body: str, key: str) -> None:
    import urllib.request

    from cpq_cli.outbound.sync import sf_string

    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Idempotency-Key": sf_string(key)})
    with urllib.request.urlopen(request, timeout=10) as response:  # the URL comes from cpq.toml
        if response.status >= 300:
            raise RuntimeError(f"webhook answered {response.status}")
