"""Web inbox services: signing in with a link, and the settings of `cpq serve`.

The pages themselves call the same services as the CLI (`approval_views.item_page`, `inbox`,
`status`, `approvals.decide`), with a Context whose channel is `web`.
"""

import datetime as dt

from cpq_cli.i18n import t
from cpq_cli.outbound.links import BadLink, Claims, read_link_token
from cpq_cli.outbound.settings import WebSettings, web_settings
from cpq_cli.services.context import Context

__all__ = ["REASONS", "WebSettings", "check_link", "link_for", "require_journal", "session_open", "sign_in", "sign_out",
           "web_settings"]


def require_journal(ctx: Context) -> None:
    """JournalError unless the journal is there (opened read-only). Writing would create a missing
    one: a link used in a new, empty journal could be used again once the real one is back."""
    from cpq_cli.services.journal import reading

    with reading(ctx):
        pass


def _claims(ctx: Context, key: bytes, token: str) -> Claims:
    claims = read_link_token(key, token, int(ctx.clock.instant.timestamp()))
    if claims.user not in ctx.policy.users or not ctx.policy.users[claims.user].active:
        raise BadLink("invalid")
    return claims


def check_link(ctx: Context, key: bytes, token: str) -> Claims:
    """A sign-in link that would sign in now, read without using it: opening a link (a mail scanner
    does too) only shows the page whose button signs in. BadLink: `invalid`, `expired` or `used`."""
    from cpq_cli.journal.web import link_used
    from cpq_cli.services.journal import reading

    claims = _claims(ctx, key, token)
    with reading(ctx) as conn:
        if link_used(conn, claims.nonce):
            raise BadLink("used")
    return claims


def sign_in(ctx: Context, key: bytes, token: str) -> Claims:
    """Check a sign-in link and use it up (recorded in the journal, once). BadLink: `invalid`, `expired`
    or `used`."""
    from cpq_cli.journal import events
    from cpq_cli.journal.web import use_link
    from cpq_cli.services.journal import writing

    claims = _claims(ctx, key, token)
    require_journal(ctx)
    with writing(ctx) as conn:
        if not use_link(conn, claims.nonce, claims.user, claims.scope, ctx.clock.now):
            raise BadLink("used")
        events.append(conn, "web.signed_in", actor=claims.user,
                      data={"scope": claims.scope, "link": claims.nonce[:8]}, at=ctx.clock.now)
    return claims


def session_open(ctx: Context, link: str) -> bool:
    """Whether the session opened by the link with nonce `link` has not been signed out (read at every
    request, so a copy of a signed-out session's cookie is refused)."""
    from cpq_cli.journal.web import session_open as is_open
    from cpq_cli.services.journal import reading

    with reading(ctx) as conn:
        return is_open(conn, link)


def sign_out(ctx: Context, user: str, link: str) -> bool:
    """End a session in the journal (with a `web.signed_out` event); False when it had ended already."""
    from cpq_cli.journal import events
    from cpq_cli.journal.web import end_session
    from cpq_cli.services.journal import writing

    require_journal(ctx)
    with writing(ctx) as conn:
        if not end_session(conn, link, ctx.clock.now):
            return False
        events.append(conn, "web.signed_out", actor=user, data={"link": link[:8]}, at=ctx.clock.now)
    return True


def link_for(key: bytes, base_url: str, user: str, scope: str, now: dt.datetime, ttl: dt.timedelta) -> str:
    from cpq_cli.outbound.links import link_for as make

    return make(key, base_url, user, scope, now, ttl)


REASONS = {
    "invalid": t("This link is not valid. Open the link from your e-mail as it was sent, or reply to the e-mail."),
    "expired": t("This link has expired. Reply to the e-mail instead, or wait for the reminder, which carries a new "
                 "link."),
    "used": t("This link was already used to sign in. If that was not you, tell your administrator; otherwise open "
              "the request from the browser you signed in with, or reply to the e-mail."),
}
