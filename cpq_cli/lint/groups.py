"""Checks on approver groups."""

from __future__ import annotations

from collections.abc import Iterator

from cpq_cli.diagnostics import Diagnostic, Severity
from cpq_cli.lint.registry import LintContext, check
from cpq_cli.policy.model import RequireKind


@check("empty-group", Severity.ERROR, "A group has no members, so a request to it could never be decided.",
       cross_file=False)
def empty_group(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    groups:
      legal: {members: []}   # empty-group
    ```
    """
    for group in ctx.policy.groups.values():
        if not group.members:
            yield ctx.finding("empty-group", group.origin, ("members",), f"group {group.id!r} has no members",
                              "add at least one user")


@check("group-min-too-large", Severity.ERROR,
       "A group's `require: {min: N}` asks for more approvals than it has members.", cross_file=False)
def group_min_too_large(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    groups:
      deal-desk: {members: [dan, erin], require: {min: 3}}   # group-min-too-large: 3 > 2 members
    ```
    """
    for group in ctx.policy.groups.values():
        if not group.members or group.require.kind is not RequireKind.MIN:
            continue
        size = len(set(group.members))
        needed = group.require.needed(size)
        if needed > size:
            yield ctx.finding("group-min-too-large", group.origin, ("require", "min"),
                              f"group {group.id!r} requires {needed} approvals but has {size} member(s)",
                              "lower `min` or add members")


@check("duplicate-member", Severity.ERROR, "A user is listed twice in one group.", cross_file=False)
def duplicate_member(ctx: LintContext) -> Iterator[Diagnostic]:
    """A person counts once per request, so a second listing only misstates the group's size
    (and with it what `all`, `{min: N}` and `{percent: P}` ask for).

    ```yaml
    groups:
      legal: {members: [lee, lee]}   # duplicate-member
    ```
    """
    for group in ctx.policy.groups.values():
        seen: set[str] = set()
        for i, member in enumerate(group.members):
            if member in seen:
                yield ctx.finding("duplicate-member", group.origin, ("members", i),
                                  f"{member!r} is listed twice in group {group.id!r}")
            seen.add(member)


@check("group-of-one", Severity.WARNING,
       "A group has a single member, so on that member's own quotes nobody may decide it.", cross_file=False)
def group_of_one(ctx: LintContext) -> Iterator[Diagnostic]:
    """No one approves their own quote or their own submission: when the only member owns or
    submits a quote that fires the rule, `cpq submit` refuses it, naming rule and group.

    ```yaml
    groups:
      solo: {members: [ann]}   # group-of-one: ann's own quotes could not be decided
    ```
    """
    for group in ctx.policy.groups.values():
        if len(set(group.members)) == 1:
            only = group.members[0]
            yield ctx.finding("group-of-one", group.origin, ("members",),
                              f"group {group.id!r} has one member ({only}); a quote {only} owns or submits "
                              "could not be decided by it", "add a second member, or name the user directly")
