"""The approval path as a tree: chain -> step -> approvers, with the reasons in words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpq_cli.report.path import money_text, parallel_with, percent
from cpq_cli.report.tree import Node, Part
from cpq_cli.routing import ApprovalPath, Approver, ApproverKind, ConditionResult, PathStatus, display_value

if TYPE_CHECKING:
    from cpq_cli.quote import Quote


def _approver(a: Approver) -> tuple[Part, ...]:
    match a.kind:
        case ApproverKind.AUTO:
            return ("auto-approved", "green"), " (recorded, nobody is asked)"
        case ApproverKind.GROUP:
            need = a.require.describe() if a.require else "any"
            rule = {"any": "any one of", "all": "all of"}.get(need, f"{need} of")
            return (a.id, "bold"), f" (group: {rule} {', '.join(a.members)})"
        case ApproverKind.USER:
            return ((a.id, "bold"), (f" (as {', '.join(a.via)})", "dim")) if a.via else ((a.id, "bold"),)


def _condition(c: ConditionResult) -> tuple[Part, ...]:
    mark = ("✓", "green") if c.result else ("✗", "red")
    parts: list[Part] = [mark, f" {c.source}  ", (f"{c.tested_expr} = {display_value(c.tested)}", "dim")]
    if c.missing:
        parts.append((" (missing)", "yellow"))
    return tuple(parts)


def path_tree(path: ApprovalPath, quote: Quote, file: str, *, explain: bool, digits: int = 2) -> Node:
    values = quote.values
    fired = len(path.fired)
    if path.status is PathStatus.APPROVAL_REQUIRED:
        status: tuple[Part, ...] = (("approval required", "bold yellow"),
                                    f" — {fired} rule{'s' if fired != 1 else ''} fired")
    else:
        status = (("no approval required", "bold green"),
                  f" — {fired} rule(s) recorded as auto-approved" if fired else "")
    root = Node(
        (quote.id, "bold"),
        f"{' ' + quote.data['name'] if quote.data.get('name') else ''} — "
        f"{quote.data.get('account', {}).get('name', '')} · "
        f"{quote.currency} {money_text(values['net_total'], digits)} net · "
        f"discount {percent(values['discount_pct'])}%  ",
        (file, "dim"),
        "\n",
        *status,
    )
    for chain in path.chains:
        beside = parallel_with(path, chain)
        note = f", in parallel with {', '.join(beside)}" if beside else ""
        earlier = sorted({c.id for c in path.chains if c.order < chain.order})
        after = f", after {', '.join(earlier)}" if earlier else ""
        branch = root.add((f"chain {chain.id}", "bold cyan"), (f" (order {chain.order}{note}{after})", "dim"))
        for step in chain.steps:
            together = (" (all at once)", "dim") if len(step.approvers) > 1 else ""
            step_node = branch.add(f"step {step.number}", together)
            for a in step.approvers:
                node = step_node.add(*_approver(a))
                for rule, reason in zip(a.rules, a.reasons, strict=False):
                    node.add((rule, "magenta"), f": {reason}")
    if explain:
        rules = root.add(("rules", "bold"))
        for r in path.rules:
            if not r.effective:
                node = rules.add((f"– {r.id}: not effective on {quote.date.isoformat()}", "dim"))
            elif r.fired:
                node = rules.add((f"✓ {r.id}", "green"), f" fired → {r.chain} step {r.step}")
            else:
                node = rules.add((f"✗ {r.id}", "red"), " did not fire")
            for c in r.conditions:
                node.add(*_condition(c))
    return root


def smart_branch(root: Node, reuse: dict[str, Any]) -> None:
    """What a resubmission would reuse: one line per approver, with the reason per rule."""
    node = root.add(("smart approvals", "bold"),
                    (f" (a submit now follows {reuse['after']}, {reuse['previous_status'].lower()})", "dim"))
    for entry in reuse["approvers"]:
        verdict = (("reused", "green"), f" (earlier approval {entry['earlier']})") if entry["reuse"] else (
            ("asked again", "yellow"), "")
        child = node.add((entry["approver"], "bold"), ": ", *verdict)
        for rule, why in entry["why"].items():
            child.add((rule, "magenta"), f": {why}")
