"""Who a policy set names, and where: approver references parsed once, and one index of every mention.

A rule's approvers are written as text — `alice`, `legal`, `owner.manager.manager`,
`field:fields.account_manager`, `auto`. `parse_ref` reads each once, when the policy is loaded,
into an `ApproverRef`; routing resolves those (against the quote, for the dynamic ones), lint
reports the ones that name nothing, and `approvers replace` finds every mention of a user in
`Policy.references` — approvers, group members, managers, admins, escalation targets — instead
of each walking the files its own way.
"""

from collections.abc import Collection
from enum import StrEnum
from typing import NamedTuple

from cpq_cli.jsonpath import JsonPath

AUTO = "auto"
OWNER = "owner"
MANAGER = "manager"
FIELD_PREFIX = "field:"


class RefKind(StrEnum):
    AUTO = "auto"  # recorded as approved, asks nobody
    USER = "user"
    GROUP = "group"
    OWNER = "owner"  # the quote's owner, or `depth` managers above them
    FIELD = "field"  # the user named by a quote field
    UNKNOWN = "unknown"  # names nothing (lint: unknown-approver)


class ApproverRef(NamedTuple):
    """An approver reference as written, and what it means."""

    text: str
    kind: RefKind
    target: str = ""  # USER, GROUP: the id; FIELD: the quote field's path
    depth: int = 0  # OWNER: managers above the owner (`owner.manager.manager`: 2)


def parse_ref(text: str, users: Collection[str], groups: Collection[str]) -> ApproverRef:
    """What an approver reference names. Groups before users, as ids are unique across both
    (lint: duplicate-id); `owner` followed by anything but `.manager`s names nothing."""
    if text == AUTO:
        return ApproverRef(text, RefKind.AUTO)
    if text in groups:
        return ApproverRef(text, RefKind.GROUP, text)
    if text in users:
        return ApproverRef(text, RefKind.USER, text)
    if text.startswith(FIELD_PREFIX) and len(text) > len(FIELD_PREFIX):
        return ApproverRef(text, RefKind.FIELD, text[len(FIELD_PREFIX):])
    head, *rest = text.split(".")
    if head == OWNER and all(part == MANAGER for part in rest):
        return ApproverRef(text, RefKind.OWNER, "", len(rest))
    return ApproverRef(text, RefKind.UNKNOWN, text)


class Role(StrEnum):
    """How a definition names a user (or, for APPROVER, a user or group)."""

    APPROVER = "approver"  # rules.N.approvers.I
    MEMBER = "member"  # groups.G.members.I
    MANAGER = "manager"  # users.U.manager
    ADMIN = "admin"  # admins.I
    ESCALATION = "escalation"  # rules.N.escalate.to


class Mention(NamedTuple):
    """One place a policy file names a user or group."""

    name: str  # the id named
    role: Role
    holder: str  # the rule, group or user whose definition holds it (`admins` for the admin list)
    file: str  # the policy file, as shown
    path: JsonPath  # where in that file


def mentions_of(mentions: tuple[Mention, ...], name: str) -> tuple[Mention, ...]:
    return tuple(m for m in mentions if m.name == name)
