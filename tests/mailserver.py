"""A real local SMTP server (aiosmtpd) and the team's secret key, as pytest fixtures."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email
        import email.policy

        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def team_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The team's secret key, outside the working tree: e-mail decisions need it."""
    key = tmp_path / "secrets" / "team.key"
    key.parent.mkdir()
    key.write_bytes(os.urandom(32))
    monkeypatch.setenv("CPQ_SECRET_FILE", str(key))
    return key


@pytest.fixture
def smtp(workdir: Path, team_key: Path) -> Iterator[Inbox]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    (workdir / "cpq.toml").write_text(
        (workdir / "cpq.toml").read_text()
        + f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nfrom = "cpq@northwind.example"\n')
    yield inbox
    controller.stop()


