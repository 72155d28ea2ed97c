"""The bench's generated policy (bench_preview.make_policy) written as Rego, for regorus (issue 13).

`to_rego(policy)` translates the policy data as make_policy writes it: users, groups, chains,
variables (sum/min/max/count/avg over lines with a `where`) and rules whose `when` uses
comparisons, `and`, `or` and `in [...]` over quote fields, derived values and variables. It
reads each `when` with cpq's own parser, so both engines evaluate the same conditions. cpq's
null semantics map onto Rego's undefined: a comparison with a missing value is undefined, so
the rule body fails, as the cpq condition is false. Anything outside this subset is refused
rather than translated approximately.

The result of `data.cpq.result` for one quote (the raw quote JSON as input) is
`{"fired": [rule ids, sorted], "approvals": [[chain, step, approver], ...], "status": ...}`.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cpq_cli.expressions import parse

# Derived line values (cpq's quote.py), computed once per line into `lines`.
PRELUDE = """\
package cpq

import rego.v1

margin(np, x) := ((np - to_number(x.cost)) / np) * 100 if {
\tx.cost
\tnp != 0
}

line(x) := object.union(base, {"margin_pct": m | m := margin(np, x)}) if {
\td := object.get(x, "discount_pct", 0)
\tlp := to_number(x.list_price)
\tnp := lp * (1 - d / 100)
\tbase := {"family": x.family, "kind": x.kind, "site": x.site, "discount_pct": d, "net_price": np,
\t\t"list_total": x.quantity * lp, "net_total": x.quantity * np}
}

lines := [line(x) | some x in input.lines]

list_total := sum([l.list_total | some l in lines])

net_total := sum([l.net_total | some l in lines])

discount_pct := (1 - net_total / list_total) * 100 if list_total != 0

discount_pct := 0 if list_total == 0

line_count := count(input.lines)

resolve(ref) := data.users[input.owner].manager if ref == "owner.manager"

resolve(ref) := ref if ref != "owner.manager"

approvals contains [r.chain, r.step, resolve(ref)] if {
\tsome id in fired
\tr := data.rules[id]
\tsome ref in r.approvers
}

human contains a if {
\tsome a in approvals
\ta[2] != "auto"
}

status := "approval_required" if count(human) > 0

status := "no_approval_required" if count(human) == 0

result := {"fired": sort([id | some id in fired]), "approvals": sort([a | some a in approvals]), "status": status}
"""

_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
QUOTE_DERIVED = {"list_total", "net_total", "discount_pct", "line_count"}
LINE_FIELDS = ("family", "kind", "site", "discount_pct", "net_price", "list_total", "net_total", "margin_pct")


class Unsupported(ValueError):
    pass


def _path(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_path(node.value)}.{node.attr}"
    raise Unsupported(ast.dump(node))


def _literal(node: ast.AST) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return json.dumps(node.value)
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return str(node.value)
    if isinstance(node, ast.List):
        return "{" + ", ".join(_literal(e) for e in node.elts) + "}"
    raise Unsupported(ast.dump(node))


def _value(node: ast.AST, names: dict[str, str]) -> str:
    path = _path(node)
    if path in names:
        return names[path]
    raise Unsupported(f"name {path}")


def _dnf(node: ast.AST, names: dict[str, str]) -> list[list[str]]:
    """The condition as a disjunction of conjunctions of Rego expressions (one rule body each)."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return [conj for value in node.values for conj in _dnf(value, names)]
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        out: list[list[str]] = [[]]
        for value in node.values:
            out = [a + b for a in out for b in _dnf(value, names)]
        return out
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if isinstance(op, ast.In):
            return [[f"{_value(left, names)} in {_literal(right)}"]]
        if type(op) in _OPS:
            return [[f"{_value(left, names)} {_OPS[type(op)]} {_literal(right)}"]]
    raise Unsupported(ast.dump(node))


def _line_names() -> dict[str, str]:
    return {f: f"x.{f}" for f in LINE_FIELDS}


def _variable(vid: str, spec: dict[str, Any]) -> str:
    function, field, where = spec["function"], spec.get("field"), spec.get("where")
    body = ["some x in lines"]
    if where:
        conjunctions = _dnf(parse(where).tree.body, _line_names())
        if len(conjunctions) != 1:
            raise Unsupported(f"variable {vid}: `or` in where")
        body += conjunctions[0]
    if function == "count" and field is None:
        return f"{vid} := count([1 | {'; '.join(body)}])"
    value = _line_names()[field or ""]
    body.append(f"v := {value}")
    body.append("is_number(v)")
    items = f"[v | {'; '.join(body)}]"
    if function in ("sum", "count"):
        return f"{vid} := {function}({items})"
    if function in ("min", "max"):  # undefined over no lines, as cpq's null
        return f"{vid} := {function}({items})"
    if function == "avg":
        return f"{vid} := sum({items}) / count({items}) if count({items}) > 0"
    raise Unsupported(function)


def to_rego(policy: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(Rego module, data document) for a policy in make_policy's form."""
    names = {n: n for n in QUOTE_DERIVED}
    names.update({f: f"input.{f}" for f in ("payment_terms", "term_months", "currency", "owner", "id")})
    names.update({"account.region": "input.account.region", "fields.deal_type": "input.fields.deal_type"})
    parts = [PRELUDE]
    for vid, spec in policy.get("variables", {}).items():
        names[vid] = vid
        parts.append(_variable(vid, spec) + "\n")
    rules: dict[str, Any] = {}
    for rule in policy["rules"]:
        if rule.get("effective") or rule.get("step", 1) < 1:
            raise Unsupported(f"rule {rule['id']}: effective windows")
        for conjunction in _dnf(parse(rule["when"]).tree.body, names):
            parts.append(f"fired contains {json.dumps(rule['id'])} if {{\n\t" + "\n\t".join(conjunction) + "\n}\n")
        approvers = list(dict.fromkeys(rule["approvers"]))
        rules[rule["id"]] = {"chain": rule.get("chain", "default"), "step": rule.get("step", 1),
                             "approvers": approvers}
    users = {uid: {"manager": u.get("manager")} for uid, u in policy["users"].items()}
    return "\n".join(parts), {"users": users, "rules": rules}
