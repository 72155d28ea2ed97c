"""report.envelope: a quote routed and its JSON envelope written in one pass, held to
json.dumps(path_json(route(...))) on the cases the random policies of test_compiled rarely meet."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cpq_cli.errors import RoutingError
from cpq_cli.quote import parse_quote
from cpq_cli.report.envelope import envelope_text
from cpq_cli.report.path import path_json
from cpq_cli.routing import compile_policy, route
from tests.helpers import BASE_QUOTE, make_policy

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (policy sections, changes to the quote)
    "a rule with no condition": ({"rules": [{"id": "always", "when": "true", "approvers": ["ann"]}]}, {}),
    "a rule that fires on a false condition's `not`": (
        {"rules": [{"id": "n", "when": "not (discount_pct > 50)", "approvers": ["ann"]}]}, {}),
    "a field reference, a group needing two, a percentage": (
        {"groups": {"two": {"members": ["ann", "bob", "cat"], "require": {"min": 2}},
                    "most": {"members": ["ann", "bob", "cat"], "require": {"percent": 60}}},
         "rules": [{"id": "f", "when": "discount_pct > 1", "approvers": ["field:fields.approver", "two"]},
                   {"id": "g", "when": "net_total > 1 and fields.deal_type == 'new'", "approvers": ["most", "two"],
                    "step": 2}]},
        {"fields": {"deal_type": "new", "approver": "cat"}}),
    "only auto approvals": ({"rules": [{"id": "a", "when": "discount_pct > 1", "approvers": ["auto"]}]}, {}),
    "nothing fires": ({"rules": [{"id": "a", "when": "discount_pct > 99", "approvers": ["ann"]}]}, {}),
    "a missing value warned of": (
        {"rules": [{"id": "w", "when": "fields.region_code == 'X' or discount_pct > 1", "approvers": ["ann"]}]}, {}),
    "a rule outside its window": (
        {"rules": [{"id": "late", "when": "discount_pct > 1", "approvers": ["ann"],
                    "effective": {"from": "2030-01-01"}},
                   {"id": "now", "when": "discount_pct > 1", "approvers": ["bob"]}]}, {}),
    "chains of one order side by side, explicit and merged": (
        {"chains": {"a": {"order": 1}, "b": {"order": 1}, "z": {"order": 3}},
         "rules": [{"id": "r1", "when": "discount_pct > 1", "approvers": ["owner.manager", "ann"], "chain": "b"},
                   {"id": "r2", "when": "discount_pct > 2", "approvers": ["mgr", "ann"], "chain": "b"},
                   {"id": "r3", "when": "discount_pct > 3", "approvers": ["ann"], "chain": "b", "explicit": True},
                   {"id": "r4", "when": "net_total >= 1", "approvers": ["owner.manager.manager"], "chain": "a",
                    "step": 3},
                   {"id": "r5", "when": "1 < 2 < discount_pct", "approvers": ["ceo"], "chain": "z"}]}, {}),
    "a literal list holding what a condition's label holds": (
        {"rules": [{"id": "lit", "approvers": ["ann"],
                    "when": "discount_pct > 1 and not (fields.t == [0, 'discount_pct > 1', '>', 'discount_pct'])"}]},
        {}),
    "numbers of 30 digits in conditions that are false (shown only when true: no rounding)": (
        {"rules": [{"id": "big", "approvers": ["ann"],
                    "when": "discount_pct > 1 and net_total < 123456789012345678901234567.123"},
                   {"id": "field", "approvers": ["bob"], "when": "fields.big < 0 or discount_pct > 1"}]},
        {"fields": {"deal_type": "new", "big": 123456789012345678901234567.123}}),
    "text that JSON escapes": (
        {"rules": [{"id": "esc", "description": "Tab\there, \"quoted\", é, \u2028", "approvers": ["ann"],
                    "when": "payment_terms != 'Net \"30\"\\n' and discount_pct > 1"}]}, {"payment_terms": "Net é"}),
}


def _policy(tmp_path: Path, sections: dict[str, Any]) -> Any:
    """Rules in chain `main` at step 1 unless they say otherwise."""
    sections = copy.deepcopy(sections)
    chains = sections.setdefault("chains", {})
    chains.setdefault("main", {"order": 1})
    for rule in sections["rules"]:
        rule.setdefault("chain", "main")
        rule.setdefault("step", 1)
    return make_policy(tmp_path, **sections)


@pytest.mark.parametrize("name", CASES)
def test_the_envelope_is_the_routed_path_dumped(tmp_path: Path, name: str) -> None:
    sections, changes = CASES[name]
    compiled = compile_policy(_policy(tmp_path, sections))
    data = copy.deepcopy(BASE_QUOTE) | changes
    quote = parse_quote(json.loads(json.dumps(data)))
    path = route(compiled, quote)
    for digits in (0, 2):
        envelope = envelope_text(compiled, quote, "quotes/q é.json", digits)
        assert envelope.text == json.dumps(path_json(path, quote, "quotes/q é.json", digits), ensure_ascii=False)
        assert (envelope.status, envelope.warnings) == (path.status, path.warnings)


@pytest.mark.parametrize("owner, approvers", [
    ("nobody", ["owner.manager"]),  # the owner is no user of the policy
    ("ceo", ["owner.manager"]),  # the owner has no manager
    ("rep", ["ann", "field:fields.approver"]),  # the field is not set
])
def test_a_routing_error_is_the_one_route_raises(tmp_path: Path, owner: str, approvers: list[str]) -> None:
    compiled = compile_policy(_policy(tmp_path, {"rules": [
        {"id": "fine", "when": "discount_pct > 1", "approvers": ["bob"]},
        {"id": "bad", "when": "discount_pct > 2", "approvers": approvers}]}))
    quote = parse_quote(json.loads(json.dumps(copy.deepcopy(BASE_QUOTE) | {"owner": owner})))
    with pytest.raises(RoutingError) as routed:
        route(compiled, quote)
    with pytest.raises(RoutingError) as written:
        envelope_text(compiled, quote, "q.json")
    assert str(written.value) == str(routed.value) and written.value.hint == routed.value.hint


def test_a_compiled_policy_from_the_cache_writes_the_same_envelopes(tmp_path: Path) -> None:
    """The recording functions come from the frozen bytecode then, never compiled again."""
    from cpq_cli.routing import CompiledPolicy

    policy = _policy(tmp_path, {"rules": [{"id": "r", "when": "discount_pct > 1 and net_total > 1",
                                           "approvers": ["ann"]}]})
    fresh = compile_policy(policy)
    thawed = CompiledPolicy(policy, fresh.freeze())
    assert all(code is not None for code in thawed._traced_code)  # nothing left to compile
    quote = parse_quote(json.loads(json.dumps(BASE_QUOTE)))
    assert envelope_text(thawed, quote, "q.json") == envelope_text(fresh, quote, "q.json")
    assert route(thawed, quote) == route(fresh, quote)


@pytest.mark.parametrize("text", [
    "0", "-0", "40", "40.00", "-0.000", "100.0", "17.5", "17.50", "17.505", "-184.9134", "0.005", "-0.004",
    "1E+2", "1.5E+3", "1E-7", "-2.50E-9", "123456789012345678901234567890", "0.1234567890123456789012345678",
    "9.995", "-9.995", "0.000001", "1.000000", "-1.10",
])
def test_a_decimal_s_texts_are_json_value_s_and_display_value_s(text: str) -> None:
    from decimal import Decimal

    from cpq_cli.report import envelope
    from cpq_cli.report.envelope import dump
    from cpq_cli.routing import display_value, json_value

    envelope._JSON_TEXTS.clear()
    envelope._DISPLAY_TEXTS.clear()
    value = Decimal(text)
    expected = (dump(json_value(value)), display_value(value))
    for _ in range(2):  # computed, then from the memos
        assert (envelope.json_text(value), envelope.display_text(value)) == expected
