"""Checks that every id is defined once and every reference points at something defined."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from cpq_cli.diagnostics import Diagnostic, Severity
from cpq_cli.lint.registry import LintContext, check
from cpq_cli.policy.model import AUTO, DEFAULT_CHAIN, OWNER, Origin
from cpq_cli.policy.references import RefKind, Role

RESERVED = frozenset({OWNER, AUTO, "field"})


def _did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


@check("duplicate-id", Severity.ERROR, "An id is defined more than once across the policy files.")
def duplicate_id(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    # a.yaml
    rules: [{id: big-deal, when: "net_total > 100000", approvers: [cfo], step: 1}]
    # b.toml
    [[rules]]
    id = "big-deal"   # duplicate-id: already defined in a.yaml
    ```
    """
    first: dict[tuple[str, str], str] = {}
    for d in ctx.pset.definitions:
        if d.kind == "admin":
            continue
        key = (d.kind, d.id)
        if key in first:
            is_rule = d.kind == "rule"
            yield ctx.finding("duplicate-id", d.origin, ("id",) if is_rule else (),
                              f"{d.kind} {d.id!r} is already defined in {first[key]}",
                              "ids must be unique across every file of the policy set", key=not is_rule)
        else:
            doc = ctx.pset.docs.get(d.origin.file)
            pos = doc.locate(d.origin.path) if doc else None
            first[key] = f"{d.origin.file}:{pos[0]}" if pos else d.origin.file


@check("reserved-id", Severity.ERROR,
       "A user or group is named `owner`, `auto` or `field`, or shares its id with the other kind.")
def reserved_id(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    users:
      auto: {name: Auto, email: auto@example.com}   # reserved-id: `auto` means auto-approve
    groups:
      legal: {members: [lee]}
    users:
      legal: {...}   # reserved-id: an approver `legal` would be ambiguous
    ```
    """
    for kind, table in (("user", ctx.policy.users), ("group", ctx.policy.groups)):
        for ident, item in table.items():
            if ident in RESERVED:
                yield ctx.finding("reserved-id", item.origin, (), f"{kind} id {ident!r} is reserved",
                                  "owner, auto and field have a meaning in approver lists; rename it", key=True)
    for ident in ctx.policy.users.keys() & ctx.policy.groups.keys():
        group = ctx.policy.groups[ident]
        yield ctx.finding("reserved-id", group.origin, (), f"group {ident!r} has the same id as a user",
                          "an approver reference must name exactly one user or group; rename one", key=True)


@check("unknown-user", Severity.ERROR,
       "A group member, manager, admin or escalation target is not a defined user.")
def unknown_user(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    users:
      rita: {name: Rita Ortiz, email: rita@example.com, manager: alise}   # unknown-user: did you mean 'alice'?
    ```
    """
    users = ctx.policy.users
    described = {Role.MANAGER: "manager {name!r} of user {holder!r}", Role.MEMBER: "member {name!r} of group "
                 "{holder!r}", Role.ADMIN: "admin {name!r}", Role.ESCALATION: "escalation target {name!r} of rule "
                 "{holder!r}"}
    for mention in ctx.policy.mentions:
        if mention.role is Role.APPROVER or mention.name in users:
            continue
        hint = _did_you_mean(mention.name, users)
        if mention.role is Role.MEMBER:
            hint = hint or "groups contain users, not other groups"
        what = described[mention.role].format(name=mention.name, holder=mention.holder)
        yield ctx.finding("unknown-user", Origin(mention.file, mention.path), (), f"{what} is not a defined user",
                          hint)


@check("unknown-approver", Severity.ERROR,
       "A rule's approver is not a user, a group, a dynamic reference or `auto`.")
def unknown_approver(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    rules:
      - id: discount-vp
        when: "discount_pct > 20"
        approvers: [vp-sale]   # unknown-approver: did you mean 'vp-sales'?
        step: 2
    ```
    """
    known = ctx.policy.users.keys() | ctx.policy.groups.keys()
    for rule in ctx.policy.rules:
        for i, parsed in enumerate(rule.refs):
            if parsed.kind is not RefKind.UNKNOWN:
                continue
            ref = parsed.text
            hint = _did_you_mean(ref, [*known, "owner.manager"]) or (
                "use a user id, a group id, owner, owner.manager, field:<quote field>, or auto")
            yield ctx.finding("unknown-approver", rule.origin, ("approvers", i),
                              f"approver {ref!r} of rule {rule.id!r} is not a user, group or dynamic reference",
                              hint)


@check("unknown-chain", Severity.ERROR, "A rule names a chain that is not defined under `chains:`.")
def unknown_chain(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    chains: {discount: {order: 1}}
    rules:
      - {id: r1, when: "discount_pct > 10", approvers: [mira], chain: discont, step: 1}   # unknown-chain
    ```
    A rule without `chain:` goes to the implicit chain `default` (order 1).
    """
    for rule in ctx.policy.rules:
        if rule.chain != DEFAULT_CHAIN and rule.chain not in ctx.policy.chains:
            yield ctx.finding("unknown-chain", rule.origin, ("chain",),
                              f"chain {rule.chain!r} of rule {rule.id!r} is not defined",
                              _did_you_mean(rule.chain, ctx.policy.chains) or "add it under `chains:`")


@check("manager-cycle", Severity.ERROR,
       "`manager` links loop back on themselves, so `owner.manager...` could never end.")
def manager_cycle(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    users:
      alice: {name: Alice, email: alice@example.com, manager: bob}
      bob:   {name: Bob,   email: bob@example.com,   manager: alice}   # manager-cycle: alice -> bob -> alice
    ```
    """
    users = ctx.policy.users
    reported: set[str] = set()
    for start in users:
        seen: list[str] = []
        current: str | None = start
        while current is not None and current in users and current not in seen:
            seen.append(current)
            current = users[current].manager
        if current is not None and current in seen:
            cycle = seen[seen.index(current):]
            if reported & set(cycle):
                continue
            reported |= set(cycle)
            first = min(cycle, key=lambda u: (users[u].origin.file, str(users[u].origin.path)))
            loop = cycle[cycle.index(first):] + cycle[: cycle.index(first)] + [first]
            yield ctx.finding("manager-cycle", users[first].origin, ("manager",),
                              "manager links form a cycle: " + " -> ".join(loop),
                              "break the loop: the top of the hierarchy has no manager")


@check("inactive-approver", Severity.WARNING, "A rule or group names a user marked `active: false`.")
def inactive_approver(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    users:
      vp-sales: {name: Vic, email: vic@example.com, active: false}
    rules:
      - {id: r1, when: "discount_pct > 20", approvers: [vp-sales], step: 1}   # inactive-approver
    ```
    """
    users = ctx.policy.users
    for mention in ctx.policy.mentions:
        if mention.name not in users or users[mention.name].active:
            continue
        if mention.role is Role.APPROVER:
            yield ctx.finding("inactive-approver", Origin(mention.file, mention.path), (),
                              f"approver {mention.name!r} of rule {mention.holder!r} is inactive",
                              "requests to inactive users are never answered; use `cpq approvers replace`")
        elif mention.role is Role.MEMBER:
            yield ctx.finding("inactive-approver", Origin(mention.file, mention.path), (),
                              f"member {mention.name!r} of group {mention.holder!r} is inactive")
