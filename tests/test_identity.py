"""Who is acting: --as, then CPQ_USER, then git user.email mapped to a policy user."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpq_cli.approvals import identity
from cpq_cli.errors import InputError
from tests.helpers import make_policy


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = make_policy(tmp_path)
    monkeypatch.setattr(identity, "git_email", lambda: "ANN@x.example")
    assert identity.resolve_actor(policy, None) == "ann"  # e-mail match ignores case
    monkeypatch.setenv("CPQ_USER", "bob")
    assert identity.resolve_actor(policy, None) == "bob"
    assert identity.resolve_actor(policy, "cat") == "cat"


@pytest.mark.parametrize(("option", "env", "email", "message"), [
    ("mallory", None, None, "unknown user 'mallory' (from --as)"),
    (None, "mallory", None, "unknown user 'mallory' (from CPQ_USER)"),
    (None, None, "nobody@x.example", "matches no policy user"),
    (None, None, None, "who are you?"),
])
def test_unknown_identities_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str | None,
                                        env: str | None, email: str | None, message: str) -> None:
    policy = make_policy(tmp_path)
    monkeypatch.setattr(identity, "git_email", lambda: email)
    if env:
        monkeypatch.setenv("CPQ_USER", env)
    with pytest.raises(InputError, match=message.replace("?", r"\?").replace("(", r"\(").replace(")", r"\)")):
        identity.resolve_actor(policy, option)
