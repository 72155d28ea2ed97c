"""Checks on the shape of rules, and on definitions nothing uses."""

from __future__ import annotations

from collections.abc import Iterator

from cpq_cli.diagnostics import Diagnostic, Severity
from cpq_cli.lint.registry import LintContext, check


@check("no-approvers", Severity.ERROR,
       "A rule has an empty approver list, so firing it could never be approved.", cross_file=False)
def no_approvers(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    rules:
      - {id: big-deal, when: "net_total >= 500000", approvers: [], step: 1}   # no-approvers
    ```
    Use `approvers: [auto]` for a rule that should only be recorded.
    """
    for rule in ctx.policy.rules:
        if not rule.approvers:
            yield ctx.finding("no-approvers", rule.origin, ("approvers",), f"rule {rule.id!r} has no approvers",
                              "name at least one approver, or `auto` to record without asking anyone")


@check("step-below-one", Severity.ERROR, "A rule's `step` is below 1; steps count from 1.", cross_file=False)
def step_below_one(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    rules:
      - {id: r1, when: "discount_pct > 10", approvers: [mira], step: 0}   # step-below-one
    ```
    """
    for rule in ctx.policy.rules:
        if rule.step < 1:
            yield ctx.finding("step-below-one", rule.origin, ("step",),
                              f"rule {rule.id!r} has step {rule.step}; steps start at 1")


@check("effective-window", Severity.ERROR,
       "A rule's `effective.from` is after its `effective.until`, so it never applies.", cross_file=False)
def effective_window(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    rules:
      - {id: r1, ..., effective: {from: 2027-01-01, until: 2026-12-31}}   # effective-window
    ```
    """
    for rule in ctx.policy.rules:
        if rule.effective_from and rule.effective_until and rule.effective_from > rule.effective_until:
            yield ctx.finding("effective-window", rule.origin, ("effective", "until"),
                              f"rule {rule.id!r} is effective from {rule.effective_from} until "
                              f"{rule.effective_until}: that window is empty", "dates are inclusive")


@check("unused-definition", Severity.WARNING, "A group, variable or chain is defined but nothing uses it.")
def unused_definition(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    groups:
      procurement: {members: [pat]}   # unused-definition: no rule names it
    ```
    """
    policy = ctx.policy
    approvers = {a for r in policy.rules for a in r.approvers}
    chains = {r.chain for r in policy.rules}
    names: set[str] = set()
    from cpq_cli.expressions import ExprError, parse

    for source in [r.when for r in policy.rules] + [v.where for v in policy.variables.values() if v.where]:
        try:
            names |= parse(source).roots
        except ExprError:
            continue
    for group in policy.groups.values():
        if group.id not in approvers:
            yield ctx.finding("unused-definition", group.origin, (), f"group {group.id!r} is not used by any rule",
                              key=True)
    for chain in policy.chains.values():
        if chain.id not in chains:
            yield ctx.finding("unused-definition", chain.origin, (), f"chain {chain.id!r} has no rules", key=True)
    for variable in policy.variables.values():
        if variable.id not in names:
            yield ctx.finding("unused-definition", variable.origin, (),
                              f"variable {variable.id!r} is not used by any expression", key=True)
