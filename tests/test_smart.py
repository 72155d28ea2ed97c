"""Smart approvals: the truth tables of reference/approvals.md section 2.4, table-driven."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cpq_cli.approvals.smart import decode, encode, reevaluate
from cpq_cli.expressions import compile_expression, parse
from cpq_cli.policy.load import _smart
from cpq_cli.policy.model import Rule

D = Decimal


def _outcome(when: str, smart: Any, snapshot: dict[str, Any], current: dict[str, Any]) -> bool:
    expr = parse(when)
    fn = compile_expression(expr)
    rule = Rule("r", when, ("x",), smart=_smart(smart))
    from cpq_cli.approvals.smart import tested_values

    taken = tested_values(fn, snapshot)
    return reevaluate(rule, expr, fn, current, taken).reapprove


# (name, when, smart, values at the approval, values now, ask again?)
TABLE = [
    # unchanged -> false, whatever the operator
    ("unchanged >", "discount_pct > 10", True, {"discount_pct": D(15)}, {"discount_pct": D(15)}, False),
    ("unchanged >=", "discount_pct >= 10", True, {"discount_pct": D(15)}, {"discount_pct": D(15)}, False),
    ("unchanged ==", "payment_terms == 'Net 90'", True, {"payment_terms": "Net 90"}, {"payment_terms": "Net 90"},
     False),
    ("unchanged !=", "payment_terms != 'Net 30'", True, {"payment_terms": "Net 45"}, {"payment_terms": "Net 45"},
     False),
    # ordering operators: true only if the value moved further in the triggering direction
    ("> rose", "discount_pct > 10", True, {"discount_pct": D(15)}, {"discount_pct": D(18)}, True),
    ("> fell", "discount_pct > 10", True, {"discount_pct": D(15)}, {"discount_pct": D(12)}, False),
    ("< fell", "net_total < 100", True, {"net_total": D(50)}, {"net_total": D(40)}, True),
    ("< rose", "net_total < 100", True, {"net_total": D(50)}, {"net_total": D(60)}, False),
    ("<= rose", "margin_pct <= 25", True, {"margin_pct": D(20)}, {"margin_pct": D(22)}, False),
    # equality-like operators: true iff changed
    ("!= changed", "payment_terms != 'Net 30'", True, {"payment_terms": "Net 45"}, {"payment_terms": "Net 60"}, True),
    ("== changed", "region == 'EMEA'", True, {"region": "EMEA"}, {"region": "APAC"}, True),
    ("in changed", "region in ['EMEA', 'APAC']", True, {"region": "EMEA"}, {"region": "APAC"}, True),
    ("in unchanged", "region in ['EMEA', 'APAC']", True, {"region": "EMEA"}, {"region": "EMEA"}, False),
    ("contains changed", "contains(tags, 'x')", True, {"tags": ["x"]}, {"tags": ["x", "y"]}, True),
    # all (and): every smart condition must come out true
    ("all: one rose", "discount_pct > 10 and term_months > 12", True,
     {"discount_pct": D(15), "term_months": D(24)}, {"discount_pct": D(18), "term_months": D(24)}, False),
    ("all: both rose", "discount_pct > 10 and term_months > 12", True,
     {"discount_pct": D(15), "term_months": D(24)}, {"discount_pct": D(18), "term_months": D(36)}, True),
    # any (or): one true smart condition is enough
    ("any: one rose", "discount_pct > 10 or term_months > 12", True,
     {"discount_pct": D(15), "term_months": D(24)}, {"discount_pct": D(18), "term_months": D(24)}, True),
    ("any: none rose", "discount_pct > 10 or term_months > 12", True,
     {"discount_pct": D(15), "term_months": D(24)}, {"discount_pct": D(12), "term_months": D(24)}, False),
    # custom logic
    ("custom: (a or b) and c, a rose, c unchanged", "(discount_pct > 10 or net_total > 1000) and region == 'EMEA'",
     True, {"discount_pct": D(15), "net_total": D(500), "region": "EMEA"},
     {"discount_pct": D(20), "net_total": D(500), "region": "EMEA"}, False),
    ("custom: (a or b) and c, a rose, c changed", "(discount_pct > 10 or net_total > 1000) and region != 'APAC'",
     True, {"discount_pct": D(15), "net_total": D(500), "region": "EMEA"},
     {"discount_pct": D(20), "net_total": D(500), "region": "AMER"}, True),
    # smart only on listed fields: the others keep their normal truth
    ("fields: non-smart true", "discount_pct > 10 or payment_terms != 'Net 30'", ["discount_pct"],
     {"discount_pct": D(15), "payment_terms": "Net 45"}, {"discount_pct": D(15), "payment_terms": "Net 45"}, True),
    ("fields: non-smart false", "discount_pct > 10 or payment_terms != 'Net 30'", ["discount_pct"],
     {"discount_pct": D(15), "payment_terms": "Net 30"}, {"discount_pct": D(14), "payment_terms": "Net 30"}, False),
    ("not smart at all", "discount_pct > 10", False, {"discount_pct": D(15)}, {"discount_pct": D(15)}, True),
    # individually: any changed smart condition asks again, whatever the logic
    ("individually: one changed", "discount_pct > 10 and term_months > 12", {"individually": True},
     {"discount_pct": D(15), "term_months": D(24)}, {"discount_pct": D(12), "term_months": D(24)}, True),
    ("individually: unchanged", "discount_pct > 10 and term_months > 12", {"individually": True},
     {"discount_pct": D(15), "term_months": D(24)}, {"discount_pct": D(15), "term_months": D(24)}, False),
    ("individually, fields: a non-smart change does not count", "discount_pct > 10 and term_months > 12",
     {"individually": True, "fields": ["term_months"]},
     {"discount_pct": D(15), "term_months": D(24)}, {"discount_pct": D(12), "term_months": D(24)}, False),
    ("individually, fields: the listed field changed", "discount_pct > 10 and term_months > 12",
     {"individually": True, "fields": ["term_months"]},
     {"discount_pct": D(15), "term_months": D(24)}, {"discount_pct": D(15), "term_months": D(18)}, True),
]


@pytest.mark.parametrize(("name", "when", "smart", "before", "now", "ask"), TABLE, ids=[t[0] for t in TABLE])
def test_smart_truth_table(name: str, when: str, smart: Any, before: dict, now: dict, ask: bool) -> None:
    assert _outcome(when, smart, before, now) is ask


def test_snapshots_round_trip_exactly() -> None:
    import datetime as dt
    import json

    values = [D("12.50"), dt.date(2027, 1, 1), ["a", D(1)], None, True, "Net 30"]
    assert [decode(json.loads(json.dumps(encode(v)))) for v in values] == values
