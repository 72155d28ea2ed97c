"""The expression language of `when:` and `where:`: parse against an allow-list, compile to closures.

Syntax is a safe subset of Python's: literals, names and dotted field paths, `and or not`,
comparisons, `+ - * /` and a fixed set of functions. Source is parsed with the standard
library's `ast` and every node is checked against an allow-list; nothing is ever `eval`ed.
Compiled expressions are plain closures over an `Env`.

Semantics (see docs/expressions.md): numbers are exact `Decimal`s; any comparison with a
missing value (null) is false; arithmetic on a missing value or a wrong type gives null;
nothing raises at evaluation time.
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

MAX_LENGTH = 2000
MAX_DEPTH = 32
MAX_NODES = 400

# name -> (min args, max args); None means any number
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "len": (1, 1),
    "min": (1, None),
    "max": (1, None),
    "abs": (1, 1),
    "round": (1, 2),
    "date": (1, 1),
    "days_between": (2, 2),
    "contains": (2, 2),
    "startswith": (2, 2),
    "lower": (1, 1),
}
# Calls to these in a boolean position are conditions too (their first argument is the tested value).
CONDITION_FUNCTIONS = frozenset({"contains", "startswith"})
LITERAL_NAMES: dict[str, Any] = {"null": None, "none": None, "true": True, "false": False}

_COMPARE_OPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in",
}
_BIN_OPS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class ExprError(Exception):
    """An expression that cannot be accepted; line and column are 1-based within the expression."""

    def __init__(self, message: str, line: int = 1, column: int = 1, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint


class Condition(NamedTuple):
    """One comparison (an AA "condition"): its text, operator and the text of its tested value."""

    number: int
    source: str
    op: str
    tested: str
    tested_path: str | None  # the dotted field path when the tested value is a plain field
    names: frozenset[str]


class Expression(NamedTuple):
    source: str
    tree: ast.Expression
    conditions: tuple[Condition, ...]
    names: frozenset[str]  # dotted paths as written, e.g. "discount_pct", "account.region"
    name_positions: tuple[tuple[str, int, int], ...]  # (path, line, column) of each reference

    @property
    def roots(self) -> frozenset[str]:
        return frozenset(n.split(".", 1)[0] for n in self.names)


# ------------------------------------------------------------------------------------ parsing


def _column(source: str, line: int, byte_col: int) -> int:
    """ast columns are UTF-8 byte offsets; users count characters."""
    lines = source.splitlines() or [""]
    text = lines[min(line, len(lines)) - 1]
    return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore")) + 1


def _where(source: str, node: ast.AST) -> tuple[int, int]:
    line = getattr(node, "lineno", 1)
    return line, _column(source, line, getattr(node, "col_offset", 0))


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def parse(source: str) -> Expression:
    """Parse and check an expression; raise ExprError with a position for anything not allowed."""
    if len(source) > MAX_LENGTH:
        raise ExprError(f"expression is {len(source)} characters long; the limit is {MAX_LENGTH}",
                        hint="split it into variables or several rules")
    if "\x00" in source:
        raise ExprError("expression contains a NUL character")
    stripped = source.strip()
    if not stripped:
        raise ExprError("expression is empty")
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        line = exc.lineno or 1
        col = exc.offset or 1
        raise ExprError(f"syntax error: {exc.msg}", line, col) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExprError("expression is nested too deeply", hint=f"at most {MAX_DEPTH} levels") from None
    checker = _Checker(stripped)
    checker.check(tree.body, 1)
    if checker.count > MAX_NODES:
        raise ExprError(f"expression has {checker.count} parts; the limit is {MAX_NODES}",
                        hint="split it into variables or several rules")
    return Expression(source, tree, tuple(checker.conditions), frozenset(p for p, _, _ in checker.names),
                      tuple(checker.names))


class _Checker:
    """Walks the tree once: enforces the allow-list and collects names and conditions."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.count = 0
        self.names: list[tuple[str, int, int]] = []
        self.conditions: list[Condition] = []

    def fail(self, node: ast.AST, message: str, hint: str | None = None) -> ExprError:
        line, col = _where(self.source, node)
        return ExprError(message, line, col, hint)

    def segment(self, node: ast.AST) -> str:
        return source_segment(self.source, node) or ast.unparse(node)

    def check(self, node: ast.AST, depth: int) -> None:
        self.count += 1
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.check(value, depth + 1)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
                raise self.fail(node, "operator '~' is not allowed")
            self.check(node.operand, depth + 1)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BIN_OPS:
                raise self.fail(node, f"operator {type(node.op).__name__} is not allowed",
                                "use + - * / only")
            self.check(node.left, depth + 1)
            self.check(node.right, depth + 1)
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
                if type(op) not in _COMPARE_OPS:
                    raise self.fail(node, f"comparison '{type(op).__name__}' is not allowed",
                                    "use == != < <= > >= in, not in")
                self._condition(node, _COMPARE_OPS[type(op)], left, right)
            for operand in operands:
                self.check(operand, depth + 1)
        elif isinstance(node, ast.Call):
            self._call(node, depth)
        elif isinstance(node, ast.Name):
            self._name(node)
        elif isinstance(node, ast.Attribute):
            path = _dotted(node)
            if path is None:
                raise self.fail(node, "attribute access is only allowed on field paths like account.region")
            for part in path.split("."):
                if part.startswith("_"):
                    raise self.fail(node, f"name {part!r} is not allowed",
                                    "names starting with '_' are reserved")
            self.names.append((path, *_where(self.source, node)))
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | str | bool) and node.value is not None:
                raise self.fail(node, f"literal of type {type(node.value).__name__} is not allowed")
            if isinstance(node.value, complex):
                raise self.fail(node, "complex numbers are not allowed")
            if isinstance(node.value, str) and any("\ud800" <= ch <= "\udfff" or ch == "\x00" for ch in node.value):
                raise self.fail(node, "a text literal may not hold a lone surrogate or a NUL character")
            if isinstance(node.value, int | float) and not isinstance(node.value, bool):
                text = source_segment(self.source, node) or ""
                try:
                    number = literal_number(self.source, node) if len(text) <= 40 else None
                except (ArithmeticError, ValueError):
                    number = None
                if number is None or not number.is_finite() or abs(number.adjusted()) > 30:
                    raise self.fail(node, f"the number {text[:30]} is out of range (at most 30 digits, between "
                                    "1e-30 and 1e30)", "use a realistic number")
        elif isinstance(node, ast.List | ast.Tuple):
            if len(node.elts) > 200:
                raise self.fail(node, "list literal has more than 200 items")
            for elt in node.elts:
                self.check(elt, depth + 1)
        else:
            raise self.fail(node, f"{_describe_node(node)} is not allowed in expressions",
                            "expressions may use literals, field names, and/or/not, comparisons, "
                            "+ - * / and the functions " + ", ".join(FUNCTIONS))

    def _name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            raise self.fail(node, f"name {node.id!r} is not allowed", "names starting with '_' are reserved")
        if node.id in LITERAL_NAMES or node.id in ("True", "False", "None"):
            return
        self.names.append((node.id, *_where(self.source, node)))

    def _call(self, node: ast.Call, depth: int) -> None:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the built-in functions can be called",
                            "available: " + ", ".join(FUNCTIONS))
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.fail(node, f"unknown function {name!r}", "available: " + ", ".join(FUNCTIONS))
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, f"{name}() does not take *arguments")
        low, high = FUNCTIONS[name]
        n = len(node.args)
        if n < low or (high is not None and n > high):
            expected = str(low) if low == high else f"{low} to {high}" if high else f"at least {low}"
            raise self.fail(node, f"{name}() takes {expected} argument(s), got {n}")
        if name in CONDITION_FUNCTIONS:
            self._condition(node, name, node.args[0], node.args[1])
        for arg in node.args:
            self.check(arg, depth + 1)

    def _condition(self, node: ast.AST, op: str, left: ast.AST, right: ast.AST) -> None:
        functions = {id(n.func) for n in ast.walk(left) if isinstance(n, ast.Call)}  # `lower` is no field
        names = frozenset(p for p in (_dotted(n) for n in ast.walk(left) if id(n) not in functions) if p)
        source = (self.segment(node) if op in CONDITION_FUNCTIONS
                  else f"{self.segment(left)} {op} {self.segment(right)}")
        tested = _dotted(left)
        if tested in LITERAL_NAMES:
            tested = None
        self.conditions.append(Condition(len(self.conditions), source, op, self.segment(left),
                                         tested, names))


def _describe_node(node: ast.AST) -> str:
    names = {
        ast.Lambda: "lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator expression",
        ast.Subscript: "indexing ([...])", ast.Dict: "a dict literal", ast.Set: "a set literal",
        ast.IfExp: "an if/else expression", ast.NamedExpr: "assignment (:=)",
        ast.JoinedStr: "an f-string", ast.Await: "await", ast.Yield: "yield", ast.Starred: "*unpacking",
        ast.Slice: "slicing",
    }
    return names.get(type(node), type(node).__name__)


# ---------------------------------------------------------------------------------- semantics


def truthy(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return value != 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, Decimal) and not isinstance(value, bool)


def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Bring two values to one comparable type, or None when they are not comparable."""
    if _is_number(a) and _is_number(b):
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    if isinstance(a, bool) and isinstance(b, bool):
        return a, b
    if isinstance(a, dt.date) or isinstance(b, dt.date):
        da, db = _as_date(a), _as_date(b)
        if da is not None and db is not None:
            return da, db
    return None


def values_equal(a: Any, b: Any) -> bool:
    pair = _comparable(a, b)
    if pair is None:
        return False
    return bool(pair[0] == pair[1])


def compare(op: str, a: Any, b: Any) -> bool:
    """Null-safe comparison: anything compared with null is false; mismatched types are unequal."""
    if a is None or b is None:
        return False
    if op == "==":
        return values_equal(a, b)
    if op == "!=":
        return not values_equal(a, b)
    if op in ("in", "not in"):
        found = contains(b, a)
        if found is None:
            return False
        return found if op == "in" else not found
    pair = _comparable(a, b)
    if pair is None or isinstance(pair[0], bool):
        return False
    x, y = pair
    if op == "<":
        return bool(x < y)
    if op == "<=":
        return bool(x <= y)
    if op == ">":
        return bool(x > y)
    if op == ">=":
        return bool(x >= y)
    raise AssertionError(op)


def contains(haystack: Any, needle: Any) -> bool | None:
    if haystack is None or needle is None:
        return None
    if isinstance(haystack, str):
        return needle in haystack if isinstance(needle, str) else None
    if isinstance(haystack, list | tuple):
        return any(values_equal(item, needle) for item in haystack)
    return None


def arith(op: str, a: Any, b: Any) -> Any:
    """Decimal arithmetic; null or a wrong type gives null, as does division by zero."""
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if not (_is_number(a) and _is_number(b)):
        return None
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return None if b == 0 else a / b
    except ArithmeticError:
        return None
    raise AssertionError(op)


def _fn_len(x: Any) -> Any:
    return Decimal(len(x)) if isinstance(x, str | list | tuple | dict) else None


def _extreme(pick: Callable[[Sequence[Any]], Any]) -> Callable[..., Any]:
    def fn(*args: Any) -> Any:
        items = list(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else list(args)
        items = [i for i in items if i is not None]
        if not items:
            return None
        if all(_is_number(i) for i in items) or all(isinstance(i, str) for i in items):
            return pick(items)
        dates = [_as_date(i) for i in items]
        if all(d is not None for d in dates):
            return pick(dates)
        return None

    return fn


def _fn_abs(x: Any) -> Any:
    return abs(x) if _is_number(x) else None


def _fn_round(x: Any, digits: Any = Decimal(0)) -> Any:
    if not _is_number(x) or not _is_number(digits) or digits != digits.to_integral_value():
        return None
    if not -12 <= digits <= 12:
        return None
    try:
        return x.quantize(Decimal(1).scaleb(-int(digits)), rounding=ROUND_HALF_UP)
    except ArithmeticError:
        return None


def _fn_date(x: Any) -> Any:
    return _as_date(x)


def _fn_days_between(a: Any, b: Any) -> Any:
    da, db = _as_date(a), _as_date(b)
    if da is None or db is None:
        return None
    return Decimal((db - da).days)


def _fn_startswith(s: Any, prefix: Any) -> Any:
    if isinstance(s, str) and isinstance(prefix, str):
        return s.startswith(prefix)
    return None


def _fn_lower(s: Any) -> Any:
    return s.lower() if isinstance(s, str) else None


FUNCTION_IMPLS: dict[str, Callable[..., Any]] = {
    "len": _fn_len,
    "min": _extreme(min),
    "max": _extreme(max),
    "abs": _fn_abs,
    "round": _fn_round,
    "date": _fn_date,
    "days_between": _fn_days_between,
    "contains": contains,
    "startswith": _fn_startswith,
    "lower": _fn_lower,
}


def source_segment(source: str, node: ast.AST) -> str | None:
    """ast.get_source_segment, without splitting the source into lines for the common case: one
    line of ASCII, where the byte offsets ast gives are character offsets."""
    line, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    if line == 1 and end == 1 and "\n" not in source and "\r" not in source and "\f" not in source \
            and source.isascii():
        return source[node.col_offset:node.end_col_offset]  # type: ignore[attr-defined]
    return ast.get_source_segment(source, node)


def literal_number(source: str, node: ast.Constant) -> Decimal:
    """Exact value of a numeric literal, read from its source text (never through a float)."""
    text = source_segment(source, node) or repr(node.value)
    try:
        return Decimal(text)
    except ArithmeticError:
        return Decimal(int(text.replace("_", ""), 0))


# ---------------------------------------------------------------------------------- compiling


class Env:
    """What an expression sees: values by name, plus optional tracing and condition overrides.

    With a `trace` list, every condition evaluated is recorded; `full` (for explain) also turns
    off short-circuiting so that every condition is evaluated and recorded.
    """

    __slots__ = ("full", "overrides", "trace", "values")

    def __init__(self, values: Mapping[str, Any], *, trace: list[TraceEntry] | None = None,
                 overrides: Mapping[int, bool] | None = None, full: bool = False) -> None:
        self.values = values
        self.trace = trace
        self.overrides = overrides
        self.full = full


class TraceEntry(NamedTuple):
    number: int
    tested: Any
    against: Any
    result: bool
    overridden: bool = False


Compiled = Callable[[Env], Any]


def compile_expression(expr: Expression) -> Compiled:
    """Compile once into nested closures; evaluating never raises."""
    counter = iter(range(len(expr.conditions)))
    return _compile(expr.tree.body, expr.source.strip(), counter)


def _lookup_path(parts: tuple[str, ...]) -> Compiled:
    root, rest = parts[0], parts[1:]
    if not rest:
        return lambda env: env.values.get(root)

    def get(env: Env) -> Any:
        value = env.values.get(root)
        for part in rest:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    return get


def _outcome(env: Env, index: int, tested: Any, against: Any, result: bool) -> bool:
    """A condition's outcome: an override wins (smart approvals); the trace records it (explain)."""
    overrides = env.overrides
    overridden = bool(overrides) and index in overrides  # type: ignore[operator]
    if overridden:
        result = overrides[index]  # type: ignore[index]
    if env.trace is not None:
        env.trace.append(TraceEntry(index, tested, against, result, overridden))
    return result


def _compile(node: ast.AST, source: str, counter: Any) -> Compiled:
    if isinstance(node, ast.Constant):
        value: Any = node.value
        if isinstance(value, bool) or value is None or isinstance(value, str):
            pass
        elif isinstance(value, int | float):
            value = literal_number(source, node)
        return lambda env: value
    if isinstance(node, ast.Name):
        if node.id in LITERAL_NAMES or node.id in ("True", "False", "None"):
            literal = LITERAL_NAMES.get(node.id.lower())
            return lambda env: literal
        return _lookup_path((node.id,))
    if isinstance(node, ast.Attribute):
        path = _dotted(node)
        assert path is not None
        return _lookup_path(tuple(path.split(".")))
    if isinstance(node, ast.List | ast.Tuple):
        items = [_compile(e, source, counter) for e in node.elts]
        return lambda env: [item(env) for item in items]
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand, source, counter)
        if isinstance(node.op, ast.Not):
            return lambda env: not truthy(operand(env))
        negate = isinstance(node.op, ast.USub)

        def sign(env: Env) -> Any:
            v = operand(env)
            if not _is_number(v):
                return None
            return -v if negate else v

        return sign
    if isinstance(node, ast.BinOp):
        left, right = _compile(node.left, source, counter), _compile(node.right, source, counter)
        op = _BIN_OPS[type(node.op)]
        return lambda env: arith(op, left(env), right(env))
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, source, counter) for v in node.values]
        is_and = isinstance(node.op, ast.And)

        def boolop(env: Env) -> bool:
            if env.full:  # explain: evaluate every branch so every condition is shown
                results = [truthy(p(env)) for p in parts]
                return all(results) if is_and else any(results)
            if is_and:
                return all(truthy(p(env)) for p in parts)
            return any(truthy(p(env)) for p in parts)

        return boolop
    if isinstance(node, ast.Compare):
        return _compile_compare(node, source, counter)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        impl = FUNCTION_IMPLS[name]
        # Numbered before the arguments, in the same pre-order as the parser's conditions.
        index = next(counter) if name in CONDITION_FUNCTIONS else -1
        args = [_compile(a, source, counter) for a in node.args]
        if name in CONDITION_FUNCTIONS:
            first, second = args

            def call_condition(env: Env) -> bool:
                a, b = first(env), second(env)
                result = bool(impl(a, b))
                if env.trace is None and not env.overrides:
                    return result
                return _outcome(env, index, a, b, result)

            return call_condition
        if len(args) == 1:
            only = args[0]
            return lambda env: impl(only(env))
        return lambda env: impl(*[a(env) for a in args])
    raise AssertionError(f"unchecked node {type(node).__name__}")


_NO_CONSTANT = object()
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _constant(node: ast.AST, source: str) -> Any:
    """The value of a literal number, string or list of them; _NO_CONSTANT for anything else."""
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool) and node.value is not None:
        return node.value if isinstance(node.value, str) else literal_number(source, node)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _constant(node.operand, source)
        return -inner if isinstance(inner, Decimal) else _NO_CONSTANT
    if isinstance(node, ast.List | ast.Tuple):
        items = [_constant(e, source) for e in node.elts]
        return _NO_CONSTANT if any(i is _NO_CONSTANT for i in items) else items
    return _NO_CONSTANT


def _against_constant(op: str, const: Any) -> Callable[[Any], bool]:
    """`field OP literal`, the shape of most conditions: the common type is tested first, so that
    evaluating hundreds of rules per quote stays cheap; anything else goes through `compare`."""
    if isinstance(const, Decimal) and op in _OPERATORS:
        fn = _OPERATORS[op]

        def number(a: Any) -> bool:
            return fn(a, const) if type(a) is Decimal else compare(op, a, const)

        return number
    if isinstance(const, str) and op in ("==", "!="):
        equal = op == "=="

        def text(a: Any) -> bool:
            return (a == const) is equal if type(a) is str else compare(op, a, const)

        return text
    if op in ("in", "not in") and isinstance(const, list) and all(isinstance(c, str) for c in const):
        members, inside = frozenset(const), op == "in"

        def member(a: Any) -> bool:
            return (a in members) is inside if type(a) is str else compare(op, a, const)

        return member
    return lambda a: compare(op, a, const)


def _compile_compare(node: ast.Compare, source: str, counter: Any) -> Compiled:
    indices = [next(counter) for _ in node.ops]  # before the operands: parser order
    operands = [_compile(o, source, counter) for o in [node.left, *node.comparators]]
    ops = [_COMPARE_OPS[type(op)] for op in node.ops]
    if len(ops) == 1 and (const := _constant(node.comparators[0], source)) is not _NO_CONSTANT:
        index, left, against = indices[0], operands[0], _against_constant(ops[0], const)

        def literal(env: Env) -> bool:
            a = left(env)
            result = against(a)
            if env.trace is None and not env.overrides:
                return result
            return _outcome(env, index, a, const, result)

        return literal
    if len(ops) == 1:
        index, op = indices[0], ops[0]
        left, right = operands

        def single(env: Env) -> bool:
            a, b = left(env), right(env)
            result = compare(op, a, b)
            if env.trace is None and not env.overrides:
                return result
            return _outcome(env, index, a, b, result)

        return single

    def chained(env: Env) -> bool:
        # Like Python: every operand is evaluated once, and `a < b < c` stops at the first false pair
        # (unless explaining, where every condition is shown).
        explaining = env.full
        a = operands[0](env)
        outcome = True
        for i, op in enumerate(ops):
            b = operands[i + 1](env)
            if not _outcome(env, indices[i], a, b, compare(op, a, b)):
                outcome = False
                if not explaining:
                    return False
            a = b
        return outcome

    return chained


# ------------------------------------------------------------------------ Python source

# What generated source may refer to besides its constants: the engine's own helpers, so that
# generated code and closures share one implementation of every operation.
SOURCE_HELPERS: dict[str, Any] = {
    "_truthy": truthy, "_cmp": compare, "_arith": arith, "_Decimal": Decimal, "_Mapping": Mapping,
    **{f"_f_{name}": impl for name, impl in FUNCTION_IMPLS.items()},
}


def _record_outcome(trace: list[TraceEntry], index: int, tested: Any, against: Any, result: bool) -> bool:
    trace.append(TraceEntry(index, tested, against, result))
    return result


def _record_labelled(trace: list[Any], label: tuple[Any, ...], tested: Any, against: Any, result: bool) -> bool:
    trace.append((*label, tested, against, result))
    return result


SOURCE_HELPERS["_o"] = _record_outcome
SOURCE_HELPERS["_c"] = _record_labelled  # a caller may put its own in the namespace (routing does)


class SourceWriter:
    """Writes checked expressions as one Python expression each, for a generated function.

    The result computes what the closures compute without tracing or overrides (a property
    test holds the two to it). Nothing the policy author wrote becomes code: every literal,
    name and function is a constant `K[i]`, and names are read once into numbered locals
    (`n0 = g(K[3])`) by the function's prologue, which `prologue()` returns.
    """

    def __init__(self) -> None:
        self.constants: list[Any] = []
        self._constant_index: dict[tuple[type, Any], int] = {}
        self.labels: set[int] = set()  # the constants that are labels (see begin)
        self.label_against: dict[int, int] = {}  # label -> its condition's constant `against`, if it has one
        self.begin("v")

    def begin(self, values: str, trace: str | None = None, label: Callable[[int], Any] | None = None) -> None:
        """Start a new function body reading names from `values`; with `trace`, every condition
        evaluated is appended to that list as the closures' trace records it (no overrides):
        `TraceEntry(number, tested, against, result)`, or with `label`, the tuple `label(number)`
        followed by tested, against and result (routing makes its ConditionResult of it)."""
        self.values = values
        self.trace = trace
        self.label = label
        self.locals: dict[str, str] = {}  # dotted path -> local variable
        self._temps = 0
        self._conditions = 0  # numbered in the closures' (and the parser's) pre-order

    def constant(self, value: Any) -> str:
        return f"K[{self.constant_index(value)}]"

    def constant_index(self, value: Any) -> int:
        # 1.0 and 1 are equal but print apart (1.0 + x is not 1 + x): Decimals are keyed by their text.
        hashable = not isinstance(value, list | dict)
        key = (type(value), str(value) if isinstance(value, Decimal) else value) if hashable else None
        if key is not None and key in self._constant_index:
            return self._constant_index[key]
        self.constants.append(value)
        if key is not None:
            self._constant_index[key] = len(self.constants) - 1
        return len(self.constants) - 1

    def _temp(self) -> str:
        self._temps += 1
        return f"t{self._temps}"

    def _name(self, path: str) -> str:
        if path not in self.locals:
            self.locals[path] = f"n{len(self.locals)}"
        return self.locals[path]

    def prologue(self) -> list[str]:
        """Statements reading every name used into its local, as `_lookup_path` does."""
        out = [f"g = {self.values}.get"]
        for path, local in self.locals.items():
            root, *rest = path.split(".")
            out.append(f"{local} = g({self.constant(root)})")
            for part in rest:
                key = self.constant(part)  # a dict mostly (account, fields): tested before the ABC
                out.append(f"{local} = {local}.get({key}) if type({local}) is dict or isinstance({local}, _Mapping) "
                           "else None")
        return out

    def boolean(self, node: ast.AST, source: str) -> str:
        """The node as a Python bool, as `truthy(closure(env))`."""
        if isinstance(node, ast.Compare | ast.BoolOp) or (
                isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)) or (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CONDITION_FUNCTIONS):
            return self.value(node, source)
        return f"_truthy({self.value(node, source)})"

    def value(self, node: ast.AST, source: str) -> str:
        if isinstance(node, ast.Constant):
            value: Any = node.value
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = literal_number(source, node)
            return self.constant(value)
        if isinstance(node, ast.Name):
            if node.id in LITERAL_NAMES or node.id in ("True", "False", "None"):
                return self.constant(LITERAL_NAMES.get(node.id.lower()))
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            path = _dotted(node)
            assert path is not None
            return self._name(path)
        if isinstance(node, ast.List | ast.Tuple):
            return "[" + "".join(f"{self.value(e, source)}, " for e in node.elts) + "]"
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return f"(not {self.boolean(node.operand, source)})"
            t = self._temp()
            sign = "-" if isinstance(node.op, ast.USub) else ""
            return f"({sign}{t} if type({t} := {self.value(node.operand, source)}) is _Decimal else None)"
        if isinstance(node, ast.BinOp):
            op = self.constant(_BIN_OPS[type(node.op)])
            return f"_arith({op}, {self.value(node.left, source)}, {self.value(node.right, source)})"
        if isinstance(node, ast.BoolOp):
            joiner = " and " if isinstance(node.op, ast.And) else " or "
            return "(" + joiner.join(self.boolean(v, source) for v in node.values) + ")"
        if isinstance(node, ast.Compare):
            return self._compare(node, source)
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            name = node.func.id
            assert name in FUNCTION_IMPLS  # the allow-list's names only, never the author's text
            if name in CONDITION_FUNCTIONS:
                index = self._number()  # before the arguments
                a, b = self._temp(), self._temp()
                first, second = (self.value(arg, source) for arg in node.args)
                if self.trace is None:
                    return f"bool(_f_{name}({first}, {second}))"
                return self._record(index, f"({a} := {first})", f"({b} := {second})", f"bool(_f_{name}({a}, {b}))")
            return f"_f_{name}({', '.join(self.value(a, source) for a in node.args)})"
        raise AssertionError(f"unchecked node {type(node).__name__}")

    def _number(self) -> int:
        self._conditions += 1
        return self._conditions - 1

    def _record(self, index: int, tested: str, against: str, result: str, against_at: int | None = None) -> str:
        """`result`, recorded when tracing; `tested` and `against` are evaluated first, in order.
        `against_at`: the constant `against` is, when it is one (K[against_at])."""
        if self.trace is None:
            return result
        if self.label is not None:
            at = self.constant_index(self.label(index))
            self.labels.add(at)
            if against_at is not None:
                self.label_against[at] = against_at
            return f"_c({self.trace}, K[{at}], {tested}, {against}, {result})"
        return f"_o({self.trace}, {index}, {tested}, {against}, {result})"

    def _compare(self, node: ast.Compare, source: str) -> str:
        ops = [_COMPARE_OPS[type(op)] for op in node.ops]
        indices = [self._number() for _ in ops]  # before the operands, as the closures number them
        if len(ops) == 1 and (const := _constant(node.comparators[0], source)) is not _NO_CONSTANT:
            value = self.value(node.left, source)
            left: str | None = value
            if value.isidentifier():  # a name already read into a local: test it as it is
                t, left = value, None
            else:
                t = self._temp()
            tested = f"({t} := {left})" if left is not None else t
            if self.trace is None:
                return self._against_constant(ops[0], t, const, left)
            against = self._against_constant(ops[0], t, const, None)
            at = self.constant_index(const)
            return self._record(indices[0], tested, f"K[{at}]", against, at)
        operands = [node.left, *node.comparators]
        # Like the closure: each operand evaluated once, the chain stops at the first false pair.
        temps = [self._temp() for _ in operands]
        parts = []
        for i, op in enumerate(ops):
            left = f"({temps[i]} := {self.value(operands[i], source)})" if i == 0 else temps[i]
            right = f"({temps[i + 1]} := {self.value(operands[i + 1], source)})"
            if self.trace is None:
                parts.append(f"_cmp({self.constant(op)}, {left}, {right})")
            else:
                parts.append(self._record(indices[i], left, right,
                                          f"_cmp({self.constant(op)}, {temps[i]}, {temps[i + 1]})"))
        return "(" + " and ".join(parts) + ")"

    def _against_constant(self, op: str, t: str, const: Any, left: str | None) -> str:
        """`_against_constant`, inlined: the common type tested first, anything else via compare.
        The tested value is `left`, assigned to `t`, or already in `t` when `left` is None."""
        tested = f"({t} := {left})" if left is not None else t
        slow = f"_cmp({self.constant(op)}, {t}, {self.constant(const)})"
        if isinstance(const, Decimal) and op in _OPERATORS:
            return f"(({t} {op} {self.constant(const)}) if type({tested}) is _Decimal else {slow})"
        if isinstance(const, str) and op in ("==", "!="):
            return f"(({t} {op} {self.constant(const)}) if type({tested}) is str else {slow})"
        if op in ("in", "not in") and isinstance(const, list) and all(isinstance(c, str) for c in const):
            members = self.constant(frozenset(const))
            return f"(({t} {op} {members}) if type({tested}) is str else {slow})"
        return f"_cmp({self.constant(op)}, {tested}, {self.constant(const)})"
