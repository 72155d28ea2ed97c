"""The expression engine: agreement with a reference interpreter, null safety, and the allow-list."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpq_cli.expressions import Env, ExprError, TraceEntry, compile_expression, parse
from tests import reference_eval

NAMES = ["discount_pct", "net_total", "region", "missing", "tags", "start", "flag", "account.region",
         "account.tier.level", "fields.deal_type"]

number_literals = st.one_of(st.integers(-1000, 1000).map(str),
                            st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False).map(str))
string_literals = st.sampled_from(["'EMEA'", "'Net 30'", "''", "'a'", "'2027-01-01'"])
atoms = st.one_of(number_literals, string_literals, st.sampled_from(["null", "true", "false"]),
                  st.sampled_from(NAMES), st.just("date('2027-01-01')"))


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["and", "or", "+", "-", "*", "/", "==", "!=", "<", "<=", ">",
                                                  ">=", "in", "not in"]), children)
    return st.one_of(
        binary.map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        children.map(lambda c: f"not ({c})"),
        children.map(lambda c: f"-({c})"),
        st.lists(children, min_size=0, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.tuples(st.sampled_from(["len", "abs", "lower", "date"]), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["min", "max", "contains", "startswith", "days_between", "round"]), children,
                  children).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]}) < ({t[1]}) <= ({t[2]})"),
    )


expressions = st.recursive(atoms, _compound, max_leaves=12)

scalar_values = st.one_of(
    st.none(), st.booleans(),
    st.decimals(min_value=-10000, max_value=10000, places=3, allow_nan=False),
    st.sampled_from(["EMEA", "AMER", "", "Net 30", "2027-01-01", "2026-12-31"]),
    st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31)),
)
values_strategy = st.fixed_dictionaries(
    {},
    optional={
        "discount_pct": scalar_values, "net_total": scalar_values, "region": scalar_values,
        "tags": st.one_of(st.none(), st.lists(scalar_values, max_size=3)), "start": scalar_values,
        "flag": scalar_values,
        "account": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
            "region": scalar_values, "tier": st.one_of(st.none(), st.fixed_dictionaries({"level": scalar_values}))})),
        "fields": st.one_of(st.none(), st.fixed_dictionaries({}, optional={"deal_type": scalar_values})),
    },
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=expressions, values=values_strategy)
def test_compiled_engine_agrees_with_reference_interpreter(source: str, values: dict[str, Any]) -> None:
    fn = compile_expression(parse(source))
    expected = reference_eval.evaluate(source, values)
    fast = fn(Env(values))
    traced = fn(Env(values, trace=[]))
    explained = fn(Env(values, trace=[], full=True))
    assert _same(fast, expected), (source, values, fast, expected)
    assert _same(traced, expected), (source, values, traced, expected)
    assert _same(explained, expected), (source, values, explained, expected)


@settings(max_examples=300, deadline=None)
@given(source=expressions)
def test_never_raises_on_missing_or_null_fields(source: str) -> None:
    fn = compile_expression(parse(source))
    fn(Env({}))
    fn(Env({name.split(".")[0]: None for name in NAMES}))
    fn(Env({"account": "not-a-mapping", "fields": [1, 2]}))


@settings(max_examples=200, deadline=None)
@given(source=expressions, values=values_strategy)
def test_trace_records_every_condition_once(source: str, values: dict[str, Any]) -> None:
    expr = parse(source)
    trace: list[TraceEntry] = []
    compile_expression(expr)(Env(values, trace=trace, full=True))
    assert sorted(e.number for e in trace) == sorted({e.number for e in trace})
    assert {e.number for e in trace} == {c.number for c in expr.conditions}  # explain shows every one


@pytest.mark.parametrize(("source", "values", "expected"), [
    ("discount_pct > 10", {"discount_pct": Decimal("10.5")}, True),
    ("discount_pct > 10", {}, False),
    ("discount_pct != 10", {}, False),  # any comparison with null is false
    ("not (discount_pct > 10)", {}, True),
    ("0.1 + 0.2 == 0.3", {}, True),  # exact decimals, never floats
    ("1 / 0", {}, None),
    ("net_total * 2", {"net_total": None}, None),
    ("region in ['EMEA', 'APAC']", {"region": "EMEA"}, True),
    ("region not in ['EMEA', 'APAC']", {"region": None}, False),
    ("account.region == 'EMEA'", {"account": {"region": "EMEA"}}, True),
    ("account.region == 'EMEA'", {"account": None}, False),
    ("start >= date('2027-01-01')", {"start": "2027-01-01"}, True),
    ("days_between(date('2027-01-01'), date('2027-03-01'))", {}, Decimal(59)),
    ("round(2.345, 2)", {}, Decimal("2.35")),
    ("round(-2.5)", {}, Decimal("-3")),
    ("contains(tags, 'x') and startswith(lower(region), 'em')", {"tags": ["x"], "region": "EMEA"}, True),
    ("max(1, 3, 2) == 3 and min([4, 2]) == 2 and len('abc') == 3 and abs(-2) == 2", {}, True),
    ("1 < discount_pct <= 5", {"discount_pct": Decimal(5)}, True),
    ("'a' < 1", {}, False),
    ("true == 1", {}, False),
])
def test_semantics_table(source: str, values: dict[str, Any], expected: Any) -> None:
    assert _same(compile_expression(parse(source))(Env(values)), expected)


FORBIDDEN = [
    ("__import__('os')", "unknown function '__import__'"),
    ("__import__('os').system('touch PWNED')", "only the built-in functions can be called"),
    ("x.__class__.__mro__", "not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "only the built-in functions can be called"),
    ("lambda: 1", "lambda is not allowed"),
    ("[c for c in lines]", "comprehension is not allowed"),
    ("{c: 1 for c in lines}", "comprehension is not allowed"),
    ("(c for c in lines)", "generator expression is not allowed"),
    ("lines[0]", "indexing"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("eval('1')", "unknown function 'eval'"),
    ("getattr(x, 'y')", "unknown function 'getattr'"),
    ("len.__call__('x')", "only the built-in functions can be called"),
    ("2 ** 1000000", "not allowed"),
    ("x if y else z", "if/else expression is not allowed"),
    ("(y := 1)", "assignment"),
    ("f'{x}'", "f-string"),
    ("_private", "name '_private' is not allowed"),
    ("'a' * 10 ** 9", "not allowed"),
    ("-" * 40 + "1", "nested more than"),
    ("not " * 40 + "x", "nested more than"),
    ("x + " * 700 + "1", "limit is 2000"),
    ("(" * 150 + "1" + ")" * 150, None),  # parentheses alone are harmless; either accepted or refused
    ("len(x, y)", "takes 1 argument"),
    ("min(*x)", "does not take *arguments"),
    ("round(x, ndigits=2)", "keyword"),
    ("a +", "syntax error"),
    ("", "empty"),
]


@pytest.mark.parametrize(("source", "message"), FORBIDDEN, ids=[f[0][:30] for f in FORBIDDEN])
def test_forbidden_constructs_are_refused_with_a_position(source: str, message: str | None) -> None:
    if message is None:
        try:
            parse(source)
        except ExprError as err:
            assert err.line >= 1 and err.column >= 1
        return
    with pytest.raises(ExprError) as info:
        parse(source)
    assert message in info.value.message
    assert info.value.line >= 1 and info.value.column >= 1


def test_no_forbidden_expression_can_run_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every refused source is refused before anything is compiled; a canary file proves nothing ran."""
    monkeypatch.chdir(tmp_path)
    for source, message in FORBIDDEN:
        if message is None:
            continue
        with pytest.raises(ExprError):
            compile_expression(parse(source))
    assert not os.path.exists(tmp_path / "PWNED")


def test_error_positions_count_characters_not_bytes() -> None:
    with pytest.raises(ExprError) as info:
        parse("region == 'Zürich' and foo(1)")
    assert info.value.column == len("region == 'Zürich' and ") + 1


def test_conditions_carry_their_tested_values() -> None:
    expr = parse("discount_pct > 20 or hw_max >= 30")
    assert [c.source for c in expr.conditions] == ["discount_pct > 20", "hw_max >= 30"]
    assert [c.tested_path for c in expr.conditions] == ["discount_pct", "hw_max"]


def test_overrides_replace_a_conditions_truth() -> None:
    fn = compile_expression(parse("discount_pct > 20 and region == 'EMEA'"))
    values = {"discount_pct": Decimal(25), "region": "EMEA"}
    assert fn(Env(values)) is True
    assert fn(Env(values, overrides={0: False})) is False
    trace: list[TraceEntry] = []
    fn(Env(values, trace=trace, overrides={1: False}))
    assert [(e.number, e.result, e.overridden) for e in trace] == [(0, True, False), (1, False, True)]
