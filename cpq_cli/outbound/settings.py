"""Notification settings: `[smtp]`, `[webhook]` and `[notify]` in cpq.toml, and each user's channels.

Apart from `notify` (queueing and delivery) so that a command on a journal with no channel
configured reads its settings without importing the machinery it will not use.
"""

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


class NotifySettings(NamedTuple):
    smtp: SmtpSettings | None
    webhook: str | None
    templates: Path | None  # the policy set's templates/ folder, when it has one
    channels: tuple[str, ...] = CHANNELS  # `[notify] channels`: a user's channels unless they chose (users.X.notify)


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
    return NotifySettings(smtp, str(webhook) if webhook else None, templates, _default_channels(sections))


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
