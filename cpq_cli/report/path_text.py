"""The approval path as a tree: chain -> step -> approvers, with the reasons in words.

In the reader's language (`i18n`); English is the messages' own text, so nothing is loaded for it
and its output is exactly what it always was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpq_cli import i18n
from cpq_cli.i18n import t
from cpq_cli.report.path import money_text, parallel_with, percent
from cpq_cli.report.tree import Node, Part
from cpq_cli.routing import ApprovalPath, Approver, ApproverKind, ConditionResult, PathStatus, display_value

if TYPE_CHECKING:
    from cpq_cli.quote import Quote


def _approver(a: Approver) -> tuple[Part, ...]:
    match a.kind:
        case ApproverKind.AUTO:
            return (str(t("auto-approved")), "green"), str(t(" (recorded, nobody is asked)"))
        case ApproverKind.GROUP:
            need = a.require.describe() if a.require else "any"
            members = ", ".join(a.members)
            if need == "any":
                text = t(" (group: any one of {members})", members=members)
            elif need == "all":
                text = t(" (group: all of {members})", members=members)
            else:
                text = t(" (group: {need} of {members})", need=need, members=members)
            return (a.id, "bold"), str(text)
        case ApproverKind.USER:
            return ((a.id, "bold"), (str(t(" (as {via})", via=", ".join(a.via))), "dim")) if a.via else (
                (a.id, "bold"),)


def reason_text(reason: str, language: str | None = None) -> str:
    """A reason from routing (`discount_pct > 10 (is 12.22)`) with its one word in the reader's language;
    the condition itself is the policy's expression and stays as written."""
    lang = language or i18n.current()
    if lang == i18n.DEFAULT:
        return reason
    said = []
    for part in reason.split("; "):
        if part == "condition met":
            said.append(t("condition met").render(lang))
            continue
        head, sep, value = part.rpartition(" (is ")
        if sep:
            said.append(t("{condition} (is {value}", condition=head, value=value).render(lang))
            continue
        head, sep, value = part.rpartition(" is ")
        said.append(t("{condition} is {value}", condition=head, value=value).render(lang) if sep else part)
    return "; ".join(said)


def _money(amount: Any, currency: str, digits: int) -> str:
    if i18n.current() == i18n.DEFAULT:
        return f"{currency} {money_text(amount, digits)}"
    return i18n.money(amount, currency)


def _percent(value: Any) -> str:
    return percent(value) if i18n.current() == i18n.DEFAULT else i18n.number(value, places=2)


def _condition(c: ConditionResult) -> tuple[Part, ...]:
    mark = ("✓", "green") if c.result else ("✗", "red")
    parts: list[Part] = [mark, f" {c.source}  ", (f"{c.tested_expr} = {display_value(c.tested)}", "dim")]
    if c.missing:
        parts.append((str(t(" (missing)")), "yellow"))
    return tuple(parts)


def path_tree(path: ApprovalPath, quote: Quote, file: str, *, explain: bool, digits: int = 2) -> Node:
    values = quote.values
    fired = len(path.fired)
    if path.status is PathStatus.APPROVAL_REQUIRED:
        status: tuple[Part, ...] = ((str(t("approval required")), "bold yellow"),
                                    str(t(" — {count} rule fired", count=fired) if fired == 1 else
                                        t(" — {count} rules fired", count=fired)))
    else:
        status = ((str(t("no approval required")), "bold green"),
                  str(t(" — {count} rule(s) recorded as auto-approved", count=fired)) if fired else "")
    name = f" {quote.data['name']}" if quote.data.get("name") else ""
    root = Node(
        (quote.id, "bold"),
        str(t("{name} — {account} · {amount} net · discount {discount}%  ", name=name,
              account=quote.data.get("account", {}).get("name", ""),
              amount=_money(values["net_total"], quote.currency, digits), discount=_percent(values["discount_pct"]))),
        (file, "dim"),
        "\n",
        *status,
    )
    for chain in path.chains:
        beside = parallel_with(path, chain)
        earlier = sorted({c.id for c in path.chains if c.order < chain.order})
        detail = str(t("order {order}", order=chain.order))
        if beside:
            detail += str(t(", in parallel with {chains}", chains=", ".join(beside)))
        if earlier:
            detail += str(t(", after {chains}", chains=", ".join(earlier)))
        branch = root.add((str(t("chain {chain}", chain=chain.id)), "bold cyan"), (f" ({detail})", "dim"))
        for step in chain.steps:
            together = (str(t(" (all at once)")), "dim") if len(step.approvers) > 1 else ""
            step_node = branch.add(str(t("step {step}", step=step.number)), together)
            for a in step.approvers:
                node = step_node.add(*_approver(a))
                for rule, reason in zip(a.rules, a.reasons, strict=False):
                    node.add((rule, "magenta"), f": {reason_text(reason)}")
    if explain:
        rules = root.add((str(t("rules")), "bold"))
        for r in path.rules:
            if not r.effective:
                node = rules.add((str(t("– {rule}: not effective on {day}", rule=r.id, day=quote.date.isoformat())),
                                  "dim"))
            elif r.fired:
                node = rules.add((f"✓ {r.id}", "green"), str(t(" fired → {chain} step {step}", chain=r.chain,
                                                               step=r.step)))
            else:
                node = rules.add((f"✗ {r.id}", "red"), str(t(" did not fire")))
            for c in r.conditions:
                node.add(*_condition(c))
    return root


def smart_branch(root: Node, reuse: dict[str, Any]) -> None:
    """What a resubmission would reuse: one line per approver, with the reason per rule."""
    node = root.add((str(t("smart approvals")), "bold"),
                    (str(t(" (a submit now follows {submission}, {status})", submission=reuse["after"],
                           status=i18n.status_word(str(reuse["previous_status"])))), "dim"))
    for entry in reuse["approvers"]:
        verdict = ((str(t("reused")), "green"), str(t(" (earlier approval {request})", request=entry["earlier"]))
                   ) if entry["reuse"] else ((str(t("asked again")), "yellow"), "")
        child = node.add((entry["approver"], "bold"), ": ", *verdict)
        for rule, why in entry["why"].items():
            child.add((rule, "magenta"), f": {why}")
