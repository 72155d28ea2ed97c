"""A deliberately plain interpreter of the expression language, written from docs/expressions.md.

It walks the AST on every call, with no compilation, no short-circuiting and no shared helpers
with the engine, so that the property tests compare two independent readings of the spec.
"""

from __future__ import annotations

import ast
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any


def _is_num(v: Any) -> bool:
    return isinstance(v, Decimal)


def _to_date(v: Any) -> dt.date | None:
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str) and len(v) == 10:
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            return None
    return None


def truth(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if _is_num(v):
        return v != 0
    if isinstance(v, (str, list, dict)):
        return len(v) > 0
    return True


def _same_kind(a: Any, b: Any) -> tuple[Any, Any] | None:
    if _is_num(a) and _is_num(b):
        return a, b
    if type(a) is str and type(b) is str:
        return a, b
    if type(a) is bool and type(b) is bool:
        return a, b
    if isinstance(a, dt.date) or isinstance(b, dt.date):
        x, y = _to_date(a), _to_date(b)
        if x is not None and y is not None:
            return x, y
    return None


def eq(a: Any, b: Any) -> bool:
    pair = _same_kind(a, b)
    return pair is not None and pair[0] == pair[1]


def cmp(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if op == "==":
        return eq(a, b)
    if op == "!=":
        return not eq(a, b)
    if op in ("in", "not in"):
        if isinstance(b, list):
            found = any(eq(item, a) for item in b)
        elif isinstance(b, str) and isinstance(a, str):
            found = a in b
        else:
            return False
        return found if op == "in" else not found
    pair = _same_kind(a, b)
    if pair is None or type(pair[0]) is bool:
        return False
    x, y = pair
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
       ast.NotIn: "not in"}


def _call(name: str, args: list[Any]) -> Any:
    if name == "len":
        (x,) = args
        return Decimal(len(x)) if isinstance(x, (str, list, dict)) else None
    if name in ("min", "max"):
        items = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        items = [i for i in items if i is not None]
        if not items:
            return None
        pick = min if name == "min" else max
        if all(_is_num(i) for i in items) or all(type(i) is str for i in items):
            return pick(items)
        dates = [_to_date(i) for i in items]
        return pick(dates) if all(d is not None for d in dates) else None  # type: ignore[type-var]
    if name == "abs":
        return abs(args[0]) if _is_num(args[0]) else None
    if name == "round":
        x = args[0]
        n = args[1] if len(args) > 1 else Decimal(0)
        if not (_is_num(x) and _is_num(n)) or n != int(n) or abs(n) > 12:
            return None
        return x.quantize(Decimal(1).scaleb(-int(n)), rounding=ROUND_HALF_UP)
    if name == "date":
        return _to_date(args[0])
    if name == "days_between":
        a, b = _to_date(args[0]), _to_date(args[1])
        return Decimal((b - a).days) if a and b else None
    if name == "contains":
        h, n = args
        if h is None or n is None:
            return False
        if isinstance(h, str):
            return isinstance(n, str) and n in h
        if isinstance(h, list):
            return any(eq(i, n) for i in h)
        return False
    if name == "startswith":
        s, p = args
        return s.startswith(p) if isinstance(s, str) and isinstance(p, str) else None
    if name == "lower":
        return args[0].lower() if isinstance(args[0], str) else None
    raise AssertionError(name)


def evaluate(source: str, values: dict[str, Any]) -> Any:
    text = source.strip()
    tree = ast.parse(text, mode="eval")

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or node.value is None or isinstance(node.value, str):
                return node.value
            return Decimal(ast.get_source_segment(text, node) or str(node.value))
        if isinstance(node, ast.Name):
            literals = {"null": None, "none": None, "true": True, "false": False, "True": True, "False": False,
                        "None": None}
            if node.id in literals:
                return literals[node.id]
            return values.get(node.id)
        if isinstance(node, ast.Attribute):
            base = ev(node.value)
            return base.get(node.attr) if isinstance(base, dict) else None
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            results = [truth(ev(v)) for v in node.values]
            return all(results) if isinstance(node.op, ast.And) else any(results)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            if isinstance(node.op, ast.Not):
                return not truth(v)
            if not _is_num(v):
                return None
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add) and type(a) is str and type(b) is str:
                return a + b
            if not (_is_num(a) and _is_num(b)):
                return None
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            return None if b == 0 else a / b
        if isinstance(node, ast.Compare):
            operands = [ev(node.left)] + [ev(c) for c in node.comparators]
            return all(cmp(OPS[type(op)], operands[i], operands[i + 1]) for i, op in enumerate(node.ops))
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            result = _call(node.func.id, [ev(a) for a in node.args])
            if node.func.id in ("contains", "startswith"):
                return bool(result)
            return result
        raise AssertionError(type(node).__name__)

    return ev(tree.body)
