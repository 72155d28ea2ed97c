"""Signed sign-in links and session cookies for the web inbox.

A link is `BASE/s/<token>`: the token names one approver and one item (or the approver's whole
inbox), an expiry and a random nonce, and carries an HMAC of all of it under the team's secret
key (the key kept outside the repository and the journal, `CPQ_SECRET_FILE`). Nothing in it is
secret but the MAC: changing the user, the item or the expiry breaks it. A link signs in once;
the journal records its nonce, so a second use is refused. Signing in sets a session cookie of
the same construction, scoped like the link, with a CSRF token for the forms and the link's
nonce, under which the journal records when the session ends (signing out).
"""

import base64
import datetime as dt
import json
import os
from typing import NamedTuple

from cpq_cli.digest import same

INBOX = "*"  # the scope of a link to the user's whole inbox
LINK_PURPOSE = "cpq-web-link"
SESSION_PURPOSE = "cpq-web-session"


class Claims(NamedTuple):
    user: str
    scope: str  # an item id, or INBOX
    expires: int  # Unix seconds
    nonce: str

    def allows(self, item_id: str) -> bool:
        return self.scope in (INBOX, item_id)


class Session(NamedTuple):
    user: str
    scope: str
    expires: int
    csrf: str
    link: str  # the nonce of the link that opened it: the journal says whether it has ended

    def allows(self, item_id: str) -> bool:
        return self.scope in (INBOX, item_id)


class BadLink(Exception):
    """A token that cannot be used; `reason` is `invalid` or `expired`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: str) -> str:
    from cpq_cli.secret import mac

    return mac(key, purpose, body)


def _sign(key: bytes, purpose: str, payload: dict[str, object]) -> str:
    body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
    return f"{body}.{_mac(key, purpose, body)}"


def _open(key: bytes, purpose: str, token: str, now: int) -> dict[str, object]:
    body, _, tag = token.partition(".")
    if not body or not tag or len(token) > 2000 or not same(tag, _mac(key, purpose, body)):
        raise BadLink("invalid")
    try:
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        raise BadLink("invalid") from None
    if not isinstance(payload, dict):
        raise BadLink("invalid")
    expires = payload.get("exp")
    if not isinstance(expires, int):
        raise BadLink("invalid")
    if expires < now:
        raise BadLink("expired")
    return payload


def make_link_token(key: bytes, user: str, scope: str, expires: int) -> str:
    return _sign(key, LINK_PURPOSE, {"u": user, "s": scope, "exp": expires, "n": os.urandom(12).hex()})


def read_link_token(key: bytes, token: str, now: int) -> Claims:
    payload = _open(key, LINK_PURPOSE, token, now)
    user, scope, nonce = payload.get("u"), payload.get("s"), payload.get("n")
    if not (isinstance(user, str) and isinstance(scope, str) and isinstance(nonce, str)):
        raise BadLink("invalid")
    return Claims(user, scope, int(str(payload["exp"])), nonce)


def make_session(key: bytes, user: str, scope: str, expires: int, link: str) -> tuple[str, Session]:
    session = Session(user, scope, expires, os.urandom(16).hex(), link)
    cookie = _sign(key, SESSION_PURPOSE, {"u": user, "s": scope, "exp": expires, "c": session.csrf, "n": link})
    return cookie, session


def read_session(key: bytes, cookie: str, now: int) -> Session:
    payload = _open(key, SESSION_PURPOSE, cookie, now)
    user, scope, csrf, link = payload.get("u"), payload.get("s"), payload.get("c"), payload.get("n")
    if not (isinstance(user, str) and isinstance(scope, str) and isinstance(csrf, str) and isinstance(link, str)):
        raise BadLink("invalid")
    return Session(user, scope, int(str(payload["exp"])), csrf, link)


def link_for(key: bytes, base_url: str, user: str, scope: str, now: dt.datetime, ttl: dt.timedelta) -> str:
    """A sign-in link for `user` to one item (or, with scope INBOX, their inbox), valid for `ttl`."""
    from urllib.parse import quote

    token = make_link_token(key, user, scope, int((now + ttl).timestamp()))
    return f"{base_url}/s/{quote(token, safe='')}"
