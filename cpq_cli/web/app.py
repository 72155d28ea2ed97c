"""`cpq serve`: the approver's web inbox, a Starlette app over the same services as the CLI.

Pages: the inbox (what waits for the signed-in approver, oldest first, with escalation times),
one item's approval page (the quote as submitted, the approval path with reasons, what changed
since the last submission, approve or reject), and a quote's status and history. Every page
is in the visitor's language (their `locale` in the policy, else the browser's), works on a
phone, and needs nothing from outside the app (no CDN).

Sign-in is by link only (`/s/<token>`, from the notification e-mail; see `outbound.links`):
opening it shows a page whose button (a POST) uses the link, once, and exchanges it for a session
cookie scoped like it — one item, or the inbox. Forms carry a CSRF token and are refused when
another site posts them; every decision is `approvals.decide` with the channel `web`, checked
against the content the approver was shown.
"""

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpq_cli import i18n
from cpq_cli.acting import Channel, Clock
from cpq_cli.errors import CpqError
from cpq_cli.outbound.links import INBOX, BadLink, Claims, Session, make_session, read_session
from cpq_cli.report.path_text import reason_text
from cpq_cli.services.context import Context
from cpq_cli.services.journal import database_errors
from cpq_cli.services.web import REASONS, WebSettings

HERE = Path(__file__).parent
COOKIE = "cpq_session"
log = logging.getLogger("cpq.web")

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # sign-in links must never leak through a Referer
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """HEADERS on every response: the app's pages, and Starlette's own (not found, method not
    allowed, the static files), which are made without them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, sending)


class WebConfig(NamedTuple):
    key: bytes  # the team's secret key: signs links and sessions
    settings: WebSettings
    journal: str | Path | None = None
    policies: Path | None = None
    now: str | None = None  # a fixed clock (tests)


def create_app(config: WebConfig) -> Starlette:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)

    def context(user: str | None = None) -> Context:
        return Context(clock=Clock.read(config.now), journal=config.journal, policies=config.policies,
                       as_user=user, channel=Channel.WEB)

    def language(request: Request, ctx: Context | None, user: str | None) -> str:
        if ctx is not None and user:
            try:
                found = i18n.language_of(ctx.policy.users[user].locale) if user in ctx.policy.users else None
            except CpqError:
                found = None
            if found:
                return found
        for part in request.headers.get("accept-language", "").split(","):
            found = i18n.language_of(part.split(";")[0].strip())
            if found:
                return found
        return i18n.DEFAULT

    def page(request: Request, template: str, lang: str, status: int = 200, **values: Any) -> HTMLResponse:
        def tr(msgid: str, **params: Any) -> str:
            return i18n.t(msgid, **params).render(lang)

        def show(text: Any) -> str:
            return text.render(lang) if isinstance(text, i18n.Message) else str(text)

        html = env.get_template(template).render(
            t=tr, show=show, lang=lang, money=lambda a, c: i18n.money(a, c, lang),
            number=lambda v, p=None: i18n.number(v, lang, places=p), date=lambda d: i18n.date(d, lang),
            moment=lambda m: i18n.moment(m, lang), status=lambda s: i18n.status_word(s).render(lang),
            reason=lambda r: reason_text(r, lang),
            url=lambda *parts: "/" + "/".join(quote(str(p), safe="") for p in parts), **values)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def message(request: Request, lang: str, title: str, text: Any, status: int) -> HTMLResponse:
        return page(request, "message.html", lang, status=status, title=title, text=text)

    def session_of(request: Request, ctx: Context) -> Session | None:
        """The visitor's session, while it lasts, has not been signed out, and its user is an active
        user of the policy set (read at every request: someone made inactive or removed after signing
        in is signed out, and so is a copy of the cookie of a session signed out elsewhere)."""
        from cpq_cli.services.web import session_open

        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            session = read_session(config.key, cookie, int(ctx.clock.instant.timestamp()))
        except BadLink:
            return None
        user = ctx.policy.users.get(session.user)
        if user is None or not user.active:
            return None
        return session if session_open(ctx, session.link) else None

    async def visitor(request: Request, ctx: Context) -> Session | Response | None:
        """session_of, off the event loop (it reads the journal), or the page for a journal it cannot read."""
        try:
            return await run_in_threadpool(session_of, request, ctx)
        except CpqError as exc:
            return failure(request, language(request, None, None), exc)
        except database_errors() as exc:
            return unavailable(request, language(request, None, None), exc)

    def guarded(handler: Callable[[Request, Context, Session, str], Awaitable[Response]],
                ) -> Callable[[Request], Awaitable[Response]]:
        """A page for a signed-in visitor: their Context (acting as them, through the web) and language."""
        async def endpoint(request: Request) -> Response:
            ctx = context()
            session = await visitor(request, ctx)
            if isinstance(session, Response):
                return session
            if session is None:
                lang = language(request, None, None)
                return message(request, lang, i18n.t("Sign in").render(lang),
                               i18n.t("Open the link in your notification e-mail to sign in."), 401)
            ctx = context(session.user)
            lang = language(request, ctx, session.user)
            try:
                return await handler(request, ctx, session, lang)
            except CpqError as exc:
                return failure(request, lang, exc)
            except database_errors() as exc:
                return unavailable(request, lang, exc)
        return endpoint

    def failure(request: Request, lang: str, exc: CpqError) -> HTMLResponse:
        """A refusal (exit 1) says why; a journal or set-up error (exit 2) is the server's business."""
        if exc.exit_code != 1:
            return unavailable(request, lang, exc)
        text = exc.message.render(lang) if isinstance(exc.message, i18n.Message) else exc.message
        hint = exc.hint.render(lang) if isinstance(exc.hint, i18n.Message) else exc.hint
        return message(request, lang, i18n.t("Not possible").render(lang), f"{text} ({hint})" if hint else text,
                       409)

    def unavailable(request: Request, lang: str, exc: Exception) -> HTMLResponse:
        # The details (file names, a database's words) go to the server's log, not to the visitor.
        log.error("cpq serve: %s: %s", type(exc).__name__, exc)
        return message(request, lang, i18n.t("Not possible").render(lang),
                       i18n.t("cpq cannot reach its journal or its settings right now, so nothing was done. Try "
                              "again later, or tell your administrator."), 503)

    def from_elsewhere(request: Request) -> bool:
        """A form posted by a page of another site (a forged decision, or signing the victim in as the
        attacker): browsers say where a request comes from in Sec-Fetch-Site. Older ones send nothing;
        there the CSRF token and the SameSite=Strict cookie stand alone."""
        return request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")

    def refuse_foreign(request: Request) -> HTMLResponse:
        lang = language(request, None, None)
        return message(request, lang, i18n.t("Not possible").render(lang),
                       i18n.t("This form was sent from another site; nothing was done."), 403)

    def bad_link(request: Request, bad: BadLink) -> HTMLResponse:
        lang = language(request, None, None)
        title = {"expired": i18n.t("Link expired"), "used": i18n.t("Link already used")}.get(
            bad.reason, i18n.t("Link not valid")).render(lang)
        return message(request, lang, title, REASONS[bad.reason], 410 if bad.reason == "expired" else 403)

    async def home(request: Request) -> Response:
        ctx = context()
        session = await visitor(request, ctx)
        if isinstance(session, Response):
            return session
        if session is not None:
            target = "/inbox" if session.scope == INBOX else "/items/" + quote(session.scope, safe="")
            return RedirectResponse(target, status_code=303, headers=HEADERS)
        lang = language(request, None, None)
        return message(request, lang, "cpq", i18n.t("Open the link in your notification e-mail to sign in."), 200)

    async def link_claims(request: Request, read: Callable[[Context, bytes, str], Claims], ctx: Context,
                          token: str) -> Claims | Response:
        """What a link says (checked, or used, by `read`), or the page that says why it cannot be."""
        try:
            return await run_in_threadpool(read, ctx, config.key, token)
        except BadLink as bad:
            return bad_link(request, bad)
        except CpqError as exc:
            return failure(request, language(request, None, None), exc)
        except database_errors() as exc:
            return unavailable(request, language(request, None, None), exc)

    async def link_page(request: Request) -> Response:
        """GET (and HEAD) of a link: a page whose button signs in. Mail scanners and link previews fetch
        links too; they must not spend it. And after a click in web mail (another site) the browser
        would not send a SameSite=Strict cookie set by a redirect; after the button it does."""
        from cpq_cli.services.web import check_link

        ctx = context()
        token = request.path_params["token"]
        claims = await link_claims(request, check_link, ctx, token)
        if isinstance(claims, Response):
            return claims
        lang = language(request, ctx, claims.user)
        return page(request, "signin.html", lang, token=token, user=claims.user,
                    name=ctx.policy.users[claims.user].name)

    async def sign_in(request: Request) -> Response:
        from cpq_cli.services.web import sign_in as use_link

        if from_elsewhere(request):
            return refuse_foreign(request)
        ctx = context()
        claims = await link_claims(request, use_link, ctx, request.path_params["token"])
        if isinstance(claims, Response):
            return claims
        expires = ctx.clock.instant + config.settings.session_ttl
        cookie, _ = make_session(config.key, claims.user, claims.scope, int(expires.timestamp()), claims.nonce)
        target = "/inbox" if claims.scope == INBOX else "/items/" + quote(claims.scope, safe="")
        response = RedirectResponse(target, status_code=303, headers=HEADERS)
        response.set_cookie(COOKIE, cookie, max_age=int(config.settings.session_ttl.total_seconds()), httponly=True,
                            secure=config.settings.secure_cookies, samesite="strict", path="/")
        return response

    async def inbox(request: Request, ctx: Context, session: Session, lang: str) -> Response:
        from cpq_cli.services.approval_views import inbox as read_inbox

        if session.scope != INBOX:
            return RedirectResponse("/items/" + quote(session.scope, safe=""), status_code=303, headers=HEADERS)
        found = await run_in_threadpool(read_inbox, ctx)
        return page(request, "inbox.html", lang, user=session.user, entries=found.requests,
                    name=ctx.policy.users[session.user].name)

    async def item(request: Request, ctx: Context, session: Session, lang: str) -> Response:
        from cpq_cli.services.approval_views import item_page

        item_id = request.path_params["item"]
        if not session.allows(item_id):
            return message(request, lang, i18n.t("Not yours to see").render(lang),
                           i18n.t("This sign-in is for another request."), 403)
        found = await run_in_threadpool(item_page, ctx, item_id)
        return page(request, "item.html", lang, p=found, csrf=session.csrf, user=session.user,
                    inbox=session.scope == INBOX)

    async def decide(request: Request, ctx: Context, session: Session, lang: str) -> Response:
        from cpq_cli.digest import same
        from cpq_cli.services.approvals import decide as record
        from cpq_cli.services.web import require_journal

        if from_elsewhere(request):
            return refuse_foreign(request)
        item_id = request.path_params["item"]
        form = await request.form()
        if not session.allows(item_id) or not same(str(form.get("csrf", "")), session.csrf):
            return message(request, lang, i18n.t("Not possible").render(lang),
                           i18n.t("This form is out of date; open the request again."), 403)
        verdict = str(form.get("decision", ""))
        if verdict not in ("approve", "reject"):
            return message(request, lang, i18n.t("Not possible").render(lang), i18n.t("Choose approve or reject."),
                           400)
        comment = str(form.get("comment", "")).strip()[:2000] or None
        quote_id = str(form.get("quote", ""))
        seen = str(form.get("quote_hash", ""))
        await run_in_threadpool(require_journal, ctx)  # deciding would create a missing one
        done = await run_in_threadpool(record, ctx, quote_id, verdict == "approve", comment, None, item=item_id,
                                       seen_hash=seen)
        return page(request, "done.html", lang, change=done, item=item_id, quote_id=quote_id,
                    inbox=session.scope == INBOX)

    async def quote_page(request: Request, ctx: Context, session: Session, lang: str) -> Response:
        from cpq_cli.services.approval_views import log, may_see_quote, status

        quote_id = request.path_params["quote"]
        # The quotes the user is part of (inbox), or the one item's (a link's scope), as the item page asks.
        through = None if session.scope == INBOX else session.scope
        mine = await run_in_threadpool(may_see_quote, ctx, quote_id, through)
        if not mine:
            return message(request, lang, i18n.t("Not yours to see").render(lang),
                           i18n.t("This sign-in is for another request."), 403)
        state = await run_in_threadpool(status, ctx, quote_id)
        history = await run_in_threadpool(log, ctx, quote_id)
        return page(request, "quote.html", lang, state=state, history=history.events, inbox=session.scope == INBOX,
                    back=session.scope)

    async def sign_out(request: Request) -> Response:
        from cpq_cli.services.web import sign_out as end

        if from_elsewhere(request):
            return refuse_foreign(request)
        ctx = context()
        try:
            # Any cookie of ours that has not expired, its user active or not: someone made inactive
            # who signs out must not have the session back (copies included) when made active again.
            session = read_session(config.key, request.cookies.get(COOKIE, ""), int(ctx.clock.instant.timestamp()))
        except BadLink:
            session = None
        response: Response = RedirectResponse("/", status_code=303, headers=HEADERS)
        unrecorded: tuple[type[Exception], ...] = (CpqError, *database_errors())
        try:
            if session is not None:  # ended in the journal: a copy of the cookie is refused from now on
                await run_in_threadpool(end, ctx, session.user, session.link)
        except unrecorded as exc:
            # Signed out in this browser all the same (a shared computer must not stay signed in),
            # and told what the journal could not do.
            log.error("cpq serve: sign-out not recorded: %s: %s", type(exc).__name__, exc)
            lang = language(request, None, None)
            response = message(request, lang, i18n.t("Signed out in this browser only").render(lang), i18n.t(
                "You are signed out in this browser, but cpq could not record it in its journal: a copy of this "
                "session could still be used until it expires. Tell your administrator."), 503)
        response.delete_cookie(COOKIE, path="/")
        return response

    routes = [
        Route("/", home),
        Route("/s/{token}", link_page, methods=["GET"]),
        Route("/s/{token}", sign_in, methods=["POST"]),
        Route("/inbox", guarded(inbox)),
        Route("/items/{item}", guarded(item), methods=["GET"]),
        Route("/items/{item}", guarded(decide), methods=["POST"]),
        Route("/quotes/{quote}", guarded(quote_page)),
        Route("/sign-out", sign_out, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    async def internal_error(request: Request, exc: Exception) -> Response:
        # A bug: uvicorn logs the traceback (Starlette raises it again); the visitor gets a page.
        lang = language(request, None, None)
        return message(request, lang, i18n.t("Something went wrong").render(lang),
                       i18n.t("Nothing was done. Try again later, or tell your administrator."), 500)

    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)],
                     exception_handlers={Exception: internal_error})


def run(config: WebConfig, host: str, port: int) -> None:
    """Serve until stopped (uvicorn; behind a reverse proxy, `[web] forwarded_allow_ips` names it)."""
    import uvicorn

    # No access log: a sign-in link's token is in its path (used once, but still not for a log file).
    uvicorn.run(create_app(config), host=host, port=port, proxy_headers=True,
                forwarded_allow_ips=config.settings.forwarded_allow_ips, server_header=False, log_level="info",
                access_log=False)

