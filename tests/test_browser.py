"""End to end in a real headless Chromium (Debian's `chromium`, driven by Playwright; no browser is
downloaded): a request e-mail arrives at a local SMTP server with a link; the browser follows it
(also from a page of another site, as in web mail), signs in with the link page's button, sees the
approval path, approves; `cpq status` shows the decision by that approver via `web`.
In English, German and Japanese, at a phone's width and a desktop's; the screenshots are kept
(`CPQ_ARTIFACTS`, else the test's temporary folder)."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import set_locale
from tests.mailserver import Inbox, _free_port

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return found


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def served(workdir: Path, smtp: Inbox, team_key: Path) -> Iterator[str]:
    """`cpq serve`'s app on a free port of 127.0.0.1, and `[web] url` pointing at it."""
    import uvicorn

    from cpq_cli.outbound.settings import web_settings
    from cpq_cli.web.app import WebConfig, create_app

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    config = workdir / "cpq.toml"
    config.write_text(config.read_text() + f'\n[web]\nurl = "{url}"\n')
    settings = web_settings({"web": {"url": url}})
    server = uvicorn.Server(uvicorn.Config(create_app(WebConfig(team_key.read_bytes(), settings)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the web inbox did not start"
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ["CPQ_ARTIFACTS"]) if os.environ.get("CPQ_ARTIFACTS") else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize(("lang", "locale", "approve", "done"), [
    ("en", None, "Approve", "approved by alice"),
    ("de", "de-DE", "Genehmigen", "genehmigt von alice"),
    ("ja", "ja-JP", "承認", "alice が承認しました"),
])
def test_an_approver_follows_the_e_mail_link_and_approves_in_a_browser(
        run: Any, workdir: Path, smtp: Inbox, served: str, tmp_path: Path, lang: str, locale: str | None,
        approve: str, done: str) -> None:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    if locale:
        set_locale(workdir, "alice", locale)
    _ok(run("submit", "examples/quotes/Q-1004-multi-site.json", "--as", "rita"))
    (mail,) = [m for m in smtp.messages if m["To"] == "alice@northwind.example"]
    link = re.search(re.escape(served) + r"/s/\S+", mail.get_content())
    assert link is not None, mail.get_content()
    shots = _artifacts(tmp_path)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport=PHONE, locale=locale or "en-US")
            page.goto(link.group(0))
            page.click("form button.go")  # the link's page: its button signs in
            page.wait_for_selector("form button.approve")
            assert "Q-1004" in page.title()
            assert page.locator(".path li.mine").count() == 1  # the approval path, with this request marked
            assert "discount_pct > 10" in page.locator(".path").inner_text()
            page.screenshot(path=str(shots / f"web-approval-{lang}-phone.png"), full_page=True)
            page.set_viewport_size(DESKTOP)
            page.screenshot(path=str(shots / f"web-approval-{lang}-desktop.png"), full_page=True)
            page.set_viewport_size(PHONE)
            page.fill("#comment", "ok")
            page.get_by_role("button", name=approve, exact=True).click()
            page.wait_for_selector(".done")
            assert done in page.locator(".done").inner_text()
            page.screenshot(path=str(shots / f"web-recorded-{lang}-phone.png"), full_page=True)
            if lang == "ja":  # Japanese text is drawn with a CJK font, not tofu boxes
                widths = page.evaluate("""() => {
                    const c = document.createElement('canvas').getContext('2d');
                    c.font = '16px sans-serif';
                    return [c.measureText('承認').width, c.measureText('\\u{10FFFF}\\u{10FFFF}').width];
                }""")
                assert widths[0] > 0 and widths[0] != widths[1]
        finally:
            browser.close()
    status = json.loads(_ok(run("status", "Q-1004", "--format", "json")).stdout)
    mine = [i for r in status["requests"] for i in r["items"] if i["approver"] == "alice"]
    assert [(i["status"], i["decided_by"], i["channel"], i["comment"]) for i in mine] == [
        ("APPROVED", "alice", "web", "ok")]
    text = _ok(run("--lang", lang, "status", "Q-1004")).stdout
    assert "web" in text and "alice" in text
    for name in (f"web-approval-{lang}-phone.png", f"web-approval-{lang}-desktop.png"):
        assert (shots / name).stat().st_size > 10_000


def test_a_link_clicked_in_web_mail_signs_in_and_approves(run: Any, workdir: Path, smtp: Inbox, served: str,
                                                          tmp_path: Path) -> None:
    """Web mail is another site. Had the link signed in by itself and redirected, the SameSite=Strict
    cookie would not come along after a click there (the redirect is part of a cross-site navigation):
    Chromium would show "Sign in", the link spent. The page's own button is a same-site step."""
    import http.server
    from functools import partial

    from playwright.sync_api import sync_playwright

    executable = _chromium()
    _ok(run("submit", "examples/quotes/Q-1004-multi-site.json", "--as", "rita"))
    (mail,) = [m for m in smtp.messages if m["To"] == "alice@northwind.example"]
    link = re.search(re.escape(served) + r"/s/\S+", mail.get_content())
    assert link is not None, mail.get_content()
    webmail = tmp_path / "webmail"
    webmail.mkdir()
    (webmail / "index.html").write_text(f'<a id="open" href="{link.group(0)}">Open the request</a>')
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(webmail))
    mail_server = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), handler)
    threading.Thread(target=mail_server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
            try:  # `localhost` and `127.0.0.1` are two sites
                page = browser.new_page(viewport=PHONE, locale="en-US")
                page.goto(f"http://localhost:{mail_server.server_address[1]}/index.html")
                page.click("#open")
                page.get_by_role("button", name="Continue", exact=True).click(timeout=10_000)  # same-site
                page.wait_for_selector("form button.approve", timeout=10_000)
                page.get_by_role("button", name="Approve", exact=True).click()
                page.wait_for_selector(".done")
            finally:
                browser.close()
    finally:
        mail_server.shutdown()
        mail_server.server_close()
    status = json.loads(_ok(run("status", "Q-1004", "--format", "json")).stdout)
    mine = [i for r in status["requests"] for i in r["items"] if i["approver"] == "alice"]
    assert [(i["status"], i["channel"]) for i in mine] == [("APPROVED", "web")]
