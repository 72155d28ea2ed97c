"""Routing semantics, table-driven, plus properties over randomly generated policies."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpq_cli.errors import RoutingError
from cpq_cli.routing import ApproverKind, PathStatus, compile_policy, route
from tests.helpers import USERS, make_policy, make_quote


def _steps(path: Any) -> dict[str, dict[int, list[str]]]:
    return {c.id: {s.number: sorted(a.id for a in s.approvers) for s in c.steps} for c in path.chains}


def _route(tmp_path: Path, rules: list[dict[str, Any]], quote: Any = None, **sections: Any) -> Any:
    policy = make_policy(tmp_path, rules=rules, **sections)
    return route(compile_policy(policy), quote or make_quote())


def rule(rid: str, when: str, approvers: list[str], chain: str = "c1", step: int = 1, **extra: Any) -> dict:
    return {"id": rid, "when": when, "approvers": approvers, "chain": chain, "step": step, **extra}


CHAINS = {"c1": {"order": 1}, "c2": {"order": 1}, "c3": {"order": 2}}


def test_nothing_fires_means_no_approval(tmp_path: Path) -> None:
    path = _route(tmp_path, [rule("r", "discount_pct > 50", ["ann"])], chains=CHAINS)
    assert path.status is PathStatus.NO_APPROVAL_REQUIRED
    assert path.chains == ()
    assert path.fired == ()


def test_steps_without_fired_rules_are_skipped(tmp_path: Path) -> None:
    path = _route(tmp_path, [rule("a", "discount_pct > 10", ["ann"], step=1),
                             rule("b", "discount_pct > 90", ["bob"], step=2),
                             rule("c", "net_total > 100", ["cat"], step=5)], chains=CHAINS)
    assert _steps(path) == {"c1": {1: ["ann"], 5: ["cat"]}}


def test_chains_run_by_order_and_equal_orders_in_parallel(tmp_path: Path) -> None:
    path = _route(tmp_path, [rule("late", "true", ["cat"], chain="c3"), rule("b", "true", ["bob"], chain="c2"),
                             rule("a", "true", ["ann"], chain="c1")], chains=CHAINS)
    assert [(c.id, c.order) for c in path.chains] == [("c1", 1), ("c2", 1), ("c3", 2)]


def test_one_request_per_approver_per_chain_step(tmp_path: Path) -> None:
    path = _route(tmp_path, [rule("a", "discount_pct > 10", ["ann"]), rule("b", "net_total > 100", ["ann", "bob"]),
                             rule("c", "true", ["ann"], step=2)], chains=CHAINS)
    step1 = path.chains[0].steps[0]
    ann = next(a for a in step1.approvers if a.id == "ann")
    assert ann.rules == ("a", "b")
    assert len(ann.reasons) == 2
    assert _steps(path) == {"c1": {1: ["ann", "bob"], 2: ["ann"]}}


def test_explicit_rules_ask_separately(tmp_path: Path) -> None:
    path = _route(tmp_path, [rule("a", "true", ["ann"]), rule("b", "true", ["ann"], explicit=True)], chains=CHAINS)
    assert [a.rules for a in path.chains[0].steps[0].approvers] == [("a",), ("b",)]


def test_groups_are_expanded_with_their_requirement(tmp_path: Path) -> None:
    path = _route(tmp_path, [rule("a", "true", ["desk", "board"])], chains=CHAINS,
                  groups={"desk": {"members": ["ann", "bob"], "require": "all"},
                          "board": {"members": ["ann", "bob", "cat"], "require": {"percent": 60}}})
    desk, board = path.chains[0].steps[0].approvers
    assert desk.kind is ApproverKind.GROUP and desk.members == ("ann", "bob")
    assert desk.require is not None and desk.require.needed(2) == 2
    assert board.require is not None and board.require.needed(3) == 2


def test_auto_approvers_are_recorded_but_ask_nobody(tmp_path: Path) -> None:
    path = _route(tmp_path, [rule("a", "true", ["auto"])], chains=CHAINS)
    assert path.status is PathStatus.NO_APPROVAL_REQUIRED
    assert path.chains[0].steps[0].approvers[0].kind is ApproverKind.AUTO


@pytest.mark.parametrize(("ref", "expected"), [
    ("owner", "rep"), ("owner.manager", "mgr"), ("owner.manager.manager", "vp"),
    ("owner.manager.manager.manager", "ceo"), ("field:fields.partner_manager", "bob"),
])
def test_dynamic_approvers_resolve_from_the_quote(tmp_path: Path, ref: str, expected: str) -> None:
    quote = make_quote(fields={"partner_manager": "bob"})
    path = _route(tmp_path, [rule("a", "true", [ref])], quote, chains=CHAINS)
    approver = path.chains[0].steps[0].approvers[0]
    assert approver.id == expected
    assert approver.via == (() if ref == expected else (ref,))


@pytest.mark.parametrize(("ref", "fields", "message"), [
    ("owner.manager.manager.manager.manager", {}, "user 'ceo' has no manager"),
    ("field:fields.partner_manager", {}, "the quote has no fields.partner_manager"),
    ("field:fields.partner_manager", {"partner_manager": "zed"}, "'zed', who is not a user"),
])
def test_dynamic_approvers_that_resolve_to_nobody_name_the_rule(tmp_path: Path, ref: str, fields: dict,
                                                               message: str) -> None:
    with pytest.raises(RoutingError) as info:
        _route(tmp_path, [rule("the-rule", "true", [ref])], make_quote(fields=fields), chains=CHAINS)
    assert "rule the-rule" in str(info.value)
    assert message in str(info.value)


def test_inactive_dynamic_approver_is_an_error(tmp_path: Path) -> None:
    users = {**USERS, "mgr": {**USERS["mgr"], "active": False}}
    with pytest.raises(RoutingError, match="inactive"):
        _route(tmp_path, [rule("a", "true", ["owner.manager"])], chains=CHAINS, users=users)


@pytest.mark.parametrize(("day", "fires"), [
    ("2026-01-31", False), ("2026-02-01", True), ("2026-06-15", True), ("2026-06-30", True), ("2026-07-01", False),
])
def test_effective_windows_are_inclusive(tmp_path: Path, day: str, fires: bool) -> None:
    path = _route(tmp_path, [rule("a", "true", ["ann"], effective={"from": "2026-02-01", "until": "2026-06-30"})],
                  make_quote(date=day), chains=CHAINS)
    assert path.fired == (("a",) if fires else ())
    assert path.rules[0].effective is fires


def test_variables_aggregate_the_lines(tmp_path: Path) -> None:
    variables = {
        "hw_total": {"function": "sum", "field": "net_total", "where": "family == 'Hardware'"},
        "max_disc": {"function": "max", "field": "discount_pct"},
        "n_sw": {"function": "count", "where": "kind == 'subscription'"},
        "avg_disc": {"function": "avg", "field": "discount_pct"},
        "none_hw": {"function": "min", "field": "discount_pct", "where": "family == 'Nothing'"},
    }
    path = _route(tmp_path, [rule("a", "hw_total == 180 and max_disc == 20 and n_sw == 1 and avg_disc == 15", ["ann"]),
                             rule("b", "none_hw == null or none_hw < 100", ["bob"])],
                  chains=CHAINS, variables=variables)
    assert path.fired == ("a",)  # comparing with null is false, even `== null`


def test_missing_tested_values_warn(tmp_path: Path) -> None:
    quote = make_quote()
    del quote.values["term_months"]
    path = _route(tmp_path, [rule("a", "term_months > 36", ["ann"])], quote, chains=CHAINS)
    assert path.fired == ()
    assert path.warnings and "term_months" in path.warnings[0]


def test_explain_traces_every_condition_of_every_rule(tmp_path: Path) -> None:
    policy = make_policy(tmp_path, chains=CHAINS, rules=[rule("a", "discount_pct > 10 or net_total > 10000", ["ann"]),
                                                         rule("b", "discount_pct > 50", ["bob"])])
    path = route(compile_policy(policy), make_quote(), explain=True)
    a, b = path.rules
    assert [(c.source, c.tested, c.result) for c in a.conditions] == [
        ("discount_pct > 10", Decimal(16), True), ("net_total > 10000", Decimal("420.00"), False)]
    assert [(c.source, c.result) for c in b.conditions] == [("discount_pct > 50", False)]


# ------------------------------------------------------------------------------ properties

APPROVERS = ["ann", "bob", "cat", "auto", "owner.manager", "desk"]

random_rules = st.lists(
    st.tuples(st.integers(0, 60), st.sampled_from(["c1", "c2", "c3"]), st.integers(1, 4),
              st.lists(st.sampled_from(APPROVERS), min_size=1, max_size=3, unique=True), st.booleans()),
    min_size=1, max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=random_rules, discount=st.integers(0, 60))
def test_routing_invariants(tmp_path: Path, spec: list[tuple], discount: int) -> None:
    rules = [rule(f"r{i}", f"discount_pct > {threshold}", approvers, chain, step, explicit=explicit)
             for i, (threshold, chain, step, approvers, explicit) in enumerate(spec)]
    policy = make_policy(tmp_path, rules=rules, chains=CHAINS,
                         groups={"desk": {"members": ["ann", "bob"], "require": "any"}})
    path = route(compile_policy(policy), make_quote(discount=discount))
    expected_fired = {f"r{i}" for i, s in enumerate(spec) if discount > s[0]}
    assert set(path.fired) == expected_fired
    assert [(c.order, c.id) for c in path.chains] == sorted((c.order, c.id) for c in path.chains)
    by_rule = {f"r{i}": s for i, s in enumerate(spec)}
    seen_rules: set[str] = set()
    for chain in path.chains:
        numbers = [s.number for s in chain.steps]
        assert numbers == sorted(set(numbers))
        for step in chain.steps:
            fired_here = {r for r in expected_fired if by_rule[r][1] == chain.id and by_rule[r][2] == step.number}
            assert fired_here, "a step with no fired rule is on the path"
            plain = [a.id for a in step.approvers if not any(by_rule[r][4] for r in a.rules)]
            assert len(plain) == len(set(plain)), "an approver is asked twice in one step"
            covered = {r for a in step.approvers for r in a.rules}
            assert covered == fired_here
            seen_rules |= covered
    assert seen_rules == expected_fired
    humans = any(a != "auto" for r in expected_fired for a in by_rule[r][3])
    assert (path.status is PathStatus.APPROVAL_REQUIRED) == humans


def test_a_function_name_is_never_reported_as_a_missing_field(tmp_path) -> None:
    from cpq_cli.routing import compile_policy, route
    from tests.helpers import make_policy, make_quote

    policy = make_policy(tmp_path, chains={"main": {"order": 1}}, rules=[
        {"id": "gold", "when": "lower(fields.sla_tier) == 'gold'", "approvers": ["vp"], "chain": "main", "step": 1}])
    quote = make_quote()
    quote.data["fields"]["sla_tier"] = "Gold"
    from cpq_cli.quote import parse_quote

    path = route(compile_policy(policy), parse_quote(quote.data))
    assert path.fired == ("gold",)
    assert not any("lower" in w for w in path.warnings), path.warnings
