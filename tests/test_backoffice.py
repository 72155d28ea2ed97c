"""Notifications, e-mail decisions, escalation and ERP sync, against real servers on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.mailserver import Inbox, _free_port
from tests.test_workflow import Q, _quote

PASSWORD = "S3cret-Pa55-do-not-leak"


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def _items(workdir: Path) -> dict[str, str]:
    with sqlite3.connect(workdir / ".cpq" / "journal.sqlite3") as conn:
        return {r[0]: r[1] for r in conn.execute("SELECT approver, status FROM items ORDER BY id")}


def _reply(to: EmailMessage, sender: str, body: str, message_id: str) -> EmailMessage:
    """A reply as mail clients write it: the answer, then the request quoted below."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = "cpq@northwind.example"
    reply["Subject"] = "Re: " + str(to["Subject"])
    reply["Message-ID"] = message_id
    quoted = "".join(f"> {line}\n" for line in str(to.get_content()).splitlines())
    reply.set_content(body + "\n" + quoted)
    return reply


def test_submit_mails_exactly_the_step_one_approvers(run, workdir: Path, smtp: Inbox) -> None:
    quote = workdir / "q.json"
    quote.write_text(json.dumps(_quote(35), indent=2))
    _ok(run("submit", str(quote), "--as", "rita"))
    recipients = sorted(str(m["To"]) for m in smtp.messages)
    assert recipients == sorted(f"{u}@northwind.example" for u in ("alice", "lee", "lena", "dan", "erin"))
    alice = next(m for m in smtp.messages if m["To"] == "alice@northwind.example")
    assert "[cpq " in str(alice["Subject"]) and "Approval requested: Q-2001" in str(alice["Subject"])
    assert "reply to this e-mail with APPROVE or REJECT on the first line" in alice.get_content()


def test_an_emailed_reply_approves_and_bad_replies_are_refused(run, workdir: Path, smtp: Inbox) -> None:
    quote = workdir / "q.json"
    quote.write_text(json.dumps(_quote(35), indent=2))
    _ok(run("submit", str(quote), "--as", "rita"))
    request = next(m for m in smtp.messages if m["To"] == "alice@northwind.example")
    cases = {
        "stranger": _reply(request, "mallory@evil.example", "APPROVE\n", "<m1@x>"),
        "garbled": _reply(request, "alice@northwind.example", "Sounds good to me\n", "<m2@x>"),
        "unknown-token": _reply(request, "alice@northwind.example", "approve\n", "<m3@x>"),
    }
    del cases["unknown-token"]["Subject"]
    cases["unknown-token"]["Subject"] = "Re: [cpq 000000000000] Approval requested"
    before = _items(workdir)
    for name, message in cases.items():
        path = workdir / f"{name}.eml"
        path.write_bytes(bytes(message))
        result = run("mail", "ingest", str(path), "--format", "json")
        assert result.exit_code == 1, name
        (outcome,) = json.loads(result.stdout)["messages"]
        assert outcome["outcome"] == "refused" and outcome["detail"], name
        assert _items(workdir) == before, name
    good = workdir / "good.eml"
    good.write_bytes(bytes(_reply(request, "Alice Ng <alice@northwind.example>",
                                  "Approved.\nFine for a four-year deal.\n\n> quoted request text\n", "<ok@x>")))
    result = json.loads(_ok(run("mail", "ingest", str(good), "--format", "json")).stdout)["messages"][0]
    assert result["outcome"] == "approved"
    status = json.loads(run("status", Q, "--format", "json").stdout)
    alice = status["requests"][0]["items"][0]
    assert (alice["status"], alice["decided_by"]) == ("APPROVED", "alice")
    assert alice["comment"] == "Fine for a four-year deal."
    # the same message again changes nothing; a second reply to a decided request is refused
    again = json.loads(_ok(run("mail", "ingest", str(good), "--format", "json")).stdout)["messages"][0]
    assert again["outcome"] == "duplicate"
    second = workdir / "second.eml"
    second.write_bytes(bytes(_reply(request, "alice@northwind.example", "reject\nchanged my mind\n", "<again@x>")))
    after = _items(workdir)
    refused = run("mail", "ingest", str(second), "--format", "json")
    assert refused.exit_code == 1
    assert "already approved" in json.loads(refused.stdout)["messages"][0]["detail"]
    assert _items(workdir) == after
    # refusals bounce back to the sender
    bounces = [m for m in smtp.messages if str(m["Subject"]).startswith("Not processed")]
    assert {str(m["To"]) for m in bounces} >= {"mallory@evil.example", "alice@northwind.example"}


def test_maildir_and_mbox_are_read(run, workdir: Path, smtp: Inbox) -> None:
    import mailbox

    quote = workdir / "q.json"
    quote.write_text(json.dumps(_quote(35), indent=2))
    _ok(run("submit", str(quote), "--as", "rita"))
    lee = next(m for m in smtp.messages if m["To"] == "lee@northwind.example")
    dan = next(m for m in smtp.messages if m["To"] == "dan@northwind.example")
    box = mailbox.Maildir(str(workdir / "Maildir"), create=True)
    box.add(bytes(_reply(lee, "lee@northwind.example", "YES\n", "<lee@x>")))
    mbox = mailbox.mbox(str(workdir / "replies.mbox"), create=True)
    mbox.add(bytes(_reply(dan, "dan@northwind.example", "approve\n", "<dan@x>")))
    mbox.close()
    _ok(run("mail", "ingest", str(workdir / "Maildir"), str(workdir / "replies.mbox")))
    items = _items(workdir)
    assert items["lee"] == "APPROVED" and items["dan"] == "APPROVED"


def test_tick_escalates_each_overdue_request_once(run, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    quote = workdir / "q.json"
    quote.write_text(json.dumps(_quote(35, "Net 30"), indent=2))
    monkeypatch.setenv("CPQ_NOW", "2026-11-20T09:00:00+00:00")
    _ok(run("submit", str(quote), "--as", "rita"))
    _ok(run("approve", Q, "--as", "alice"))
    _ok(run("approve", Q, "--as", "mira"))  # victor (discount-vp, escalates after 48h to carmen) is asked now
    monkeypatch.delenv("CPQ_NOW")
    early = json.loads(_ok(run("tick", "--now", "2026-11-22T08:59:00+00:00", "--format", "json")).stdout)
    assert early["escalated"] == []
    first = json.loads(_ok(run("tick", "--now", "2026-11-22T09:00:00+00:00", "--format", "json")).stdout)
    second = json.loads(_ok(run("tick", "--now", "2026-11-22T09:00:00+00:00", "--format", "json")).stdout)
    assert first["escalated"] == [f"{Q}#1.3"] and second["escalated"] == []
    items = _items(workdir)
    assert items["victor"] == "ESCALATED" and items["carmen"] == "REQUESTED"
    _ok(run("approve", Q, "--as", "carmen"))
    assert json.loads(run("status", Q, "--format", "json").stdout)["submission"]["status"] == "APPROVED"


def parse_sf_string(header: str) -> str:
    """RFC 8941 section 4.2.5: a structured-field string, strictly (raises ValueError otherwise)."""
    if len(header) < 2 or header[0] != '"' or header[-1] != '"':
        raise ValueError(f"not an sf-string: {header!r}")
    out, i, inner = [], 0, header[1:-1]
    while i < len(inner):
        ch = inner[i]
        if ch == "\\":
            if i + 1 >= len(inner) or inner[i + 1] not in '"\\':
                raise ValueError(f"bad escape in {header!r}")
            out.append(inner[i + 1])
            i += 2
            continue
        if ch == '"' or not (0x20 <= ord(ch) < 0x7F):
            raise ValueError(f"bad character in {header!r}")
        out.append(ch)
        i += 1
    return "".join(out)


class ERP(BaseHTTPRequestHandler):
    fail_first = 2
    status_for_all = 0
    calls: ClassVar[list[tuple[int, str]]] = []
    received: ClassVar[list[tuple[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        key = parse_sf_string(self.headers["Idempotency-Key"])
        cls = type(self)
        if cls.status_for_all:
            code = cls.status_for_all
        elif cls.fail_first > 0:
            cls.fail_first -= 1
            code = 503
        else:
            code = 200
            cls.received.append((key, body))
        cls.calls.append((code, key))
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"bad order" if code == 400 else b"ok")

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def erp() -> Iterator[tuple[str, type[ERP]]]:
    handler = type("Handler", (ERP,), {"fail_first": 2, "status_for_all": 0, "calls": [], "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/orders", handler
    server.shutdown()
    server.server_close()


def _three_orders(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPQ_NOW", "2026-11-22T09:00:00+00:00")
    _ok(run("submit", "examples/quotes/Q-1004-multi-site.json", "--as", "rita"))
    for who in ("alice", "lee", "dan"):
        _ok(run("approve", "Q-1004", "--as", who))
    _ok(run("split", "Q-1004", "--by", "site"))


def test_sync_retries_503_and_delivers_each_event_once_in_order(run, workdir: Path, erp: Any, monkeypatch) -> None:
    url, handler = erp
    _three_orders(run, monkeypatch)
    result = _ok(run("sync", "--to", url, "--backoff", "0.01", "--json"))
    report = json.loads(result.stdout)
    keys = [k for k, _ in handler.received]
    assert keys == ["order:Q-1004-O1:created", "order:Q-1004-O2:created", "order:Q-1004-O3:created"]
    assert [c for c, _ in handler.calls] == [503, 503, 200, 200, 200]
    assert [d["status"] for d in report["delivered"]] == ["delivered"] * 3
    again = json.loads(_ok(run("sync", "--to", url, "--json")).stdout)
    assert again["delivered"] == [] and len(handler.received) == 3  # acknowledged events are not sent again


def test_a_4xx_stops_the_sync_and_marks_nothing(run, workdir: Path, erp: Any, monkeypatch) -> None:
    url, handler = erp
    handler.status_for_all = 400
    _three_orders(run, monkeypatch)
    result = run("sync", "--to", url, "--json", "--backoff", "0.01")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["delivered"] == [] and "HTTP 400: bad order" in report["failed"]["detail"]
    assert "sync stopped at order:Q-1004-O1:created" in result.stderr
    assert len(handler.calls) == 1  # no retry on a 4xx, and nothing after the failed event
    with sqlite3.connect(workdir / ".cpq" / "journal.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL").fetchone()[0] == 0


def test_ubl_output_carries_the_required_order_elements(run, workdir: Path, monkeypatch) -> None:
    _three_orders(run, monkeypatch)
    _ok(run("sync", "--to", str(workdir / "erp"), "--format", "ubl"))
    files = sorted((workdir / "erp").glob("*.xml"))
    assert len(files) == 3
    ns = {"o": "urn:oasis:names:specification:ubl:schema:xsd:Order-2",
          "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
          "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
    root = ET.parse(files[0]).getroot()
    assert root.tag == f"{{{ns['o']}}}Order"
    assert root.findtext("cbc:ID", namespaces=ns) == "Q-1004-O1"
    assert root.findtext("cbc:IssueDate", namespaces=ns) == "2026-11-22"
    assert root.find("cac:BuyerCustomerParty/cac:Party/cac:PartyIdentification/cbc:ID", ns).text == "UMBRELLA"
    assert root.find("cac:SellerSupplierParty/cac:Party/cac:PartyName/cbc:Name", ns) is not None
    lines = root.findall("cac:OrderLine/cac:LineItem", ns)
    assert len(lines) == 3
    assert lines[0].find("cbc:Quantity", ns).text == "12"
    assert lines[0].find("cac:Item/cac:SellersItemIdentification/cbc:ID", ns).text == "EDGE-10"


def test_secrets_never_leave_the_environment(run, workdir: Path, monkeypatch, team_key: Path) -> None:
    from aiosmtpd.controller import Controller

    port = _free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)  # no AUTH: login must fail
    controller.start()
    try:
        (workdir / "cpq.toml").write_text((workdir / "cpq.toml").read_text() + (
            f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nfrom = "cpq@x.example"\nusername = "cpq"\n'))
        monkeypatch.setenv("CPQ_SMTP_PASSWORD", PASSWORD)
        quote = workdir / "q.json"
        quote.write_text(json.dumps(_quote(35), indent=2))
        submitted = _ok(run("submit", str(quote), "--as", "rita", "--format", "json"))
        ticked = _ok(run("tick", "--format", "json"))
        outputs = submitted.stdout + submitted.stderr + ticked.stdout + ticked.stderr
        assert "could not be delivered" in submitted.stderr
        assert json.loads(ticked.stdout)["failed"] > 0
    finally:
        controller.stop()
    assert PASSWORD not in outputs
    journal = b"".join(p.read_bytes() for p in (workdir / ".cpq").iterdir())
    assert PASSWORD.encode() not in journal
    (workdir / "cpq.toml").write_text((workdir / "cpq.toml").read_text() + f'password = "{PASSWORD}"\n')
    refused = run("tick")
    assert refused.exit_code == 2 and "password comes from the environment" in refused.stderr
    assert PASSWORD not in refused.stderr + refused.stdout


def test_webhook_notifications_and_retry_by_tick(run, workdir: Path, erp: Any) -> None:
    url, handler = erp
    (workdir / "cpq.toml").write_text((workdir / "cpq.toml").read_text() + f'\n[webhook]\nurl = "{url}"\n')
    quote = workdir / "q.json"
    quote.write_text(json.dumps(_quote(35), indent=2))
    submitted = _ok(run("submit", str(quote), "--as", "rita"))
    assert "2 notification(s) could not be delivered" in submitted.stderr
    assert len(handler.received) == 3  # five people asked; the first two calls met a 503
    ticked = json.loads(_ok(run("tick", "--format", "json")).stdout)
    assert (ticked["sent"], ticked["failed"]) == (2, 0)
    events = [json.loads(body) for _, body in handler.received]
    assert sorted(e["to"] for e in events) == ["alice", "dan", "erin", "lee", "lena"]
    assert all(e["event"] == "request" and e["quote_id"] == Q for e in events)
    assert len({key for key, _ in handler.received}) == 5  # each notification delivered once
    assert json.loads(_ok(run("tick", "--format", "json")).stdout)["sent"] == 0


def test_a_delegate_handed_open_requests_is_notified_with_their_own_code(run, workdir: Path, smtp: Inbox) -> None:
    """Issue 14: `delegate --reassign-pending` asks the delegate, in an e-mail of their own."""
    _ok(run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam"))
    assert [str(m["To"]) for m in smtp.messages] == ["alice@northwind.example"]
    _ok(run("delegate", "--as", "alice", "--to", "carol", "--from", "2026-01-01", "--until", "2099-12-31",
            "--reassign-pending"))
    to_carol = [m for m in smtp.messages if m["To"] == "carol@northwind.example"]
    assert len(to_carol) == 1 and "Q-1002" in str(to_carol[0]["Subject"])
    body = to_carol[0].get_content()
    assert "as delegate of alice" in body
    codes = {line.split(":", 1)[1].strip() for m in smtp.messages for line in m.get_content().splitlines()
             if line.startswith("cpq-reply-code:")}
    assert len(codes) == 2  # alice's and carol's codes differ
    reply = _reply(to_carol[0], "carol@northwind.example", "APPROVE\n", "<carol@x>")
    (workdir / "carol.eml").write_bytes(bytes(reply))
    _ok(run("mail", "ingest", "carol.eml"))
    status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
    item = status["requests"][0]["items"][0]
    assert (item["decided_by"], item["on_behalf_of"], item["channel"]) == ("carol", "alice", "email")


def test_a_replacement_approver_is_notified_of_the_requests_moved_to_them(run, workdir: Path, smtp: Inbox) -> None:
    _ok(run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam"))
    _ok(run("approvers", "replace", "alice", "carol", "--apply", "--as", "dan"))
    to_carol = [m for m in smtp.messages if m["To"] == "carol@northwind.example"]
    assert len(to_carol) == 1 and "Q-1002" in str(to_carol[0]["Subject"])
    assert "as delegate" not in to_carol[0].get_content()


def test_each_user_is_notified_on_their_own_channels(run, workdir: Path, smtp: Inbox, erp: Any) -> None:
    """users.X.notify chooses e-mail and/or the team webhook; `[notify] channels` is the default."""
    url, handler = erp
    handler.fail_first = 0
    config = workdir / "cpq.toml"
    config.write_text(config.read_text() + f'\n[webhook]\nurl = "{url}"\n\n[notify]\nchannels = ["email"]\n'
                      '\n[web]\nurl = "https://approvals.example"\n')
    org = workdir / "policies" / "org.yaml"
    org.write_text(org.read_text().replace(
        "lee:    {name: Lee Chen, email: lee@northwind.example,",
        "lee:    {notify: [webhook], name: Lee Chen, email: lee@northwind.example,").replace(
        "lena:   {name: Lena Novak, email: lena@northwind.example,",
        "lena:   {notify: [email, webhook], name: Lena Novak, email: lena@northwind.example,"))
    assert _ok(run("lint", "policies")).exit_code == 0
    quote = workdir / "q.json"
    quote.write_text(json.dumps(_quote(35), indent=2))
    _ok(run("submit", str(quote), "--as", "rita"))
    mailed = sorted(str(m["To"]).split("@")[0] for m in smtp.messages)
    hooked = sorted(json.loads(body)["to"] for _, body in handler.received)
    assert mailed == ["alice", "dan", "erin", "lena"]  # lee chose the webhook only
    assert hooked == ["lee", "lena"]  # the team default is e-mail only; lee and lena chose the webhook
    assert all("cpq-reply-code" not in body and "/s/" not in body for _, body in handler.received)
    assert all("https://approvals.example/s/" in m.get_content() for m in smtp.messages)  # links only in e-mails


def test_a_bad_notify_setting_is_one_line(run, workdir: Path) -> None:
    config = workdir / "cpq.toml"
    config.write_text(config.read_text() + '\n[notify]\nchannels = ["pigeon"]\n')
    done = run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam")
    assert done.exit_code == 2 and "[notify] channels" in done.stderr and "Traceback" not in done.stderr
    org = workdir / "policies" / "org.yaml"
    config.write_text(config.read_text().replace('channels = ["pigeon"]', ""))
    org.write_text(org.read_text().replace("lee:    {name:", "lee:    {notify: [fax], name:"))
    linted = run("lint", "policies")
    assert linted.exit_code == 1 and "notify" in linted.stdout
