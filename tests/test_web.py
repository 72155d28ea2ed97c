"""The web inbox through Starlette's test client: sign-in links, the approval page, decisions, and
every way around them (a reused, expired or forged link, another item, a missing CSRF token)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pytest

from cpq_cli.outbound.links import INBOX, link_for, make_link_token
from cpq_cli.outbound.settings import WebSettings
from tests.helpers import set_locale
from tests.mailserver import Inbox

if TYPE_CHECKING:
    from starlette.testclient import TestClient


def _web_app(key: bytes, settings: WebSettings, **config: Any) -> Any:
    """The inbox app (imported here, as Starlette is below: listing the tests needs neither)."""
    from cpq_cli.web.app import WebConfig, create_app

    return create_app(WebConfig(key, settings, **config))


def _browser(app: Any, **options: Any) -> TestClient:
    """A client for the app (Starlette's)."""
    from starlette.testclient import TestClient

    return TestClient(app, **options)

NOW = "2026-11-24T09:00:00+00:00"
Q2 = "examples/quotes/Q-1002-manager-discount.json"


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def web(run: Any, workdir: Path, team_key: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app over the working directory's journal, with Q-1002 submitted (alice is asked)."""
    monkeypatch.setenv("CPQ_NOW", NOW)
    _ok(run("submit", Q2, "--as", "sam"))
    settings = WebSettings("http://testserver", dt.timedelta(days=7), dt.timedelta(hours=8), False, "127.0.0.1")
    app = _web_app(team_key.read_bytes(), settings, now=NOW)
    return _browser(app, base_url="http://testserver")


def _item(run: Any, quote_id: str, approver: str) -> str:
    status = json.loads(_ok(run("status", quote_id, "--format", "json")).stdout)
    return next(i["id"] for r in status["requests"] for i in r["items"] if i["approver"] == approver)


def _link(team_key: Path, user: str, scope: str, *, days: int = 7) -> str:
    now = dt.datetime.fromisoformat(NOW)
    return urlsplit(link_for(team_key.read_bytes(), "http://testserver", user, scope, now,
                             dt.timedelta(days=days))).path


def _form(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def _sign_in(client: TestClient, link: str, **options: Any) -> Any:
    """Open a sign-in link as a person does: the link's page, then its Continue button."""
    shown = client.get(link, **options)
    assert shown.status_code == 200 and "set-cookie" not in shown.headers, shown.text
    return client.post(link, **options)


def _csrf(client: TestClient) -> str:
    """The session's CSRF token, read from its cookie (not secret from the browser that holds it)."""
    import base64

    body = client.cookies["cpq_session"].split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["c"])


def _signed_ins(workdir: Path) -> int:
    """How many sign-ins the journal recorded (SQLite, or the PostgreSQL journal CPQ_JOURNAL names)."""
    from tests.pgserver import journal_at

    with journal_at(workdir) as conn:
        events = conn.execute("SELECT count(*) FROM events WHERE kind = 'web.signed_in'").fetchone()[0]
        links = conn.execute("SELECT count(*) FROM web_links").fetchone()[0]
    assert events == links
    return int(events)


def test_opening_a_link_uses_nothing_until_the_visitor_continues(run: Any, web: Any, workdir: Path,
                                                                 team_key: Path) -> None:
    """Mail scanners and link previews fetch links (HEAD, GET): that must neither spend the link nor
    get a session. Only the page's own button (a POST from the page: same-site, so in a browser the
    SameSite=Strict cookie comes along to the approval page) uses it."""
    item = _item(run, "Q-1002", "alice")
    link = _link(team_key, "alice", item)
    scanner = _browser(web.app)
    assert scanner.head(link).status_code == 200
    for _ in range(2):
        shown = scanner.get(link, follow_redirects=False)
        assert shown.status_code == 200 and "set-cookie" not in shown.headers
        assert "Alice Ng" in shown.text and f'<form method="post" action="{link}">' in shown.text
    assert scanner.get(f"/items/{quote(item, safe='')}").status_code == 401
    assert _signed_ins(workdir) == 0
    signed = web.post(link, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == f"/items/{quote(item, safe='')}"
    assert "set-cookie" in signed.headers and web.get(signed.headers["location"]).status_code == 200
    assert _signed_ins(workdir) == 1
    for method in (scanner.get, scanner.post):  # used now: the page says so, and no second session
        again = method(link, follow_redirects=False)
        assert again.status_code == 403 and "Link already used" in again.text and "set-cookie" not in again.headers


@pytest.mark.parametrize("target", ["sign-in", "decision", "sign-out"])
def test_a_form_posted_from_another_site_is_refused(run: Any, web: Any, workdir: Path, team_key: Path,
                                                    target: str) -> None:
    """Browsers say where a form came from (Sec-Fetch-Site). A page on another site that posts a
    sign-in link (to sign the victim in as the attacker) or a decision is refused, and nothing is used."""
    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    link = _link(team_key, "alice", item)
    foreign = {"sec-fetch-site": "cross-site"}
    if target == "sign-in":
        refused = web.post(link, headers=foreign, follow_redirects=False)
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
        assert _signed_ins(workdir) == 0 and web.post(link).status_code == 200  # the real click still works
        return
    page = web.post(link, headers={"sec-fetch-site": "same-origin"})
    assert page.status_code == 200
    if target == "decision":
        refused = web.post(path, data={**_form(page.text), "decision": "approve"}, headers=foreign)
        assert refused.status_code == 403
        status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
        assert status["requests"][0]["items"][0]["status"] == "REQUESTED"
    else:
        refused = web.post("/sign-out", headers=foreign, follow_redirects=False)
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
        assert web.get(path).status_code == 200


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/nope", 404), ("GET", "/items/a%2Fb", 404), ("GET", "/s/", 404), ("DELETE", "/inbox", 405),
    ("GET", "/static/app.css", 200), ("GET", "/static/../web/app.py", 404), ("GET", "/", 200),
])
def test_every_response_carries_the_security_headers(web: Any, method: str, path: str, expected: int) -> None:
    """Not only the app's pages: Starlette's own answers (not found, wrong method, static files) too."""
    from cpq_cli.web.app import HEADERS

    response = web.request(method, path, follow_redirects=False)
    assert response.status_code == expected
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (name, path)


def test_a_link_signs_in_once_and_the_decision_lands_with_the_web_channel(run: Any, web: Any, team_key: Path) -> None:
    item = _item(run, "Q-1002", "alice")
    link = _link(team_key, "alice", item)
    first = _sign_in(web, link, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == f"/items/{quote(item, safe='')}"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = web.get(first.headers["location"])
    assert page.status_code == 200
    for expected in ("Q-1002", "Initech", "discount-manager", "Approval path", "EUR 67,700.00"):
        assert expected in page.text, expected
    assert page.headers["referrer-policy"] == "no-referrer" and "default-src 'none'" in page.headers[
        "content-security-policy"]
    assert not re.search(r'(src|href)="https?://', page.text)  # nothing from outside the app
    form = _form(page.text)
    done = web.post(first.headers["location"], data={**form, "decision": "approve", "comment": "fine"})
    assert done.status_code == 200 and "approved by alice" in done.text
    status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
    decided = status["requests"][0]["items"][0]
    assert (decided["status"], decided["decided_by"], decided["channel"]) == ("APPROVED", "alice", "web")
    assert status["submission"]["status"] == "APPROVED"
    assert "by alice via web: fine" in _ok(run("status", "Q-1002")).stdout
    again = _browser(web.app).get(link, follow_redirects=False)  # another browser, the same link
    assert again.status_code == 403 and "Link already used" in again.text
    assert _ok(run("journal", "verify")).exit_code == 0
    log = json.loads(_ok(run("log", "Q-1002", "--format", "json")).stdout)["events"]
    assert next(e for e in log if e["kind"] == "item.approved")["data"]["channel"] == "web"


@pytest.mark.parametrize("case", ["expired", "forged-user", "forged-scope", "garbage", "other-key"])
def test_a_bad_link_gets_a_clear_page_and_no_session(run: Any, web: Any, team_key: Path, case: str) -> None:
    item = _item(run, "Q-1002", "alice")
    key = team_key.read_bytes()
    expires = int(dt.datetime.fromisoformat(NOW).timestamp())
    token = {
        "expired": lambda: make_link_token(key, "alice", item, expires - 1),
        "forged-user": lambda: _swap(make_link_token(key, "alice", item, expires + 3600), "alice", "dan"),
        "forged-scope": lambda: _swap(make_link_token(key, "alice", item, expires + 3600), item, INBOX),
        "garbage": lambda: "not-a-token",
        "other-key": lambda: make_link_token(b"k" * 32, "alice", item, expires + 3600),
    }[case]()
    for method in (web.get, web.post):  # the link's page, and its button
        response = method(f"/s/{quote(token, safe='')}", follow_redirects=False)
        assert response.status_code == (410 if case == "expired" else 403)
        assert ("Link expired" if case == "expired" else "Link not valid") in response.text
        assert "set-cookie" not in response.headers
    assert web.get(f"/items/{quote(item, safe='')}").status_code == 401


def _swap(token: str, old: str, new: str) -> str:
    """The token with one claim changed and the MAC kept: what an attacker can do without the key."""
    import base64

    body, tag = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload = {k: (new if v == old else v) for k, v in payload.items()}
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + tag


def test_an_item_link_opens_that_item_only(run: Any, web: Any, team_key: Path) -> None:
    _ok(run("submit", "examples/quotes/Q-1004-multi-site.json", "--as", "rita"))
    mine, other = _item(run, "Q-1002", "alice"), _item(run, "Q-1004", "alice")
    assert _sign_in(web, _link(team_key, "alice", mine)).status_code == 200
    page = web.get(f"/items/{quote(other, safe='')}")
    assert page.status_code == 403 and "another request" in page.text
    assert web.get("/inbox", follow_redirects=False).status_code == 303  # an item session has no inbox
    form = _form(web.get(f"/items/{quote(mine, safe='')}").text)
    refused = web.post(f"/items/{quote(other, safe='')}", data={**form, "quote": "Q-1004", "decision": "approve"})
    assert refused.status_code == 403
    status = json.loads(_ok(run("status", "Q-1004", "--format", "json")).stdout)
    assert all(i["status"] == "REQUESTED" for r in status["requests"] for i in r["items"] if i["approver"] == "alice")


@pytest.mark.parametrize("case", ["no-csrf", "wrong-csrf", "seen-other-content", "no-decision", "reject-no-reason"])
def test_a_decision_needs_the_form_it_was_shown(run: Any, web: Any, team_key: Path, case: str) -> None:
    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    form = _form(_sign_in(web, _link(team_key, "alice", item)).text)
    data = {**form, "decision": "approve"}
    if case == "no-csrf":
        del data["csrf"]
    elif case == "wrong-csrf":
        data["csrf"] = "0" * 32
    elif case == "seen-other-content":
        data["quote_hash"] = "v2:sha256:" + "0" * 64
    elif case == "no-decision":
        data["decision"] = "maybe"
    else:
        data["decision"] = "reject"
    response = web.post(path, data=data)
    assert response.status_code in (400, 403, 409), response.text
    assert "Traceback" not in response.text
    status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
    assert status["requests"][0]["items"][0]["status"] == "REQUESTED"


def test_the_inbox_lists_what_waits_oldest_first_with_escalation_times(run: Any, web: Any, team_key: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPQ_NOW", "2026-11-24T10:00:00+00:00")
    _ok(run("submit", "examples/quotes/Q-1004-multi-site.json", "--as", "rita"))
    page = _sign_in(web, _link(team_key, "alice", INBOX))
    assert page.status_code == 200 and "Waiting for you, Alice Ng" in page.text
    assert page.text.index("Q-1002") < page.text.index("Q-1004")  # oldest first
    first = re.search(r'href="(/items/[^"]+)"', page.text)
    assert first is not None and web.get(first.group(1)).status_code == 200
    history = web.get("/quotes/Q-1002")
    assert history.status_code == 200 and "submission.created" in history.text
    victor = web.get(f"/items/{quote(_item(run, 'Q-1004', 'lee'), safe='')}")
    assert victor.status_code == 409 and "not asked to decide" in victor.text  # alice's session, lee's item
    _ok(run("submit", "examples/quotes/Q-1005-big-deal.json", "--as", "nora"))  # alice is not part of it
    assert web.get("/quotes/Q-1005").status_code == 403
    assert web.get("/quotes/Q-1002").status_code == 200


@pytest.mark.parametrize("change", ["inactive", "removed"])
def test_a_session_ends_when_its_user_leaves_the_policy(run: Any, web: Any, workdir: Path, team_key: Path,
                                                        change: str) -> None:
    """The policy is read at every request: a user made inactive (or removed) after signing in sees
    nothing more — not the inbox, not an item, not a quote's history — and decides nothing."""
    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    _sign_in(web, _link(team_key, "alice", INBOX))
    form = _form(web.get(path).text)
    assert web.get("/quotes/Q-1002").status_code == 200
    org = workdir / "policies" / "org.yaml"
    text = org.read_text()
    line = next(x for x in text.splitlines(keepends=True) if x.startswith("  alice:"))
    if change == "inactive":
        text = text.replace(line, line.replace("{name:", "{active: false, name:"))
    else:
        text = text.replace(line, "").replace("manager: alice}", "manager: mira}")
    org.write_text(text)
    _ok(run("lint", "policies"))
    for where in ("/inbox", path, "/quotes/Q-1002"):
        answer = web.get(where, follow_redirects=False)
        assert answer.status_code == 401 and "Sign in" in answer.text, (where, answer.text)
        assert "submission.created" not in answer.text
    home = web.get("/", follow_redirects=False)
    assert home.status_code == 200 and "location" not in home.headers  # no longer sent on to the inbox
    refused = web.post(path, data={**form, "decision": "approve"})
    assert refused.status_code == 401
    status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
    assert status["requests"][0]["items"][0]["status"] == "REQUESTED"


def test_a_quote_s_history_is_shown_to_whoever_may_see_its_item(run: Any, web: Any, team_key: Path) -> None:
    """The history page asks what the item page asks. An approver whose request moved to someone else
    (`approvers replace`) sees neither through an item link made for them; a delegate the approver
    named after the request was made sees both (the item page already, the history too now)."""
    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    before = _link(team_key, "alice", item)  # in alice's e-mail, not yet opened
    _ok(run("delegate", "--as", "alice", "--to", "carol", "--from", "2026-11-24", "--until", "2026-11-30"))
    carol = _browser(web.app)
    _sign_in(carol, _link(team_key, "carol", INBOX))
    assert carol.get(path).status_code == 200 and carol.get("/quotes/Q-1002").status_code == 200
    _ok(run("approvers", "replace", "alice", "mira", "--apply", "--as", "dan"))
    alice = _browser(web.app)
    _sign_in(alice, before, follow_redirects=False)
    assert alice.get(path).status_code == 409
    history = alice.get("/quotes/Q-1002")
    assert history.status_code == 403 and "submission.created" not in history.text
    assert carol.get("/quotes/Q-1002").status_code == 403  # alice's delegate, and it is no longer alice's


def test_where_decisions_must_be_signed_the_web_offers_no_form_and_records_nothing(run: Any, web: Any,
                                                                                  workdir: Path,
                                                                                  team_key: Path) -> None:
    """A browser holds no SSH key: where the policy set requires signed decisions the page says how to
    decide instead, and a decision posted anyway is refused by the workflow, unsigned nothing lands."""
    import yaml

    (workdir / "policies" / "signed.yaml").write_text(yaml.safe_dump({"settings": {"require_signed_decisions": True}}))
    _ok(run("lint", "policies"))
    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    page = _sign_in(web, _link(team_key, "alice", item))
    assert page.status_code == 200 and 'name="decision"' not in page.text
    assert "signed decisions" in page.text and "cpq approve Q-1002 --sign-key" in page.text
    status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
    refused = web.post(path, data={"csrf": _csrf(web), "quote": "Q-1002", "decision": "approve",
                                   "quote_hash": status["submission"]["quote_hash"]})
    assert refused.status_code == 409 and "requires signed decisions" in refused.text
    status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
    assert status["requests"][0]["items"][0]["status"] == "REQUESTED"
    assert _ok(run("journal", "verify")).exit_code == 0


def test_the_escalation_time_shows_on_the_page(run: Any, workdir: Path, web: Any, team_key: Path) -> None:
    _ok(run("approve", "Q-1002", "--as", "alice"))
    quote_file = workdir / "q.json"
    data = json.loads((workdir / "examples/quotes/Q-1003-every-tier.json").read_text())
    quote_file.write_text(json.dumps(data))
    _ok(run("submit", str(quote_file), "--as", "rita"))
    for who in ("alice", "mira"):
        _ok(run("approve", "Q-1003", "--as", who))
    item = _item(run, "Q-1003", "victor")  # discount-vp escalates after 48h
    page = _sign_in(web, _link(team_key, "victor", item))
    assert "Undecided, it is escalated on 2026-11-26 09:00 UTC." in page.text


@pytest.mark.parametrize(("locale", "accept", "expected"), [
    ("de-DE", None, ["Ihre Entscheidung", "67.700,00\u00a0€", "Genehmigen"]),
    ("ja-JP", None, ["あなたの判断", "承認経路", "承認"]),
    (None, "fr-FR,fr;q=0.9", ["Votre décision", "67\u202f700,00\u00a0€", "Approuver"]),
    (None, "es", ["Tu decisión", "Aprobar"]),
])
def test_the_page_is_in_the_approver_s_language(run: Any, workdir: Path, web: Any, team_key: Path,
                                                locale: str | None, accept: str | None,
                                                expected: list[str]) -> None:
    if locale:
        set_locale(workdir, "alice", locale)
    item = _item(run, "Q-1002", "alice")
    headers = {"accept-language": accept} if accept else {}
    page = _sign_in(web, _link(team_key, "alice", item), headers=headers)
    assert page.status_code == 200
    for text in expected:
        assert text in page.text, text


def test_request_emails_carry_a_sign_in_link_in_the_recipient_s_language(run: Any, workdir: Path, team_key: Path,
                                                                          smtp: Inbox) -> None:
    config = workdir / "cpq.toml"
    config.write_text(config.read_text() + '\n[web]\nurl = "http://testserver"\n')
    set_locale(workdir, "alice", "de-DE")
    _ok(run("submit", Q2, "--as", "sam"))
    (message,) = [m for m in smtp.messages if m["To"] == "alice@northwind.example"]
    body = message.get_content()
    assert str(message["Subject"]).startswith("[cpq ") and "Genehmigung angefragt: Q-1002" in str(message["Subject"])
    assert "Nettosumme: 67.700,00\u00a0€" in body and "GENEHMIGEN oder ABLEHNEN" in body
    link = re.search(r"http://testserver(/s/\S+)", body)
    assert link is not None
    settings = WebSettings("http://testserver", dt.timedelta(days=7), dt.timedelta(hours=8), False, "127.0.0.1")
    client = _browser(_web_app(team_key.read_bytes(), settings), base_url="http://testserver")
    page = _sign_in(client, link.group(1))
    assert page.status_code == 200 and "Ihre Entscheidung" in page.text
    form = _form(page.text)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None
    done = client.post(action.group(1), data={**form, "decision": "reject", "comment": "zu hoch"})
    assert done.status_code == 200 and "abgelehnt von alice" in done.text
    assert json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)["submission"]["status"] == "REJECTED"


@pytest.mark.parametrize("case", ["read-only", "missing", "empty-postgresql"])
def test_a_journal_that_cannot_be_written_or_is_gone_gets_one_clear_page(run: Any, web: Any, workdir: Path,
                                                                         team_key: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         request: pytest.FixtureRequest,
                                                                         case: str) -> None:
    """A 503 page in the app's dress, saying nothing of the server's files; no traceback, no cookie,
    nothing recorded — and a missing journal is not created, nor an empty team database (a wrong
    URL) made one (a link used in a new, empty journal could be used again once the real one is back)."""
    import cpq_cli.journal.db as db

    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    form = _form(_sign_in(web, _link(team_key, "alice", item)).text)
    journal = workdir / ".cpq" / "journal.sqlite3"
    opened = db._connect
    empty = ""
    if case == "read-only":  # what a read-only disk does (chmod alone does not stop root)
        monkeypatch.setattr(db, "_connect", lambda where, readonly: opened(where, readonly=True))
    elif case == "missing":
        journal.rename(workdir / "elsewhere.sqlite3")
    else:
        empty = request.getfixturevalue("pg_server").fresh_database()
        monkeypatch.setenv("CPQ_JOURNAL", empty)
    link = _link(team_key, "alice", INBOX)
    visitor = _browser(web.app)
    answers = [visitor.post(link, follow_redirects=False),
               web.post(path, data={**form, "decision": "approve", "comment": "fine"})]
    if case != "read-only":
        answers += [visitor.get(link), web.get(path), web.get("/quotes/Q-1002")]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert "Not possible" in answer.text and "journal" in answer.text
        assert "Traceback" not in answer.text and str(workdir) not in answer.text and ".sqlite3" not in answer.text
        assert "set-cookie" not in answer.headers and answer.headers["content-security-policy"]
    if case == "missing":
        assert not journal.exists()
        (workdir / "elsewhere.sqlite3").rename(journal)
    if empty:
        import psycopg

        with psycopg.connect(empty) as conn:  # still an empty database, not a journal
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        monkeypatch.delenv("CPQ_JOURNAL")
    monkeypatch.setattr(db, "_connect", opened)
    assert _signed_ins(workdir) == 1  # the first sign-in only
    status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
    assert status["requests"][0]["items"][0]["status"] == "REQUESTED"
    assert _ok(run("journal", "verify")).exit_code == 0


def test_an_unexpected_error_is_a_clear_500_page(run: Any, web: Any, team_key: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import cpq_cli.services.approval_views as views

    item = _item(run, "Q-1002", "alice")
    _sign_in(web, _link(team_key, "alice", item))

    def broken(*args: Any) -> None:
        raise RuntimeError("a bug, in /srv/cpq/secret/place.py")

    monkeypatch.setattr(views, "item_page", broken)
    answer = _browser(web.app, raise_server_exceptions=False, cookies=web.cookies).get(
        f"/items/{quote(item, safe='')}")
    assert answer.status_code == 500 and answer.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in answer.text and "/srv/cpq" not in answer.text and "Traceback" not in answer.text
    assert answer.headers["content-security-policy"] and answer.headers["cache-control"] == "no-store"


def test_serve_needs_the_secret_key(run: Any, workdir: Path) -> None:
    result = run("serve", "--port", "1")
    assert result.exit_code == 2 and "secret key" in result.stderr and "Traceback" not in result.stderr


# ----------------------------------------------------------------- attacks the inbox withstands


def _app(team_key: Path, now: str = NOW, key: bytes | None = None) -> TestClient:
    """Another `cpq serve` over the same journal (a second process keeps no state either), maybe later."""
    settings = WebSettings("http://testserver", dt.timedelta(days=7), dt.timedelta(hours=8), False, "127.0.0.1")
    return _browser(_web_app(key or team_key.read_bytes(), settings, now=now),
                      base_url="http://testserver")


def _open_item(run: Any, quote_id: str) -> dict[str, Any]:
    status = json.loads(_ok(run("status", quote_id, "--format", "json")).stdout)
    return {"status": [i["status"] for r in status["requests"] for i in r["items"]],
            "hash": status["submission"]["quote_hash"]}


@pytest.mark.parametrize("who", ["unknown", "inactive"])
def test_a_link_for_someone_who_is_not_an_active_user_signs_no_one_in(run: Any, web: Any, workdir: Path,
                                                                      team_key: Path, who: str) -> None:
    """Rightly signed with the team's key, still refused: the policy says who may sign in."""
    item = _item(run, "Q-1002", "alice")
    if who == "inactive":
        org = workdir / "policies" / "org.yaml"
        org.write_text(org.read_text().replace("  erin:   {name:", "  erin:   {active: false, name:"))
        _ok(run("lint", "policies"))
    link = _link(team_key, "mallory" if who == "unknown" else "erin", item)
    for method in (web.get, web.post):
        answer = method(link, follow_redirects=False)
        assert answer.status_code == 403 and "Link not valid" in answer.text and "set-cookie" not in answer.headers
    assert _signed_ins(workdir) == 0


@pytest.mark.parametrize("case", ["truncated", "flipped", "edited-user", "other-key", "a-link-token",
                                  "expired-8h-later"])
def test_a_forged_stale_or_foreign_cookie_is_no_session(run: Any, web: Any, team_key: Path, case: str) -> None:
    """The cookie is checked by the server at every request: its MAC (under the team's key, for
    sessions only: a link token is not a cookie), and its expiry by the server's clock."""
    from cpq_cli.outbound.links import make_session

    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    _sign_in(web, _link(team_key, "alice", item))
    cookie, csrf = web.cookies["cpq_session"], _csrf(web)
    expires = int(dt.datetime.fromisoformat(NOW).timestamp()) + 3600
    client = web
    if case == "truncated":
        cookie = cookie[:-1]
    elif case == "flipped":
        cookie = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
    elif case == "edited-user":
        cookie = _swap(cookie, "alice", "mira")
    elif case == "other-key":
        cookie, _ = make_session(b"k" * 32, "alice", item, expires, "0" * 24)
    elif case == "a-link-token":
        cookie = make_link_token(team_key.read_bytes(), "alice", item, expires)
    else:  # the browser would have dropped it (max-age); the server refuses it too
        client = _app(team_key, (dt.datetime.fromisoformat(NOW) + dt.timedelta(hours=8, seconds=1)).isoformat())
    client.cookies.clear()
    client.cookies.set("cpq_session", cookie)
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 401 and "Sign in" in answer.text
    posted = client.post(path, data={"csrf": csrf, "quote": "Q-1002", "quote_hash": _open_item(
        run, "Q-1002")["hash"], "decision": "approve"})
    assert posted.status_code == 401 and _open_item(run, "Q-1002")["status"] == ["REQUESTED"]


def test_a_cookie_copied_before_sign_out_is_refused_after_it(store: str, run: Any, web: Any, workdir: Path,
                                                             team_key: Path) -> None:
    """Sign out ends the session in the journal, not only in this browser: a copy of the cookie taken
    before (another server sharing the journal, too) gets no page and can post no decision."""
    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    _sign_in(web, _link(team_key, "alice", item))
    copy, csrf = web.cookies["cpq_session"], _csrf(web)
    thief = _app(team_key)
    thief.cookies.set("cpq_session", copy)
    assert thief.get(path).status_code == 200  # a copy is as good as the original while it lasts
    assert web.post("/sign-out", follow_redirects=False).status_code == 303
    assert web.get(path).status_code == 401  # this browser is signed out
    answer = thief.get(path)
    assert answer.status_code == 401 and "Sign in" in answer.text
    posted = thief.post(path, data={"csrf": csrf, "quote": "Q-1002", "quote_hash": _open_item(run, "Q-1002")["hash"],
                                    "decision": "approve"})
    assert posted.status_code == 401 and _open_item(run, "Q-1002")["status"] == ["REQUESTED"]
    assert thief.post("/sign-out", follow_redirects=False).status_code == 303  # nothing left to end; no error
    from tests.pgserver import journal_at

    with journal_at(workdir) as conn:
        ended = [tuple(r) for r in conn.execute("SELECT kind, actor FROM events WHERE kind = 'web.signed_out'")]
    assert ended == [("web.signed_out", "alice")]


def test_signing_out_while_made_inactive_still_ends_the_session(run: Any, web: Any, workdir: Path,
                                                                 team_key: Path) -> None:
    """Someone made inactive sees nothing, but their sign-out must still end the session: made active
    again (within the cookie's 8 hours), a copy taken before must not come back to life."""
    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    _sign_in(web, _link(team_key, "alice", item))
    copy = web.cookies["cpq_session"]
    org = workdir / "policies" / "org.yaml"
    text = org.read_text()
    line = next(x for x in text.splitlines(keepends=True) if x.startswith("  alice:"))
    org.write_text(text.replace(line, line.replace("{name:", "{active: false, name:")))
    assert web.get(path).status_code == 401
    assert web.post("/sign-out", follow_redirects=False).status_code == 303
    org.write_text(text)
    thief = _app(team_key)
    thief.cookies.set("cpq_session", copy)
    assert thief.get(path).status_code == 401


def test_signing_out_on_a_read_only_journal_still_signs_this_browser_out_and_says_what_is_left(
        run: Any, web: Any, workdir: Path, team_key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a shared computer Sign out must sign out, even when the journal cannot record it: the
    browser's cookie goes, and the page says that a copy of the session still works until it
    expires (the journal could not end it)."""
    import cpq_cli.journal.db as db

    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    _sign_in(web, _link(team_key, "alice", item))
    copy = web.cookies["cpq_session"]
    opened = db._connect
    monkeypatch.setattr(db, "_connect", lambda where, readonly: opened(where, readonly=True))
    answer = web.post("/sign-out", follow_redirects=False)
    assert answer.status_code == 503 and "signed out in this browser" in answer.text
    assert "Traceback" not in answer.text and ".sqlite3" not in answer.text
    assert re.search(r'cpq_session=""?;.*Max-Age=0', answer.headers["set-cookie"])
    assert web.get(path).status_code == 401
    monkeypatch.setattr(db, "_connect", opened)
    elsewhere = _app(team_key)
    elsewhere.cookies.set("cpq_session", copy)
    assert elsewhere.get(path).status_code == 200  # as the page said: not ended in the journal


def test_a_session_cookie_from_before_sessions_could_end_is_no_session(run: Any, web: Any, team_key: Path) -> None:
    """A cookie rightly signed but naming no link (as cpq wrote them before sessions were recorded)
    is refused: there would be nothing to sign out."""
    from cpq_cli.outbound.links import SESSION_PURPOSE, _sign

    item = _item(run, "Q-1002", "alice")
    expires = int(dt.datetime.fromisoformat(NOW).timestamp()) + 3600
    web.cookies.set("cpq_session", _sign(team_key.read_bytes(), SESSION_PURPOSE,
                                         {"u": "alice", "s": item, "exp": expires, "c": "0" * 32}))
    assert web.get(f"/items/{quote(item, safe='')}").status_code == 401


def test_one_link_gives_one_session_however_many_ask_at_once(store: str, run: Any, web: Any, workdir: Path,
                                                            team_key: Path) -> None:
    """Eight browsers press Continue on one link at the same moment, through two servers sharing the
    journal (SQLite, and a team journal on PostgreSQL): the journal's unique nonce lets exactly one in."""
    import threading

    item = _item(run, "Q-1002", "alice")
    link = _link(team_key, "alice", item)
    servers = [web.app, _app(team_key).app]
    start = threading.Barrier(8)
    answers: list[Any] = []

    def press(n: int) -> None:
        client = _browser(servers[n % 2], base_url="http://testserver")
        start.wait()
        answers.append(client.post(link, follow_redirects=False))

    threads = [threading.Thread(target=press, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [303] + [403] * 7
    assert sum("set-cookie" in a.headers for a in answers) == 1
    assert all("Link already used" in a.text for a in answers if a.status_code == 403)
    assert _signed_ins(workdir) == 1 and _ok(run("journal", "verify")).exit_code == 0


@pytest.mark.parametrize("case", ["csrf-of-another-session", "another-quote", "no-quote", "resubmitted"])
def test_a_decision_form_cannot_be_turned_on_something_else(run: Any, web: Any, workdir: Path, team_key: Path,
                                                            case: str) -> None:
    """The hidden fields are the visitor's to edit: pointing the form at another quote alice is asked
    on, at none, or at the quote as it was before a resubmission, or a CSRF token from another
    (even alice's own other) session, decides nothing."""
    _ok(run("submit", "examples/quotes/Q-1004-multi-site.json", "--as", "rita"))  # alice is asked here too
    item = _item(run, "Q-1002", "alice")
    path = f"/items/{quote(item, safe='')}"
    data = {**_form(_sign_in(web, _link(team_key, "alice", item)).text), "decision": "approve"}
    if case == "csrf-of-another-session":
        other = _app(team_key)
        _sign_in(other, _link(team_key, "alice", INBOX))
        data["csrf"] = _csrf(other)
    elif case == "another-quote":
        data["quote"] = "Q-1004"
    elif case == "no-quote":
        data["quote"] = ""
        data["quote_hash"] = _open_item(run, "Q-1004")["hash"]
    else:  # sam recalls and resubmits: a new submission, a new item; the old form is for the old one
        _ok(run("recall", "Q-1002", "--as", "sam"))
        _ok(run("submit", Q2, "--as", "sam"))
    answer = web.post(path, data=data)
    assert answer.status_code in (403, 409), answer.text
    assert "Traceback" not in answer.text
    assert "APPROVED" not in _open_item(run, "Q-1002")["status"] + _open_item(run, "Q-1004")["status"]


@pytest.mark.parametrize("tail", ["Q-1002", "Q-1002#1.1", "%2E%2E", "Q-1002%231.1%00", "Q-1002%231.1%20",
                                  "%E2%80%AEQ-1002%231.1", "Q-1002%231.1%2F..", "x" * 5000, "%2A"])
def test_an_odd_item_id_opens_nothing(run: Any, web: Any, team_key: Path, tail: str) -> None:
    """An item session opens its one item; anything else in the path — `#` unencoded (the browser
    cuts it off as a fragment), dots, NUL, a space, a right-to-left mark, a slash, 5,000 characters,
    the inbox's scope `*` — is refused, never a traceback. (Starlette's test client decodes a path
    twice, so `%2523` is left out here: uvicorn decodes once.)"""
    item = _item(run, "Q-1002", "alice")
    assert _sign_in(web, _link(team_key, "alice", item)).status_code == 200
    for method in (web.get, web.post):
        answer = method(f"/items/{tail}", follow_redirects=False)
        assert answer.status_code in (403, 404), (tail, answer.status_code)
        assert "Traceback" not in answer.text and "Your decision" not in answer.text
    assert _open_item(run, "Q-1002")["status"] == ["REQUESTED"]


def test_a_link_s_scope_never_redirects_off_the_app(web: Any, run: Any, team_key: Path) -> None:
    """Even a scope cpq would never sign (a line break, `//host`) stays a path of the app, quoted."""
    _item(run, "Q-1002", "alice")
    for scope, expected in (("evil\r\nSet-Cookie: a=b", "/items/evil%0D%0ASet-Cookie%3A%20a%3Db"),
                            ("//evil.example", "/items/%2F%2Fevil.example")):
        answer = _app(team_key).post(_link(team_key, "alice", scope), follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == expected
        assert "a=b" not in answer.headers.get("set-cookie", "")


def test_quote_text_is_shown_as_text_never_as_markup(run: Any, web: Any, workdir: Path, team_key: Path) -> None:
    """Account, title, line names and sites, a rejection's reason and what changed are the sales rep's
    (or an approver's) words: Jinja2 escapes every one, on the approval page and the history."""
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>"\''
    data = json.loads((workdir / Q2).read_text())
    data.update(id="Q-2002", name=f"Title {evil}")
    data["account"]["name"] = f"Account {evil}"
    data["lines"][0].update(name=f"Line {evil}", site=f"Site {evil}")
    quote_file = workdir / "evil.json"
    quote_file.write_text(json.dumps(data))
    _ok(run("submit", str(quote_file), "--as", "sam"))
    first = _item(run, "Q-2002", "alice")
    _sign_in(web, _link(team_key, "alice", INBOX))
    pages = {"approval": web.get(f"/items/{quote(first, safe='')}")}
    _ok(run("reject", "Q-2002", "--as", "alice", "--reason", f"Reason {evil}"))
    pages["history"] = web.get("/quotes/Q-2002")  # the rejected submission, with alice's reason
    data["lines"][1]["name"] = f"Changed {evil}"
    quote_file.write_text(json.dumps(data))
    _ok(run("submit", str(quote_file), "--as", "sam"))
    pages["changes"] = web.get(f"/items/{quote(_item(run, 'Q-2002', 'alice'), safe='')}")
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&#34;&#39;"
    for name, page in pages.items():
        assert page.status_code == 200, page.text
        assert "<script" not in page.text and "<img" not in page.text, name
    for words in ("Title", "Account", "Line", "Site"):
        assert f"{words} {escaped}" in pages["approval"].text, words
    assert f"Reason {escaped}" in pages["history"].text
    assert f"Changed {escaped}" in pages["changes"].text  # what changed since the last submission


@pytest.mark.parametrize("header", ['<script>alert(1)</script>', "x" * 10_000, "de;q=0.1, ja;q=1", "../../etc",
                                    "*", "ja\r\n"])
def test_accept_language_only_chooses_among_the_five_languages(run: Any, web: Any, team_key: Path,
                                                                header: str) -> None:
    item = _item(run, "Q-1002", "alice")
    page = _sign_in(web, _link(team_key, "alice", item), headers={"accept-language": header.strip()})
    assert page.status_code == 200
    found = re.search(r'<html lang="([a-z]+)">', page.text)
    assert found is not None and found.group(1) in ("en", "es", "fr", "ja", "de")
    assert "<script>alert" not in page.text and "../../etc" not in page.text and "x" * 100 not in page.text


def test_the_web_decision_is_the_cli_decision(run: Any, web: Any, workdir: Path, team_key: Path) -> None:
    """The same quote, approved by alice once in the browser and once with `cpq approve`: the same
    events with the same data, but for the channel; the journal verifies."""
    data = json.loads((workdir / Q2).read_text())
    data["id"] = "Q-2002"
    (workdir / "twin.json").write_text(json.dumps(data))
    _ok(run("submit", str(workdir / "twin.json"), "--as", "sam"))
    item = _item(run, "Q-1002", "alice")
    form = _form(_sign_in(web, _link(team_key, "alice", item)).text)
    assert web.post(f"/items/{quote(item, safe='')}", data={**form, "decision": "approve", "comment": "ok"}
                    ).status_code == 200
    _ok(run("approve", "Q-2002", "--as", "alice", "--comment", "ok"))

    def after_submit(quote_id: str) -> list[tuple[str, str | None, dict[str, Any]]]:
        events = json.loads(_ok(run("log", quote_id, "--format", "json")).stdout)["events"]
        first = next(i for i, e in enumerate(events) if e["kind"] == "item.requested") + 1
        return [(e["kind"], e["actor"], json.loads(json.dumps(e["data"]).replace(quote_id, "Q")))
                for e in events[first:]]

    web_events, cli_events = after_submit("Q-1002"), after_submit("Q-2002")
    assert [k for k, _, _ in web_events] == [k for k, _, _ in cli_events] == [
        "item.approved", "request.approved", "submission.approved"]
    assert web_events[0][2].pop("channel") == "web" and cli_events[0][2].pop("channel") == "cli"
    assert web_events == cli_events
    assert _ok(run("journal", "verify")).exit_code == 0


@pytest.mark.parametrize("case", ["window-ended", "owner", "submitter"])
def test_a_delegate_decides_only_in_the_window_and_never_their_own_quote(run: Any, web: Any, workdir: Path,
                                                                         team_key: Path, case: str) -> None:
    """A link made for a delegate signs in as that delegate, never as the approver: the workflow's
    checks (the window on the day of the decision, owner, submitter) decide, as for `cpq approve`."""
    quote_id = "Q-1002"
    if case == "submitter":  # sam's quote, submitted by rita
        data = json.loads((workdir / Q2).read_text())
        data["id"] = quote_id = "Q-2002"
        (workdir / "theirs.json").write_text(json.dumps(data))
        _ok(run("submit", str(workdir / "theirs.json"), "--as", "rita"))
    delegate = {"window-ended": "carol", "owner": "sam", "submitter": "rita"}[case]
    _ok(run("delegate", "--as", "alice", "--to", delegate, "--from", "2026-11-24", "--until", "2026-11-24",
            "--reassign-pending"))
    item = _item(run, quote_id, "alice")
    client = _app(team_key, "2026-11-25T09:00:00+00:00") if case == "window-ended" else web
    page = _sign_in(client, _link(team_key, delegate, item))
    assert page.status_code == 200 and 'name="decision"' not in page.text  # theirs to see, not to decide
    assert "You decide this as a delegate" not in page.text
    for verdict in ("approve", "reject"):
        answer = client.post(f"/items/{quote(item, safe='')}", data={
            "csrf": _csrf(client), "quote": quote_id, "quote_hash": _open_item(run, quote_id)["hash"],
            "decision": verdict, "comment": "mine"})
        assert answer.status_code == 409, answer.text
        assert {"window-ended": "no open request", "owner": "owns", "submitter": "submitted"}[case] in answer.text
    assert set(_open_item(run, quote_id)["status"]) == {"REQUESTED"}
