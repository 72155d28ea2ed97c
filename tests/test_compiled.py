"""The fast paths of issue 13 against the plain ones they replace: generated routing code against
the closures, the one-pass quote reader against the step-by-step checks, the direct hash and JSON
writers against json.dumps, the compiled-policy cache, and cpq impact's shared evaluation."""

from __future__ import annotations

import contextlib
import copy
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpq_cli import quote as quote_module
from cpq_cli.content_hash import _tagged
from cpq_cli.errors import InputError
from cpq_cli.expressions import SOURCE_HELPERS, Env, SourceWriter, TraceEntry, compile_expression, parse, truthy
from cpq_cli.quote import _parse_checked, _parse_fast, canonical_json_v2, load_quote, parse_quote
from cpq_cli.routing import _conditions, compile_policy, quote_env_values, route
from tests.helpers import BASE_QUOTE, make_policy
from tests.test_expressions import _same, expressions, values_strategy

ROOT = Path(__file__).resolve().parent.parent


def _generated(source: str, *, boolean: bool = False, traced: bool = False) -> Any:
    """One expression as SourceWriter writes it, as a function of the values (and a trace)."""
    expr = parse(source)
    writer = SourceWriter()
    writer.begin("v", trace="T" if traced else None)
    body = (writer.boolean if boolean or traced else writer.value)(expr.tree.body, expr.source.strip())
    text = "\n".join(["def f(v, T=None):", *(f"    {s}" for s in writer.prologue()), f"    return {body}"])
    namespace: dict[str, Any] = {**SOURCE_HELPERS, "K": tuple(writer.constants)}
    exec(compile(text, "<test>", "exec"), namespace)
    return namespace["f"]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=expressions, values=values_strategy)
def test_generated_source_computes_what_the_closures_compute(source: str, values: dict[str, Any]) -> None:
    fn = compile_expression(parse(source))
    expected = fn(Env(values))
    assert _same(_generated(source)(values), expected), source
    assert _generated(source, boolean=True)(values) is truthy(expected), source


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=expressions, values=values_strategy)
def test_generated_trace_is_the_closures_trace(source: str, values: dict[str, Any]) -> None:
    """The conditions a fired rule shows: evaluated in the same order, short-circuiting alike."""
    trace: list[TraceEntry] = []
    expected = truthy(compile_expression(parse(source))(Env(values, trace=trace)))
    recorded: list[TraceEntry] = []
    assert _generated(source, traced=True)(values, recorded) is expected, source
    assert len(recorded) == len(trace), source
    for got, want in zip(recorded, trace, strict=True):
        assert got.number == want.number and got.result == want.result, source
        assert _same(got.tested, want.tested) and _same(got.against, want.against), source


def test_equal_decimals_written_apart_stay_apart_in_generated_code() -> None:
    # 1.0 and 1 are equal, but 1.0 + x is not 1 + x: one constant slot for both would be wrong.
    f = _generated("x + 1.0 == x + 1 and str_x == 'a'")
    assert f({"x": Decimal("2"), "str_x": "a"}) is True
    assert _generated("x + 1.0")({"x": Decimal(2)}).as_tuple().exponent == -1
    assert _generated("x + 1")({"x": Decimal(2)}).as_tuple().exponent == 0


def test_generated_code_never_holds_the_authors_text() -> None:
    # Names, strings and numbers are constants K[i]; nothing written in a policy becomes code.
    expr = parse("fields.x == '); import os; os.system(\"x\") #' and abc_def > 1e3")
    writer = SourceWriter()
    body = writer.boolean(expr.tree.body, expr.source.strip())
    code = "\n".join([*writer.prologue(), body])
    assert "import" not in code and "abc_def" not in code and "1e3" not in code


# ------------------------------------------------------------------------------- routing


def _random_policy(tmp_path: Path, rng: random.Random, rules: int = 25, tweak: bool = False) -> Any:
    families = ["Hardware", "Software", "Services"]
    variables = {}
    for family in families:
        key = family.lower()
        variables[f"{key}_max"] = {"function": "max", "field": "discount_pct", "where": f"family == '{family}'"}
        variables[f"{key}_sum"] = {"function": "sum", "field": "net_total", "where": f"family == '{family}'"}
        variables[f"{key}_min"] = {"function": "min", "field": "margin_pct", "where": f"family == '{family}'"}
        variables[f"{key}_avg"] = {"function": "avg", "field": "quantity", "where": f"family == '{family}'"}
        variables[f"{key}_n"] = {"function": "count", "where": f"family == '{family}' and kind != 'one_time'"}
    variables["costed"] = {"function": "count", "field": "cost"}
    if tweak:  # another revision's definition of one variable
        variables["hardware_sum"]["where"] = "family == 'Hardware' and kind == 'asset'"
    templates = ["discount_pct > {p}", "net_total >= {m} and payment_terms != 'Net 30'",
                 "{v}_max >= {p} or {v}_min < {q}", "{v}_sum > {m} and account.region == 'EMEA'",
                 "term_months > 24 and fields.deal_type in ['new', 'partner'] and discount_pct > {q}",
                 "10 < discount_pct <= {p} or contains(lower(payment_terms), 'net 4')",
                 "not ({v}_n > 1) and costed >= 1 and {v}_avg != null",
                 "margin_pct < {q} or startswith(account.region, 'AM')"]
    spec = []
    for i in range(rules):
        when = rng.choice(templates).format(p=rng.randint(5, 40), m=rng.randint(100, 3000),
                                            v=rng.choice(families).lower(), q=rng.randint(5, 50))
        extra: dict[str, Any] = {}
        if i % 7 == 3:
            extra["effective"] = {"from": "2026-06-01"}
        if i % 5 == 1:
            extra["explicit"] = True
        spec.append({"id": f"r{i}", "when": when, "approvers": rng.sample(["ann", "bob", "owner.manager", "desk",
                                                                          "auto"], 2),
                     "chain": rng.choice(["c1", "c2", "c3"]), "step": rng.randint(1, 3), **extra})
    return make_policy(tmp_path, rules=spec, variables=variables,
                       chains={"c1": {"order": 1}, "c2": {"order": 1}, "c3": {"order": 2}},
                       groups={"desk": {"members": ["ann", "bob"], "require": "any"}})


def _random_quote(rng: random.Random, lines: int) -> dict[str, Any]:
    data = copy.deepcopy(BASE_QUOTE)
    data["date"] = rng.choice(["2026-05-01", "2026-06-15"])
    data["payment_terms"] = rng.choice(["Net 30", "Net 45", "net 45"])
    data["account"]["region"] = rng.choice(["EMEA", "AMER"])
    data["term_months"] = rng.choice([12, 36])
    data["fields"] = {"deal_type": rng.choice(["new", "renewal", "partner"])}
    data["lines"] = []
    for i in range(lines):
        line = {"id": f"L{i}", "product": f"P{i}", "family": rng.choice(["Hardware", "Software", "Services"]),
                "kind": rng.choice(["asset", "subscription", "one_time"]), "quantity": rng.randint(1, 5),
                "list_price": f"{rng.randint(10, 900)}.{rng.randint(0, 99):02d}",
                "discount_pct": rng.choice([0, 5, 12.5, 20, 35])}
        if rng.random() < 0.7:
            line["cost"] = f"{rng.randint(5, 400)}.00"
        if rng.random() < 0.1:
            del line["family"]  # no text in the field: the filters' general form
        data["lines"].append(line)
    return json.loads(json.dumps(data), parse_float=Decimal)


def _reference_route(compiled: Any, quote: Any) -> list[tuple[str, bool, bool, tuple[Any, ...]]]:
    """Each rule's outcome with the closures, as routing computed it before the generated code."""
    values = quote_env_values(compiled, quote)
    out = []
    for cr in compiled.rules:
        effective = cr.rule.effective_on(quote.date)
        hit = effective and truthy(cr.fn(Env(values)))
        trace: list[TraceEntry] = []
        if hit:
            cr.fn(Env(values, trace=trace))
        out.append((cr.rule.id, hit, effective, _conditions(cr, trace)))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_routing_with_generated_code_matches_the_closures(tmp_path: Path, seed: int) -> None:
    from cpq_cli.report.envelope import envelope_text
    from cpq_cli.report.path import path_json
    from cpq_cli.routing import compute_variables

    rng = random.Random(seed)
    compiled = compile_policy(_random_policy(tmp_path, rng))
    for _ in range(5):
        quote = parse_quote(_random_quote(rng, rng.randint(1, 12)))
        path = route(compiled, quote)
        got = [(r.id, r.fired, r.effective, r.conditions) for r in path.rules]
        assert got == _reference_route(compiled, quote)
        # the variables: the one generated pass against the closures' filters and _aggregate
        from cpq_cli.routing import _aggregate

        lines = [ln.values for ln in quote.lines]
        filters = compiled.filters
        for cv in compiled.variables:
            matched = lines if cv.where_key is None else [
                ln for ln in lines if truthy(filters[cv.where_key](Env(ln)))]
            assert _same(compute_variables(compiled, quote)[cv.variable.id], _aggregate(cv.variable, matched))
        envelope = envelope_text(compiled, quote, "q.json")  # routed and written in one pass
        assert envelope.text == json.dumps(path_json(path, quote, "q.json"), ensure_ascii=False)
        assert (envelope.status, envelope.warnings) == (path.status, path.warnings)
        assert route(compiled, quote, reasons=False).fired == path.fired
        assert route(compiled, quote, explain=True).fired == path.fired


def test_the_envelope_text_of_every_example_is_json_dumps(tmp_path: Path) -> None:
    from cpq_cli.report.envelope import envelope_text
    from cpq_cli.report.path import path_json
    from cpq_cli.services.policy import load_policy

    compiled = compile_policy(load_policy(ROOT / "policies", use_cache=False))
    for file in sorted((ROOT / "examples" / "quotes").glob("*.json")):
        quote = load_quote(file)
        path = route(compiled, quote)
        for digits in (0, 2, 3):
            assert envelope_text(compiled, quote, "f\u00e9.json", digits).text == json.dumps(
                path_json(path, quote, "f\u00e9.json", digits), ensure_ascii=False)


# --------------------------------------------------------------------------------- quotes

json_leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**40, 10**40), st.text(max_size=8),
                        st.decimals(allow_nan=False, allow_infinity=False, places=None), st.floats(allow_nan=False))
json_values = st.recursive(json_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=6), inner, max_size=4)), max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(value=json_values)
def test_the_direct_canonical_form_is_the_tagged_tree_dumped(value: Any) -> None:
    expected = json.dumps(_tagged(value), separators=(",", ":"), ensure_ascii=False)
    assert canonical_json_v2(value) == expected
    assert canonical_json_v2(value) == expected  # again, from the memoised pieces


@settings(max_examples=500, deadline=None)
@given(value=st.dictionaries(st.text(max_size=6), json_values, min_size=1, max_size=8))
def test_an_object_writer_made_for_a_shape_writes_the_tagged_tree_dumped(value: dict[str, Any]) -> None:
    from cpq_cli.content_hash import _Nested, _object_writer, _Unusual

    expected = json.dumps(_tagged(value), separators=(",", ":"), ensure_ascii=False)
    # an object or a list inside: the loop; a tuple, a float: the plain path
    with contextlib.suppress(_Nested, _Unusual, TypeError):
        assert _object_writer(tuple(value))(value) == expected
    assert canonical_json_v2(value) == expected


def test_objects_nested_as_deep_as_before_still_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer made for a shape takes no stack frames of its own for nested values: a quote
    nested 600 deep hashes as it did before the writers, however often its shapes recur."""
    from cpq_cli import content_hash as ch

    monkeypatch.setattr(ch, "_MANY", True)
    deep: Any = 1
    expected = '["num","1E+0"]'
    for _ in range(600):
        deep = {"a": deep}
        expected = f'["obj",[["a",{expected}]]]'  # _tagged itself would need two frames a level
    for _ in range(6):  # the shape {"a": ...} is met 600 times a round: it has its writer after the first
        assert canonical_json_v2(deep) == expected


def test_common_object_shapes_get_their_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    from cpq_cli import content_hash as ch

    monkeypatch.setattr(ch, "_MANY", True)  # as in a batch (expect_many)

    lines = [{"id": f"L{i}", "q": i, "p": Decimal(i) / 4, "none": None, "flag": i % 2 == 0, "tag": "a"}
             for i in range(12)]
    expected = [json.dumps(_tagged(line), separators=(",", ":"), ensure_ascii=False) for line in lines]
    ch._OBJECT_WRITERS.pop(tuple(lines[0]), None)
    assert [canonical_json_v2(line) for line in lines] == expected
    assert tuple(lines[0]) in ch._OBJECT_WRITERS
    writer = ch._OBJECT_WRITERS[tuple(lines[0])]
    assert not [c for c in writer.__code__.co_consts if isinstance(c, str) and "id" in c]  # keys are parameters
    for line in lines[6:]:  # the same shape holding a list: written by the loop from then on, alike
        line["tag"] = ["a", [line["q"]]]
    expected = [json.dumps(_tagged(line), separators=(",", ":"), ensure_ascii=False) for line in lines]
    assert [canonical_json_v2(line) for line in lines] == expected
    assert tuple(lines[0]) not in ch._OBJECT_WRITERS


def test_objects_share_their_shape_s_sorted_keys_but_never_their_values() -> None:
    """Keys in another order are the same object; the same keys with other values are not, and a
    non-text key (never from JSON) still takes the plain path."""
    lines = [{"id": "L1", "quantity": 2, "z": None}, {"quantity": 2, "z": None, "id": "L1"},
             {"id": "L1", "quantity": 3, "z": None}, {"id": "L1", "quantity": True, "z": None}]
    forms = [canonical_json_v2(line) for line in lines]
    assert forms == [json.dumps(_tagged(line), separators=(",", ":"), ensure_ascii=False) for line in lines]
    assert forms[0] == forms[1] and len(set(forms)) == 3
    assert canonical_json_v2({1: "a", "b": 2}) == json.dumps(_tagged({1: "a", "b": 2}), separators=(",", ":"))


def test_long_integral_numbers_are_shown_with_every_digit() -> None:
    from cpq_cli.routing import json_value

    assert json_value(Decimal("123456789012345678901234567891")) == "123456789012345678901234567891"
    assert json_value(Decimal("1.2300E+29")) == "123000000000000000000000000000"
    assert json_value(Decimal("12.50")) == "12.50" and json_value(Decimal("12.00")) == "12"


def test_true_and_one_hash_apart_even_memoised() -> None:
    assert canonical_json_v2([1, True, Decimal("1.0"), 1.0]) == json.dumps(
        _tagged([1, True, Decimal("1.0"), 1.0]), separators=(",", ":"))
    assert canonical_json_v2({"a": True}) != canonical_json_v2({"a": 1})


odd_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.sampled_from(
    ["", "x", "L1", "asset", "2026-13-01", "2026-06-15", "12.5", "1e3", "abc def", "-1.00", "\u00e9"]),
    st.decimals(min_value=-5, max_value=10**13, allow_nan=False, places=7), st.just([1]), st.just({"a": 1}),
    st.floats(0, 100))
QUOTE_KEYS = ["id", "account", "owner", "currency", "date", "start_date", "term_months", "payment_terms", "fields",
              "lines", "name", "extra"]
LINE_KEYS = ["id", "product", "kind", "quantity", "list_price", "discount_pct", "cost", "start_date", "ship_date",
             "name", "family", "site", "group", "term_months", "custom"]


@settings(max_examples=500, deadline=None)
@given(header=st.dictionaries(st.sampled_from(QUOTE_KEYS), odd_values, max_size=3),
       drop=st.lists(st.sampled_from(QUOTE_KEYS + LINE_KEYS), max_size=1),
       line=st.dictionaries(st.sampled_from(LINE_KEYS), odd_values, max_size=3), which=st.integers(0, 1))
def test_the_one_pass_parser_accepts_exactly_what_the_checks_accept(header: dict[str, Any], drop: list[str],
                                                                       line: dict[str, Any], which: int) -> None:
    data = json.loads(json.dumps(BASE_QUOTE))
    data.update(header)
    if isinstance(data.get("lines"), list) and data["lines"] and all(isinstance(x, dict) for x in data["lines"]):
        data["lines"][which % len(data["lines"])].update(line)
        for key in drop:
            data["lines"][0].pop(key, None)
    for key in drop:
        data.pop(key, None)
    try:
        expected = _parse_checked(data, "q", None)
    except (InputError, ArithmeticError, TypeError) as exc:
        expected = exc
    fast = _parse_fast(data, "q", 0)
    if isinstance(expected, Exception):
        assert fast is None
    elif fast is not None:
        assert fast == expected
        assert [list(ln.values.items()) for ln in fast.lines] == [list(ln.values.items()) for ln in expected.lines]
        assert list(fast.values.items()) == list(expected.values.items())


def _read_outcome(read: Any, raw: dict[str, Any], seen: set[str], checks: int) -> Any:
    try:
        line = read(raw, set(seen), checks)
    except (ArithmeticError, quote_module._Unsure):  # both end the one pass: the checks then judge the quote
        return "refused"
    return line, list(line.values.items())


@settings(max_examples=1500, deadline=None)
@given(extra=st.dictionaries(st.sampled_from([*LINE_KEYS, "net_price", "margin_pct", "cost_total", "n%s\u00e9'"]),
                             odd_values, max_size=6),
       base=st.sampled_from(BASE_QUOTE["lines"]), drop=st.sets(st.sampled_from(LINE_KEYS), max_size=2),
       checks=st.sampled_from([0, quote_module.CHECK_NUMBERS]), seen=st.sampled_from([set(), {"L1"}]),
       rng=st.randoms(use_true_random=False))
def test_a_line_reader_written_for_a_shape_reads_as_fast_line_does(
        extra: dict[str, Any], base: dict[str, Any], drop: set[str], checks: int, seen: set[str],
        rng: random.Random) -> None:
    raw = {**base, **extra}
    for key in drop:
        raw.pop(key, None)
    items = list(raw.items())
    rng.shuffle(items)
    raw = dict(items)
    expected = _read_outcome(quote_module._fast_line, raw, seen, checks)
    if not raw.keys() >= set(quote_module.LINE_REQUIRED):
        assert expected == "refused"
        return
    reader = quote_module._write_line_reader(tuple(raw))
    assert _read_outcome(reader, raw, seen, checks) == expected
    # ...and the line's piece of the content hash, as it reads: the plain form's text, or none
    # (a value JSON does not give, such as a float), when the quote is hashed the plain way
    pieces: list[str] = []
    if expected != "refused":
        reader(raw, set(seen), checks, pieces)
        if _has_float(raw):  # refused by a field's reader, or no piece for a custom field
            assert pieces in ([], [canonical_json_v2(raw)])
        else:
            assert pieces == [canonical_json_v2(raw)]


def test_a_batch_quote_is_hashed_from_its_lines_read_pieces_as_ever(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from cpq_cli.content_hash import content_hash, content_hash_with_lines
    from cpq_cli.quote import content_hash_read

    monkeypatch.setattr(quote_module, "_MANY", True)  # as in a batch (expect_many)
    rng = random.Random(9)
    pieced = 0
    for i in range(40):
        data = _random_quote(rng, rng.randint(1, 12))
        data["lines"].append({**data["lines"][0], "id": "X", "custom": {"a": [1, None, True, "é"]}})
        text = json.dumps(data, default=float, indent=i % 3 or None, ensure_ascii=False)  # no \u: the batch path
        (tmp_path / f"q{i}.json").write_text(text)
        pieces: list[str] = []
        quote = load_quote(tmp_path / f"q{i}.json", pieces)
        assert content_hash_read(quote, pieces) == content_hash(quote.data) == quote.content_hash
        pieced += len(pieces) == len(quote.lines)
    assert pieced > 10  # most quotes once their line shapes have readers
    with pytest.raises(ValueError):
        content_hash_with_lines(quote.data, pieces[:-1])


def _has_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_float(v) for v in value)
    return type(value) is float


def test_common_line_shapes_get_their_reader_and_odd_lines_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quote_module, "_MANY", True)  # as in a batch (expect_many)
    data = json.loads(json.dumps(BASE_QUOTE))
    data["lines"] = [{**data["lines"][0], "id": f"L{i}"} for i in range(10)]
    shape = tuple(data["lines"][0])
    quote_module._LINE_READERS.pop(shape, None)
    quote_module._SHAPES_MET.pop(shape, None)
    fast = _parse_fast(data, "q", quote_module.CHECK_NUMBERS)
    assert fast is not None and fast == _parse_checked(data, "q", None)
    assert shape in quote_module._LINE_READERS
    data["lines"] = [["id", "product", "kind", "quantity", "list_price"], "id"]  # never a reader's: not objects
    assert _parse_fast(data, "q", quote_module.CHECK_NUMBERS) is None
    data["lines"] = [{"x" * 201: 1, **BASE_QUOTE["lines"][0]}] * 5  # a key over the limit: refused, never written
    assert _parse_fast(data, "q", quote_module.CHECK_NUMBERS) is None
    assert tuple(data["lines"][0]) not in quote_module._LINE_READERS


def test_one_quote_writes_no_code_and_a_batch_does(tmp_path: Path) -> None:
    """compile() costs ~0.1 ms a shape: a one-quote command does not pay it, a batch does."""
    import subprocess
    import sys

    data = json.loads(json.dumps(BASE_QUOTE))
    data["lines"] = [{**data["lines"][0], "id": f"L{i}"} for i in range(50)]
    (tmp_path / "q.json").write_text(json.dumps(data))
    code = ("import sys; from pathlib import Path; from cpq_cli import quote, content_hash; "
            "q = quote.load_quote(Path(sys.argv[1])); q.content_hash; "
            "print(len(quote._LINE_READERS), len(content_hash._OBJECT_WRITERS)); quote.expect_many(); "
            "q = quote.load_quote(Path(sys.argv[1])); q.content_hash; "
            "print(len(quote._LINE_READERS), len(content_hash._OBJECT_WRITERS))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "q.json")], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["0", "0", "1", "1"]


def test_a_line_s_keys_never_become_code() -> None:
    key = "x\"); import os; os.system('echo pwned') #"
    raw = {**BASE_QUOTE["lines"][0], key: "v", "net_price": 7}
    reader = quote_module._write_line_reader(tuple(raw))
    line = reader(raw, set(), quote_module.CHECK_NUMBERS)
    assert line == quote_module._fast_line(raw, set(), quote_module.CHECK_NUMBERS) and line.values[key] == "v"
    code = reader.__code__
    texts = [c for c in code.co_consts if isinstance(c, str)] + list(code.co_names) + list(code.co_varnames)
    assert not any("os" in t.split("_") or "system" in t or "pwned" in t for t in texts), texts


def _old_load_quote(path: Path) -> Any:
    """load_quote as it was before the one pass (strict JSON, the limit walk, the checks)."""
    from cpq_cli.limits import limit_problem, strict_json
    from cpq_cli.quote import QuoteInvalid
    from cpq_cli.sources import ParseFailure, load_document

    try:
        data = strict_json(path.read_bytes().decode("utf-8"))
        if limit_problem(data) is not None:
            data = None
    except (OSError, ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        try:
            return _parse_checked(data, str(path), None)
        except QuoteInvalid:
            pass
    try:
        doc = load_document(path, "json")
    except ParseFailure as failure:
        return f"{failure.diagnostic.message}"
    try:
        return _parse_checked(doc.data, doc.path, doc)
    except InputError as exc:
        return str(exc)


@pytest.mark.parametrize("text", [
    '"name": "Caf\\u00e9"', '"name": "\\ud800"', '"name": "a\\u0000b"', '"name": "' + "x" * 20_001 + '"',
    '"term_months": 1' + "0" * 31, '"term_months": ' + "9" * 30, '"term_months": 12.0', '"term_months": 1e1',
    '"name": 1.5', '"name": NaN', '"name": 1' + "0" * 5000, '"name": "x", "name": "y"',
    '"fields": {"' + "k" * 201 + '": 1}', '"fields": {"a": 1e31}', '"fields": {"a": 1e-31}',
    '"fields": {"a": 0.0000000000000000000000000000001}', '"fields": {"a": [[[[[1]]]]]}',
])
def test_load_quote_reads_every_file_as_before(tmp_path: Path, text: str) -> None:
    base = json.dumps({k: v for k, v in BASE_QUOTE.items() if k != "term_months"})
    file = tmp_path / "q.json"
    file.write_text(base[:-1] + ", " + text + "}")
    expected = _old_load_quote(file)
    try:
        got: Any = load_quote(file)
    except InputError as exc:
        assert isinstance(expected, str) and expected in str(exc)
        return
    assert not isinstance(expected, str), expected
    assert got._replace(source="") == expected._replace(source="")


# --------------------------------------------------------------------------------- caches


def _cached_random_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> tuple[Any, ...]:
    """(a random policy, a quote, its route), with the policy caches in tmp_path."""
    monkeypatch.setenv("CPQ_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CPQ_NO_CACHE", raising=False)
    rng = random.Random(seed)
    policy = _random_policy(tmp_path, rng)
    quote = parse_quote(_random_quote(rng, 8))
    return policy, quote, route(compile_policy(policy), quote)


def test_the_compiled_policy_cache_hits_misses_and_survives_damage(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from cpq_cli.services import policy as service

    one, quote, fresh = _cached_random_policy(tmp_path, monkeypatch, 3)
    first = service.compiled_policy(one)  # a miss: compiles and writes
    files = list((tmp_path / "cache").glob("compiled-*"))
    assert len(files) == 1
    second = service.compiled_policy(one)  # a hit
    assert route(first, quote) == route(second, quote) == fresh
    assert route(second, quote, explain=True) == route(compile_policy(one), quote, explain=True)
    # another policy never takes this one's file, even when it would be named alike
    other = _random_policy(tmp_path, random.Random(4))
    monkeypatch.setattr(service.zlib, "crc32", lambda data: 7)
    assert route(service.compiled_policy(other), quote) == route(compile_policy(other), quote)
    assert route(service.compiled_policy(one), quote) == fresh  # overwrote the shared name: recompiled
    # a damaged file is a miss, and is replaced
    for file in (tmp_path / "cache").glob("compiled-*"):
        file.write_bytes(file.read_bytes()[:-40] + b"\x00" * 40)
    assert route(service.compiled_policy(one), quote) == fresh
    # another compiler (an edited routing.py) never reuses the file
    monkeypatch.setattr(service, "_compiler_stamp", lambda: "another compiler")
    calls = []
    from cpq_cli import routing

    original = routing.CompiledPolicy.__init__

    def spy(self: Any, policy: Any, frozen: bytes | None = None) -> None:
        calls.append(frozen is None)
        original(self, policy, frozen)

    monkeypatch.setattr(routing.CompiledPolicy, "__init__", spy)
    service.compiled_policy(one)
    assert calls == [True]  # compiled afresh


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_impact_shared_evaluation_equals_routing_each_revision(tmp_path: Path, seed: int) -> None:
    from cpq_cli.impact import Shared, summarise

    rng = random.Random(seed)
    base = compile_policy(_random_policy(tmp_path, rng, rules=15))
    head = compile_policy(_random_policy(tmp_path, random.Random(seed if rng.random() < 0.5 else seed + 1),
                                         rules=15, tweak=rng.random() < 0.5))
    shared = Shared(base, head)
    for _ in range(6):
        quote = parse_quote(_random_quote(rng, rng.randint(1, 8)))
        assert shared.summarise(quote) == (summarise(base, quote), summarise(head, quote))


def test_a_compiled_policy_file_with_damaged_rule_code_is_a_miss(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules' recording bytecode is read with the rest of the file, where damage is a miss,
    not when a rule first fires in the middle of a batch."""
    import pickle

    from cpq_cli.services import policy as service

    policy, quote, expected = _cached_random_policy(tmp_path, monkeypatch, 5)
    service.compiled_policy(policy)  # writes the file
    [file] = (tmp_path / "cache").glob("compiled-*")
    key, frozen = pickle.loads(file.read_bytes())
    conditions, program, code, traced = pickle.loads(frozen)
    damaged = pickle.dumps((conditions, program, code, tuple(b"\xe3garbage" for _ in traced)))
    file.write_bytes(pickle.dumps((key, damaged)))
    assert route(service.compiled_policy(policy), quote) == expected
    assert pickle.loads(file.read_bytes())[1] != damaged  # replaced
