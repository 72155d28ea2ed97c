"""Web inbox services: signing in with a link, and the settings of `cpq serve`.

The pages themselves call the same services as the CLI (`approval_views.item_page`, `inbox`,
`status`, `approvals.decide`), with a Context whose channel is `web`.
"""

import datetime as dt
from typing import NamedTuple

from cpq_cli.errors import ConfigError
from cpq_cli.i18n import t
from cpq_cli.outbound.links import BadLink, Claims, read_link_token
from cpq_cli.services.context import Context

LINK_TTL = dt.timedelta(days=7)
SESSION_TTL = dt.timedelta(hours=8)


class WebSettings(NamedTuple):
    """`[web]` in cpq.toml."""

    url: str | None  # the inbox's public address, for the links in e-mails (https://cpq.example.com)
    link_ttl: dt.timedelta
    session_ttl: dt.timedelta
    secure_cookies: bool  # cookies only over HTTPS (default: when `url` is https)
    forwarded_allow_ips: str  # the reverse proxies whose X-Forwarded-* headers are believed


def web_settings(sections: dict[str, dict[str, object]]) -> WebSettings:
    from cpq_cli.policy.load import parse_duration

    raw = sections.get("web") or {}
    known = {"url", "link_ttl", "session_ttl", "secure_cookies", "forwarded_allow_ips"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"[web]: unknown setting(s) {', '.join(sorted(unknown))}",
                          hint=f"known: {', '.join(sorted(known))}")
    url = raw.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise ConfigError(f"[web] url = {url!r} is not an http(s) URL", hint='e.g. url = "https://cpq.example.com"')
    durations = {}
    for name, default in (("link_ttl", LINK_TTL), ("session_ttl", SESSION_TTL)):
        value = raw.get(name)
        parsed = default if value is None else parse_duration(str(value))
        if parsed is None:
            raise ConfigError(f"[web] {name} = {value!r} is not a duration like 8h or 7d")
        durations[name] = parsed
    secure = raw.get("secure_cookies", bool(url and str(url).startswith("https://")))
    proxies = raw.get("forwarded_allow_ips", "127.0.0.1")
    return WebSettings(str(url).rstrip("/") if url else None, durations["link_ttl"], durations["session_ttl"],
                       bool(secure), str(proxies))


def sign_in(ctx: Context, key: bytes, token: str) -> Claims:
    """Check a sign-in link and use it up (recorded in the journal, once). BadLink: `invalid`, `expired`
    or `used`."""
    from cpq_cli.journal import events
    from cpq_cli.journal.web import use_link
    from cpq_cli.services.journal import writing

    claims = read_link_token(key, token, int(ctx.clock.instant.timestamp()))
    if claims.user not in ctx.policy.users or not ctx.policy.users[claims.user].active:
        raise BadLink("invalid")
    with writing(ctx) as conn:
        if not use_link(conn, claims.nonce, claims.user, claims.scope, ctx.clock.now):
            raise BadLink("used")
        events.append(conn, "web.signed_in", actor=claims.user,
                      data={"scope": claims.scope, "link": claims.nonce[:8]}, at=ctx.clock.now)
    return claims


def link_for(key: bytes, base_url: str, user: str, scope: str, now: dt.datetime, ttl: dt.timedelta) -> str:
    """A sign-in link for `user` to one item (or, with scope `*`, their inbox)."""
    from urllib.parse import quote

    from cpq_cli.outbound.links import make_link_token

    token = make_link_token(key, user, scope, int((now + ttl).timestamp()))
    return f"{base_url}/s/{quote(token, safe='')}"


REASONS = {
    "invalid": t("This link is not valid. Open the link from your e-mail as it was sent, or reply to the e-mail."),
    "expired": t("This link has expired. Reply to the e-mail instead, or wait for the reminder, which carries a new "
                 "link."),
    "used": t("This link was already used to sign in. If that was not you, tell your administrator; otherwise open "
              "the request from the browser you signed in with, or reply to the e-mail."),
}
