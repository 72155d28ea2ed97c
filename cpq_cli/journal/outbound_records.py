"""The journal's outbox and notification rows as typed records (see `records`)."""

from typing import Any, NamedTuple

from cpq_cli.journal.records import as_json


class OutboxEntry(NamedTuple):
    id: int
    kind: str
    key: str
    payload: str
    created_at: str
    delivered_at: str | None
    attempts: int
    last_error: str | None

    def as_json(self) -> dict[str, Any]:
        return as_json(self)



class Notification(NamedTuple):
    id: int
    key: str
    kind: str
    channel: str
    recipient: str
    subject: str
    body: str
    created_at: str
    sent_at: str | None
    attempts: int
    last_error: str | None

    def as_json(self) -> dict[str, Any]:
        return as_json(self)
