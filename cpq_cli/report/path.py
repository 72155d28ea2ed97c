"""The approval path as data: the versioned JSON envelope and a Mermaid flowchart.

The JSON envelope is documented in docs/formats.md; fields are only ever added.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

from cpq_cli.quote import Quote
from cpq_cli.routing import ApprovalPath, Approver, ApproverKind, ChainPath, RuleResult, json_value

PATH_ENVELOPE_VERSION = 1


_UNITS = {digits: Decimal(1).scaleb(-digits) for digits in range(7)}


def money(amount: Decimal, digits: int = 2) -> str:
    """Rounded half-up to the currency's minor unit, only now that it is presented."""
    unit = _UNITS.get(digits) or Decimal(1).scaleb(-digits)
    return str(amount.quantize(unit, rounding=ROUND_HALF_UP))


def money_text(amount: Decimal, digits: int = 2) -> str:
    """For people: thousands grouped, e.g. 2,993,600.00."""
    return f"{Decimal(money(amount, digits)):,}"


def percent(value: Decimal) -> str:
    return str(value.quantize(_UNITS[2], rounding=ROUND_HALF_UP))


def quote_summary(quote: Quote, file: str, digits: int = 2, content_hash: str | None = None) -> dict[str, Any]:
    """`content_hash`: the quote's, when the caller has it already."""
    return {
        "id": quote.id,
        "file": file,
        "hash": content_hash if content_hash is not None else quote.content_hash,
        "account": quote.data.get("account", {}).get("id"),
        "owner": quote.owner,
        "currency": quote.currency,
        "date": quote.date.isoformat(),
        "list_total": money(quote.values["list_total"], digits),
        "net_total": money(quote.values["net_total"], digits),
        "discount_pct": percent(quote.values["discount_pct"]),
    }


def approver_json(a: Approver) -> dict[str, Any]:
    out: dict[str, Any] = {"id": a.id, "kind": a.kind.value, "rules": list(a.rules), "reasons": list(a.reasons),
                           "via": list(a.via)}
    if a.kind is ApproverKind.GROUP and a.require is not None:
        out["members"] = list(a.members)
        out["require"] = a.require.to_json()
        out["needed"] = a.require.needed(len(set(a.members)))
    return out


def parallel_with(path: ApprovalPath, chain: ChainPath) -> list[str]:
    return [c.id for c in path.chains if c.order == chain.order and c.id != chain.id]


def path_json(path: ApprovalPath, quote: Quote, file: str, digits: int = 2, *, explain: bool = False
              ) -> dict[str, Any]:
    """`rules` holds the rules that fired, each with its conditions; with `explain`, every rule."""
    return {
        "version": PATH_ENVELOPE_VERSION,
        "quote": quote_summary(quote, file, digits),
        "policy": {"hash": path.policy_hash},
        "status": path.status.value,
        "chains": [
            {
                "id": chain.id,
                "order": chain.order,
                "parallel_with": parallel_with(path, chain),
                "steps": [{"step": s.number, "approvers": [approver_json(a) for a in s.approvers]}
                          for s in chain.steps],
            }
            for chain in path.chains
        ],
        "rules": [_rule_json(r) for r in path.rules if explain or r.fired],
        "warnings": list(path.warnings),
    }


def _rule_json(r: RuleResult) -> dict[str, Any]:
    return {
        "id": r.id,
        "description": r.description,
        "chain": r.chain,
        "step": r.step,
        "fired": r.fired,
        "effective": r.effective,
        "conditions": [
            {"source": c.source, "op": c.op, "tested_expr": c.tested_expr, "tested": json_value(c.tested),
             "against": json_value(c.against), "result": c.result}
            for c in r.conditions
        ] if r.conditions else [],
    }


def error_json(file: str, message: str) -> dict[str, Any]:
    return {"version": PATH_ENVELOPE_VERSION, "quote": {"file": file}, "status": "error", "error": message}


# ------------------------------------------------------------------------------------ mermaid

def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _approver_label(a: Approver) -> str:
    match a.kind:
        case ApproverKind.AUTO:
            return "auto-approved"
        case ApproverKind.GROUP:
            need = a.require.describe() if a.require else "any"
            return f"{a.id} ({need} of {len(a.members)})"
        case ApproverKind.USER:
            return a.id


def path_mermaid(path: ApprovalPath) -> str:
    """A left-to-right flowchart; chains of equal order fork from one point and join after."""
    lines = ["flowchart LR", f"  start([{_label(path.quote_id + ' submitted')[1:-1]}])"]
    if not path.chains:
        lines.append('  done(["no approval required"])')
        lines.append("  start --> done")
        return "\n".join(lines) + "\n"
    orders = sorted({c.order for c in path.chains})
    previous_ends = ["start"]
    # Node ids are numbered, never derived from names: `legal` step 1 and a chain `legal_1`, or
    # `fast-track` and `fast_track`, would otherwise be one node and a silently wrong picture.
    counter = iter(range(1, 1_000_000))

    def fresh(kind: str) -> str:
        return f"{kind}{next(counter)}"

    for order in orders:
        ends = []
        for chain in (c for c in path.chains if c.order == order):
            lines.append(f"  subgraph {fresh('chain')} [{_label(f'{chain.id} · order {chain.order}')}]")
            step_nodes = []
            for step in chain.steps:
                node = fresh("step")
                names = "<br/>".join(_approver_label(a) for a in step.approvers)
                lines.append(f"    {node}[{_label(f'step {step.number}<br/>{names}')}]")
                step_nodes.append(node)
            for a, b in pairwise(step_nodes):
                lines.append(f"    {a} --> {b}")
            lines.append("  end")
            for end in previous_ends:
                lines.append(f"  {end} --> {step_nodes[0]}")
            ends.append(step_nodes[-1])
        previous_ends = ends
    lines.append('  approved(["approved"])')
    for end in previous_ends:
        lines.append(f"  {end} --> approved")
    return "\n".join(lines) + "\n"
