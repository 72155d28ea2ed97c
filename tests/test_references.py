"""Approver references parsed once at load, and the one index of who is named where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cpq_cli.errors import RoutingError
from cpq_cli.policy.load import load_policy_set
from cpq_cli.policy.references import ApproverRef, RefKind, Role, parse_ref
from tests.conftest import POLICIES
from tests.helpers import make_quote

USERS = {"alice", "bob"}
GROUPS = {"legal"}


@pytest.mark.parametrize(("text", "expected"), [
    ("auto", ApproverRef("auto", RefKind.AUTO)),
    ("alice", ApproverRef("alice", RefKind.USER, "alice")),
    ("legal", ApproverRef("legal", RefKind.GROUP, "legal")),
    ("owner", ApproverRef("owner", RefKind.OWNER, "", 0)),
    ("owner.manager", ApproverRef("owner.manager", RefKind.OWNER, "", 1)),
    ("owner.manager.manager.manager", ApproverRef("owner.manager.manager.manager", RefKind.OWNER, "", 3)),
    ("field:fields.account_manager", ApproverRef("field:fields.account_manager", RefKind.FIELD,
                                                 "fields.account_manager")),
    ("owner.boss", ApproverRef("owner.boss", RefKind.UNKNOWN, "owner.boss")),
    ("owner.manager.cfo", ApproverRef("owner.manager.cfo", RefKind.UNKNOWN, "owner.manager.cfo")),
    ("field:", ApproverRef("field:", RefKind.UNKNOWN, "field:")),
    ("carol", ApproverRef("carol", RefKind.UNKNOWN, "carol")),
])
def test_a_reference_is_read_once_into_what_it_names(text: str, expected: ApproverRef) -> None:
    assert parse_ref(text, USERS, GROUPS) == expected


def test_words_after_owner_other_than_manager_name_nobody(tmp_path: Path, run: Any) -> None:
    """`owner.boss` was routed as `owner.manager`: now lint and routing both refuse it."""
    from cpq_cli.routing import compile_policy, route

    policy_dir = tmp_path / "p"
    policy_dir.mkdir()
    (policy_dir / "p.yaml").write_text(
        "users:\n  rep: {name: R, email: r@x.example, manager: mgr}\n  mgr: {name: M, email: m@x.example}\n"
        "rules:\n  - {id: r1, when: 'net_total > 0', approvers: [owner.boss], step: 1}\n")
    linted = run("lint", str(policy_dir))
    assert linted.exit_code == 1 and "unknown-approver" in linted.stdout and "owner.boss" in linted.stdout
    pset = load_policy_set(policy_dir)
    (ref,) = pset.policy.rules[0].refs
    assert ref.kind is RefKind.UNKNOWN
    with pytest.raises(RoutingError, match=r"owner\.boss"):
        route(compile_policy(pset.policy), make_quote())


def test_every_mention_points_at_the_name_in_its_file() -> None:
    """The index lint and `approvers replace` read: each entry locates to a value that is the name."""
    pset = load_policy_set(POLICIES)
    mentions = pset.policy.mentions
    assert {m.role for m in mentions} == set(Role)
    for mention in mentions:
        doc = pset.docs[mention.file]
        value: Any = doc.data
        for key in mention.path:
            value = value[key]
        assert value == mention.name, mention
        assert doc.locate(mention.path) is not None, mention
    alice = {(m.role, m.holder) for m in mentions if m.name == "alice"}
    assert (Role.MANAGER, "rita") in alice and (Role.MANAGER, "sam") in alice
    assert not any(m.role is Role.APPROVER for m in mentions if m.name.startswith("owner"))  # dynamic: not a name
