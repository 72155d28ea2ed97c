"""Notification settings: `[smtp]`, `[webhook]` and `[notify]` in cpq.toml, and each user's channels.

Apart from `notify` (queueing and delivery) so that a command on a journal with no channel
configured reads its settings without importing the machinery it will not use.
"""

import datetime as dt
import os
from pathlib import Path
from typing import Any, NamedTuple

from cpq_cli.errors import ConfigError
from cpq_cli.policy.model import Policy


class SmtpSettings(NamedTuple):
    host: str
    port: int
    starttls: bool
    ssl: bool
    username: str | None
    password_env: str
    sender: str
    timeout: float

    def password(self) -> str | None:
        return os.environ.get(self.password_env)


CHANNELS = ("email", "webhook")


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
        if value is None:
            parsed: dt.timedelta | None = default
        else:
            from cpq_cli.policy.load import parse_duration

            parsed = parse_duration(str(value))
        if parsed is None:
            raise ConfigError(f"[web] {name} = {value!r} is not a duration like 8h or 7d")
        durations[name] = parsed
    secure = raw.get("secure_cookies", bool(url and str(url).startswith("https://")))
    proxies = raw.get("forwarded_allow_ips", "127.0.0.1")
    return WebSettings(str(url).rstrip("/") if url else None, durations["link_ttl"], durations["session_ttl"],
                       bool(secure), str(proxies))


class NotifySettings(NamedTuple):
    smtp: SmtpSettings | None
    webhook: str | None
    templates: Path | None  # the policy set's templates/ folder, when it has one
    channels: tuple[str, ...] = CHANNELS  # `[notify] channels`: a user's channels unless they chose (users.X.notify)
    web: WebSettings | None = None  # `[web]`: request e-mails carry a sign-in link to the web inbox


def load_settings(sections: dict[str, dict[str, Any]], policy_root: Path | None) -> NotifySettings:
    smtp = None
    raw = sections.get("smtp")
    if raw:
        known = {"host", "port", "starttls", "ssl", "username", "password_env", "from", "timeout"}
        unknown = set(raw) - known
        if unknown:
            hint = "the password comes from the environment (password_env), never from a file" if (
                "password" in unknown) else f"known: {', '.join(sorted(known))}"
            raise ConfigError(f"[smtp]: unknown setting(s) {', '.join(sorted(unknown))}", hint=hint)
        if not raw.get("host") or not raw.get("from"):
            raise ConfigError("[smtp] needs host and from")
        smtp = SmtpSettings(str(raw["host"]), int(raw.get("port", 25)), bool(raw.get("starttls", False)),
                            bool(raw.get("ssl", False)), raw.get("username"),
                            str(raw.get("password_env", "CPQ_SMTP_PASSWORD")), str(raw["from"]),
                            float(raw.get("timeout", 10)))
    webhook = (sections.get("webhook") or {}).get("url")
    templates = policy_root / "templates" if policy_root and (policy_root / "templates").is_dir() else None
    web = web_settings(sections)
    return NotifySettings(smtp, str(webhook) if webhook else None, templates, _default_channels(sections),
                          web if web.url else None)


def _default_channels(sections: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    raw = (sections.get("notify") or {}).get("channels", list(CHANNELS))
    if not isinstance(raw, list) or any(c not in CHANNELS for c in raw):
        raise ConfigError(f"[notify] channels = {raw!r}: a list of {' and '.join(CHANNELS)}",
                          hint='e.g. channels = ["email"]')
    return tuple(dict.fromkeys(raw))


def channels_of(policy: Policy, settings: NotifySettings, user: str | None) -> tuple[str, ...]:
    """The channels a user is notified on: their own choice, else the team's default."""
    found = policy.users.get(user) if user else None
    return found.notify if found is not None and found.notify is not None else settings.channels
