"""Smart approvals: may an earlier human approval stand for a resubmitted quote?

Each human approval snapshots the tested value of every condition of its rules. On a submit
that follows a REJECTED or RECALLED submission, a rule whose approver approved before is
re-evaluated with each *smart* condition replaced by:

- unchanged                      -> false
- `>`, `>=`, `<`, `<=`           -> `current OP snapshot` (true only if the value moved further
                                    in the direction that triggers the rule)
- `==`, `!=`, `in`, `not in`, `contains`, `startswith` -> true iff the value changed

Non-smart conditions keep their normal truth. The rule's own logic then decides: false means
the earlier approval is reused (AUTO_APPROVED, `smart_reuse`); true means ask again. With
`smart: {individually: true}` any changed smart condition asks again, whatever the logic.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

from cpq_cli.expressions import Compiled, Env, Expression, TraceEntry, compare, truthy, values_equal
from cpq_cli.policy.model import Rule, SmartMode

ORDERING = frozenset({">", ">=", "<", "<="})


class SmartCondition(NamedTuple):
    number: int
    source: str
    op: str
    smart: bool
    snapshot: Any
    current: Any
    changed: bool
    truth: bool  # the value fed to the rule's logic (the override for smart conditions)


class SmartOutcome(NamedTuple):
    reapprove: bool
    conditions: tuple[SmartCondition, ...]

    def explain(self) -> str:
        changed = [c for c in self.conditions if c.smart and c.changed]
        if not self.reapprove:
            return ("no smart condition moved in its triggering direction" if changed
                    else "every smart condition is unchanged")
        moved = ", ".join(f"{c.source} ({display(c.snapshot)} -> {display(c.current)})" for c in changed)
        return f"changed: {moved}" if moved else "a condition that is not smart is true"


def display(value: Any) -> str:
    from cpq_cli.routing import display_value

    return display_value(value)


def smart_numbers(rule: Rule, expr: Expression) -> frozenset[int]:
    """Which conditions of the rule are smart."""
    match rule.smart.mode:
        case SmartMode.OFF:
            return frozenset()
        case SmartMode.ALL:
            return frozenset(c.number for c in expr.conditions)
        case SmartMode.FIELDS:
            wanted = set(rule.smart.fields)
            return frozenset(c.number for c in expr.conditions
                             if c.tested_path in wanted or c.tested in wanted)


def is_changed(current: Any, snapshot: Any) -> bool:
    if current is None or snapshot is None:
        return (current is None) != (snapshot is None)
    if isinstance(current, list) and isinstance(snapshot, list):
        return len(current) != len(snapshot) or any(is_changed(a, b) for a, b in zip(current, snapshot, strict=True))
    return not values_equal(current, snapshot)


def smart_truth(op: str, current: Any, snapshot: Any) -> bool:
    if not is_changed(current, snapshot):
        return False
    if op in ORDERING:
        return compare(op, current, snapshot)
    return True


def tested_values(fn: Compiled, values: dict[str, Any]) -> dict[int, Any]:
    """The tested value of every condition (all evaluated: no short-circuit)."""
    trace: list[TraceEntry] = []
    fn(Env(values, trace=trace, full=True))
    return {e.number: e.tested for e in trace}


def reevaluate(rule: Rule, expr: Expression, fn: Compiled, values: dict[str, Any],
               snapshot: dict[int, Any]) -> SmartOutcome:
    smart = smart_numbers(rule, expr)
    current = tested_values(fn, values)
    overrides = {n: smart_truth(expr.conditions[n].op, current.get(n), snapshot.get(n)) for n in smart}
    conditions = []
    trace: list[TraceEntry] = []
    result = truthy(fn(Env(values, trace=trace, overrides=overrides, full=True)))
    truth = {e.number: e.result for e in trace}
    for c in expr.conditions:
        conditions.append(SmartCondition(c.number, c.source, c.op, c.number in smart, snapshot.get(c.number),
                                         current.get(c.number), is_changed(current.get(c.number),
                                                                           snapshot.get(c.number)),
                                         truth.get(c.number, False)))
    # Individually: any changed smart condition asks again, whatever the logic says.
    reapprove = result or (rule.smart.individually and any(c.changed for c in conditions if c.smart))
    return SmartOutcome(reapprove, tuple(conditions))


# Snapshots are stored as JSON: keep decimals and dates exact and typed.

def encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$dec"}:
            return Decimal(value["$dec"])
        if set(value) == {"$date"}:
            return dt.date.fromisoformat(value["$date"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value
