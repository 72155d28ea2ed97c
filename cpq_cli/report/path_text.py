"""The approval path as a Rich tree: chain -> step -> approvers, with the reasons in words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpq_cli.report.path import money_text, parallel_with, percent
from cpq_cli.routing import ApprovalPath, Approver, ApproverKind, ConditionResult, PathStatus, display_value

if TYPE_CHECKING:
    from rich.tree import Tree

    from cpq_cli.quote import Quote


def _approver_text(a: Approver) -> str:
    match a.kind:
        case ApproverKind.AUTO:
            who = "[green]auto-approved[/] (recorded, nobody is asked)"
        case ApproverKind.GROUP:
            need = a.require.describe() if a.require else "any"
            rule = {"any": "any one of", "all": "all of"}.get(need, f"{need} of")
            who = f"[bold]{a.id}[/] (group: {rule} {', '.join(a.members)})"
        case ApproverKind.USER:
            who = f"[bold]{a.id}[/]" + (f" [dim](as {', '.join(a.via)})[/]" if a.via else "")
    return who


def _condition_text(c: ConditionResult) -> str:
    mark = "[green]✓[/]" if c.result else "[red]✗[/]"
    value = display_value(c.tested)
    missing = " [yellow](missing)[/]" if c.missing else ""
    return f"{mark} {_escape(c.source)}  [dim]{_escape(c.tested_expr)} = {_escape(value)}[/]{missing}"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def path_tree(path: ApprovalPath, quote: Quote, file: str, *, explain: bool, digits: int = 2) -> Tree:
    from rich.tree import Tree

    values = quote.values
    header = (f"[bold]{_escape(quote.id)}[/] {_escape(str(quote.data.get('name', '')))} — "
              f"{_escape(str(quote.data.get('account', {}).get('name', '')))} · "
              f"{quote.currency} {money_text(values['net_total'], digits)} net · "
              f"discount {percent(values['discount_pct'])}%"
              f"  [dim]{_escape(file)}[/]")
    fired = len(path.fired)
    if path.status is PathStatus.APPROVAL_REQUIRED:
        status = f"[bold yellow]approval required[/] — {fired} rule{'s' if fired != 1 else ''} fired"
    else:
        status = "[bold green]no approval required[/]" + (f" — {fired} rule(s) recorded as auto-approved"
                                                          if fired else "")
    tree = Tree(f"{header}\n{status}", guide_style="dim")
    for chain in path.chains:
        beside = parallel_with(path, chain)
        note = f", in parallel with {', '.join(beside)}" if beside else ""
        earlier = sorted({c.id for c in path.chains if c.order < chain.order})
        after = f", after {', '.join(earlier)}" if earlier else ""
        branch = tree.add(f"[bold cyan]chain {chain.id}[/] [dim](order {chain.order}{note}{after})[/]")
        for step in chain.steps:
            step_node = branch.add(f"step {step.number}" + (" [dim](all at once)[/]" if len(step.approvers) > 1
                                                            else ""))
            for a in step.approvers:
                node = step_node.add(_approver_text(a))
                for rule, reason in zip(a.rules, a.reasons, strict=False):
                    node.add(f"[magenta]{_escape(rule)}[/]: {_escape(reason)}")
    if explain:
        rules = tree.add("[bold]rules[/]")
        for r in path.rules:
            if not r.effective:
                label = f"[dim]– {r.id}: not effective on {quote.date.isoformat()}[/]"
            elif r.fired:
                label = f"[green]✓ {r.id}[/] fired → {r.chain} step {r.step}"
            else:
                label = f"[red]✗ {r.id}[/] did not fire"
            node = rules.add(label)
            for c in r.conditions:
                node.add(_condition_text(c))
    return tree
