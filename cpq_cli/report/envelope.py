"""A quote's JSON envelope (docs/formats.md) routed and written in one pass, for batches.

`envelope_text(compiled, quote, file)` is `json.dumps(path_json(route(compiled, quote), quote,
file), ensure_ascii=False)` without the ApprovalPath in between (tests hold the two to the
same text on random policies and quotes). Each fired rule runs its recording function (the
one routing runs for reasons) in a namespace of this module's, where each condition's label
is its JSON head and reason head, so a condition is written the moment it is evaluated: no
ConditionResult, RuleResult, Approver or Step is built only to be taken apart again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from cpq_cli.expressions import SOURCE_HELPERS
from cpq_cli.memo import remember
from cpq_cli.quote import Quote, content_hash_read
from cpq_cli.report.path import PATH_ENVELOPE_VERSION, quote_summary
from cpq_cli.routing import (
    ApproverKind,
    CompiledPolicy,
    PathStatus,
    _aggregate,
    display_value,
    gather_approvers,
    json_value,
    missing_value_warnings,
    quote_env_values,
    reason_head,
    status_of,
)

_encode = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses for strings


class Envelope(NamedTuple):
    text: str  # the envelope, one line of JSON without its newline
    status: PathStatus
    warnings: tuple[str, ...]


def dump(value: Any) -> str:
    """json.dumps(value, ensure_ascii=False), quicker for the values an envelope is made of."""
    kind = type(value)
    if kind is str:
        return _encode(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is list:
        return "[" + ", ".join([dump(v) for v in value]) + "]"
    return json.dumps(value, ensure_ascii=False)


def strings(values: Any) -> str:
    try:  # ids, reasons, references: strings, so the C encoder does the lot
        return "[" + ", ".join(map(_encode, values)) + "]"
    except TypeError:
        return "[" + ", ".join([dump(v) for v in values]) + "]"


# A value's JSON text (dump(json_value(v))) and, for a condition that holds, its display text
# (display_value(v)), as routing writes them. Decimals are keyed by their exact text (1.50 and
# 1.5 are equal but are written apart in JSON). A quote's computed values (a margin to 28
# digits) come back in several of its conditions and hardly ever in another quote: small memos
# keep them and the common short values without growing into ones that miss the processor's caches.
_JSON_TEXTS: dict[str, str] = {}
_DISPLAY_TEXTS: dict[str, str] = {}


def json_text(value: Any) -> str:
    """dump(json_value(value))."""
    if type(value) is Decimal:
        key = str(value)
        found = _JSON_TEXTS.get(key)
        if found is None:
            found = remember(_JSON_TEXTS, key, _decimal_json(value, key), 4_096)
        return found
    return dump(json_value(value))


def display_text(value: Any) -> str:
    """display_value(value): only for a condition that holds, as routing shows only those (a
    30-digit value cannot be rounded to cents in 28 digits: routing never tries on a false one)."""
    if type(value) is Decimal:
        key = str(value)
        found = _DISPLAY_TEXTS.get(key)
        if found is None:
            found = remember(_DISPLAY_TEXTS, key, _decimal_display(value, key), 4_096)
        return found
    return display_value(value)


def _decimal_json(value: Decimal, text: str) -> str:
    """dump(json_value(value)) from str(value) = `text`: without an exponent, Decimal's text is
    format(value, "f"), which json_value is made of."""
    if "E" in text or not value.is_finite():
        return dump(json_value(value))
    whole, _dot, places = text.partition(".")
    return f'"{whole}"' if not places.rstrip("0") else f'"{text}"'  # an integral value normalised


def _decimal_display(value: Decimal, text: str) -> str:
    """display_value(value) from str(value) = `text`, as _decimal_json."""
    if "E" in text or not value.is_finite():
        return display_value(value)
    whole, _dot, places = text.partition(".")
    if not places.rstrip("0"):  # integral, as 40, 40.00 or -0.0
        return whole
    if len(places) <= 2:  # shown without trailing zeros
        return text.rstrip("0")
    # shown rounded half-up to 2 places (display_value's words; its text has no exponent either)
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP)).rstrip("0").rstrip(".")


_CENT = Decimal("0.01")


_Known = dict[int, list[Any]]  # id(value) -> [value, its JSON text, its display text or None]


def _record(texts: tuple[list[str], list[str], _Known], label: tuple[str, str, tuple[str, str] | None],
            tested: Any, against: Any, result: bool) -> bool:
    """What a recording function calls for each condition it evaluates: the condition's JSON
    object, and its part of the reason when it holds (routing.describe_reason's words). A
    condition against a constant has what follows its tested value written in its label."""
    head, reason, ends = label
    conditions, reasons, known = texts
    if ends is None:
        ends = _ends(json_text(against))
    # A quote's variables are tested by rule after rule: their texts are made once a quote.
    # `known` holds each value it maps, so no other value can take its id while it lives.
    seen = known.get(id(tested))
    if seen is None:
        seen = known[id(tested)] = [tested, json_text(tested), None]
    if result:
        shown = seen[2]
        if shown is None:
            shown = seen[2] = display_text(tested)
        reasons.append(f"{reason}{shown})")
        conditions.append(f"{head}{seen[1]}{ends[0]}")
    else:
        conditions.append(f"{head}{seen[1]}{ends[1]}")
    return result


def _ends(against: str) -> tuple[str, str]:
    """What follows a condition's tested value when it holds, and when it does not."""
    return f', "against": {against}, "result": true}}', f', "against": {against}, "result": false}}'


class _Texts:
    """What writing envelopes for one compiled policy needs, worked out once: each rule's JSON
    head and recording function, and each approver group's members and requirement."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        program = compiled.program
        constants = list(program.constants)
        for at, against in zip(program.labels, program.label_against, strict=True):  # (number, source, op, tested_expr)
            _number, source, op, expr = constants[at]
            head = json.dumps({"source": source, "op": op, "tested_expr": expr}, ensure_ascii=False)[:-1]
            constants[at] = (head + ', "tested": ', reason_head(source, expr),
                             _ends(json_text(program.constants[against])) if against >= 0 else None)
        self.namespace: dict[str, Any] = {**SOURCE_HELPERS, "K": tuple(constants), "_aggregate": _aggregate,
                                          "_c": _record}
        self.functions: list[Callable[..., bool] | None] = [None] * len(compiled.rules)
        self.heads = tuple(json.dumps({"id": r.id, "description": r.description, "chain": r.chain, "step": r.step,
                                       "fired": True, "effective": True}, ensure_ascii=False)[:-1]
                           + ', "conditions": [' for r in (cr.rule for cr in compiled.rules))
        self.tails: dict[str, str] = {}
        for group_id, group in compiled.policy.groups.items():
            if group.require is not None:
                self.tails[group_id] = (f', "members": {strings(group.members)}, "require": '
                                        f'{dump(group.require.to_json())}, "needed": '
                                        f'{dump(group.require.needed(len(set(group.members))))}')
        self.policy_hash = dump(compiled.policy.content_hash)
        self.approver_heads: dict[tuple[str, ApproverKind], tuple[str, str]] = {}  # made as approvers are met

    def function(self, index: int) -> Callable[..., bool]:
        found = self.functions[index]
        if found is None:
            found = self.functions[index] = self.compiled.traced_function(index, self.namespace)
        return found


def _texts_for(compiled: CompiledPolicy) -> _Texts:
    found: _Texts | None = compiled.derived.get("envelope")
    if found is None:
        found = compiled.derived["envelope"] = _Texts(compiled)
    return found


_KIND_TEXT = {kind: _encode(kind.value) for kind in ApproverKind}
_MET = _encode("condition met")  # routing's reason for a rule without conditions


def envelope_text(compiled: CompiledPolicy, quote: Quote, file: str, digits: int = 2,
                  pieces: list[str] | None = None) -> Envelope:
    """The quote routed and its envelope written (fired rules only, as without `--explain`).
    Raises RoutingError as route() does, for the same quote and rule. `pieces`: those
    load_quote(path, pieces) gave for this quote, to hash it with (quote.content_hash_read)."""
    state = _texts_for(compiled)
    values = quote_env_values(compiled, quote)
    rules, windowed, functions, heads = compiled.rules, compiled._windowed, state.functions, state.heads
    fired: list[tuple[Any, str]] = []
    rule_texts: list[str] = []
    known: _Known = {}
    for i in compiled._evaluate(values):
        cr = rules[i]
        if windowed[i] and not cr.rule.effective_on(quote.date):
            continue
        conditions: list[str] = []
        reasons: list[str] = []
        (functions[i] or state.function(i))(values, (conditions, reasons, known))
        rule_texts.append(heads[i] + ", ".join(conditions) + "]}")
        fired.append((cr, _encode("; ".join(reasons)) if reasons else _MET))
    # placed with each reason as JSON text: written once, however many approvers it is shown for
    gathered = gather_approvers(compiled, quote, values, fired)
    orders, tails, heads_of = compiled._chain_orders, state.tails, state.approver_heads
    chain_ids = sorted(gathered, key=lambda c: (orders[c], c))
    chains = []
    for chain_id in chain_ids:
        steps = gathered[chain_id]
        step_texts = []
        for number in sorted(steps):
            approvers = []
            for (approver_id, _merge), (kind, rule_ids, rule_reasons, via) in steps[number].items():
                head = heads_of.get((approver_id, kind))
                if head is None:  # `{"id": ..., "kind": ..., "rules": ` (and what closes a group's)
                    head = heads_of[(approver_id, kind)] = (
                        f'{{"id": {_encode(approver_id)}, "kind": {_KIND_TEXT[kind]}, "rules": ',
                        (tails.get(approver_id, "") if kind is ApproverKind.GROUP else "") + "}")
                approvers.append(f'{head[0]}{strings(rule_ids)}, "reasons": [{", ".join(rule_reasons)}], '
                                 f'"via": {strings(via) if via else "[]"}{head[1]}')
            step_texts.append(f'{{"step": {dump(number)}, "approvers": [{", ".join(approvers)}]}}')
        order = orders[chain_id]
        beside = [c for c in chain_ids if orders[c] == order and c != chain_id]
        chains.append(f'{{"id": {dump(chain_id)}, "order": {dump(order)}, "parallel_with": {strings(beside)}, '
                      f'"steps": [{", ".join(step_texts)}]}}')
    status = status_of(gathered)
    warnings = tuple(missing_value_warnings(compiled, values))
    q = quote_summary(quote, file, digits, content_hash_read(quote, pieces) if pieces is not None else None)
    text = (f'{{"version": {PATH_ENVELOPE_VERSION}, "quote": {{"id": {dump(q["id"])}, "file": {dump(q["file"])}, '
            f'"hash": {dump(q["hash"])}, "account": {dump(q["account"])}, "owner": {dump(q["owner"])}, '
            f'"currency": {dump(q["currency"])}, "date": {dump(q["date"])}, "list_total": {dump(q["list_total"])}, '
            f'"net_total": {dump(q["net_total"])}, "discount_pct": {dump(q["discount_pct"])}}}, '
            f'"policy": {{"hash": {state.policy_hash}}}, "status": {dump(status.value)}, '
            f'"chains": [{", ".join(chains)}], "rules": [{", ".join(rule_texts)}], "warnings": {strings(warnings)}}}')
    return Envelope(text, status, warnings)
