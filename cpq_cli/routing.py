"""route(policy, quote) -> ApprovalPath: which approvals a quote needs, and why. Pure; no I/O.

Rules that fire become requests grouped by chain (ascending `order`; equal orders run in
parallel) and step (ascending; steps where nothing fired are skipped). Within one chain step,
each approver is asked once for every rule that needs them, unless a rule is `explicit`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from cpq_cli.errors import RoutingError
from cpq_cli.expressions import (
    Compiled,
    Env,
    Expression,
    TraceEntry,
    compile_expression,
    parse,
    truthy,
)
from cpq_cli.policy.model import AUTO, FIELD_PREFIX, OWNER, Aggregate, Policy, Requirement, Rule, Variable
from cpq_cli.quote import Quote


class PathStatus(StrEnum):
    APPROVAL_REQUIRED = "approval_required"
    NO_APPROVAL_REQUIRED = "no_approval_required"


class ApproverKind(StrEnum):
    USER = "user"
    GROUP = "group"
    AUTO = "auto"


class ConditionResult(NamedTuple):
    number: int
    source: str
    op: str
    tested_expr: str
    tested: Any
    against: Any
    result: bool

    @property
    def missing(self) -> bool:
        return self.tested is None


class RuleResult(NamedTuple):
    id: str
    description: str | None
    chain: str
    step: int
    fired: bool
    effective: bool
    conditions: tuple[ConditionResult, ...]  # all of them with explain, else those of fired rules


class Approver(NamedTuple):
    id: str
    kind: ApproverKind
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    via: tuple[str, ...]  # the references that resolved to this approver, e.g. owner.manager
    members: tuple[str, ...] = ()
    require: Requirement | None = None


class Step(NamedTuple):
    number: int
    approvers: tuple[Approver, ...]


class ChainPath(NamedTuple):
    id: str
    order: int
    steps: tuple[Step, ...]


class ApprovalPath(NamedTuple):
    quote_id: str
    policy_hash: str
    status: PathStatus
    chains: tuple[ChainPath, ...]
    rules: tuple[RuleResult, ...]
    warnings: tuple[str, ...]

    @property
    def fired(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules if r.fired)


# ------------------------------------------------------------------------------- compilation


class _CompiledRule(NamedTuple):
    rule: Rule
    expr: Expression
    fn: Compiled


class _CompiledVariable(NamedTuple):
    variable: Variable
    where_key: str | None


class CompiledPolicy:
    """A policy with every expression parsed and compiled once, ready to route many quotes."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.rules = tuple(_CompiledRule(r, e := parse(r.when), compile_expression(e))
                           for r in policy.rules if r.step >= 1)
        # Variables sharing a `where` share one pass over the lines.
        self.filters: dict[str, Compiled] = {}
        variables = []
        for var in policy.variables.values():
            key = var.where.strip() if var.where else None
            if key and key not in self.filters:
                self.filters[key] = compile_expression(parse(key))
            variables.append(_CompiledVariable(var, key))
        self.variables = tuple(variables)
        # Names tested by each condition, to warn when a tested value is missing. A variable is null
        # when no line matched its `where`: that is an answer, not missing data.
        self.condition_names = {
            cr.rule.id: tuple((c, tuple(sorted(c.names))) for c in cr.expr.conditions) for cr in self.rules
        }
        self.tested_names = tuple(sorted({n for names in self.condition_names.values() for _, ns in names
                                          for n in ns} - policy.variables.keys()))


def compile_policy(policy: Policy) -> CompiledPolicy:
    return CompiledPolicy(policy)


def compute_variables(compiled: CompiledPolicy, quote: Quote) -> dict[str, Any]:
    matches: dict[str | None, list[dict[str, Any]]] = {None: [ln.values for ln in quote.lines]}
    env = Env({})  # one Env, pointed at each line in turn: this runs for every filter and line
    for key, fn in compiled.filters.items():
        matched = []
        for line in quote.lines:
            env.values = line.values
            if truthy(fn(env)):
                matched.append(line.values)
        matches[key] = matched
    out: dict[str, Any] = {}
    for cv in compiled.variables:
        out[cv.variable.id] = _aggregate(cv.variable, matches[cv.where_key])
    return out


def _aggregate(variable: Variable, lines: list[dict[str, Any]]) -> Any:
    if variable.function is Aggregate.COUNT and variable.field is None:
        return Decimal(len(lines))
    field = variable.field or ""
    found = [_path_value(line, field) for line in lines] if "." in field else [line.get(field) for line in lines]
    values = [v for v in found if isinstance(v, Decimal)]
    match variable.function:
        case Aggregate.COUNT:
            return Decimal(len(values))
        case Aggregate.SUM:
            return sum(values, Decimal(0))
        case Aggregate.MIN:
            return min(values) if values else None
        case Aggregate.MAX:
            return max(values) if values else None
        case Aggregate.AVG:
            return sum(values, Decimal(0)) / len(values) if values else None


def _path_value(values: dict[str, Any], path: str) -> Any:
    current: Any = values
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def quote_env_values(compiled: CompiledPolicy, quote: Quote) -> dict[str, Any]:
    """What `when` expressions see: the quote's fields, derived values and the variables."""
    values = dict(quote.values)
    values.update(compute_variables(compiled, quote))
    return values


# ----------------------------------------------------------------------------------- routing


def route(compiled: CompiledPolicy, quote: Quote, *, explain: bool = False, reasons: bool = True,
          values: dict[str, Any] | None = None) -> ApprovalPath:
    """The approval path of a quote. Raises RoutingError when a dynamic approver resolves to nobody.

    `explain` traces every condition of every rule; `reasons=False` skips tracing the fired ones
    (their approvers then carry no reasons), for outputs that do not show them.
    """
    policy = compiled.policy
    env_values = values if values is not None else quote_env_values(compiled, quote)
    fast = Env(env_values)
    trace: list[TraceEntry] = []
    # Explain evaluates (and records) every condition of every rule. Otherwise rules are
    # evaluated fast, and only the few that fire are evaluated again to record why: their
    # conditions as evaluated, short-circuiting as `and`/`or` do.
    recording = Env(env_values, trace=trace, full=explain)
    results: list[RuleResult] = []
    fired: list[tuple[_CompiledRule, tuple[ConditionResult, ...]]] = []
    for cr in compiled.rules:
        rule = cr.rule
        effective = (rule.effective_from is None and rule.effective_until is None) or rule.effective_on(quote.date)
        conditions: tuple[ConditionResult, ...] = ()
        if explain:
            trace.clear()
            hit = truthy(cr.fn(recording)) and effective
            conditions = _conditions(cr, trace)
        else:
            hit = effective and truthy(cr.fn(fast))
            if hit and reasons:
                trace.clear()
                cr.fn(recording)
                conditions = _conditions(cr, trace)
        results.append(RuleResult(rule.id, rule.description, rule.chain, rule.step, hit, effective, conditions))
        if hit:
            fired.append((cr, conditions))
    chains = _build_chains(policy, quote, env_values, fired)
    # `auto` approvals are recorded but ask nobody.
    human = any(a.kind is not ApproverKind.AUTO for c in chains for s in c.steps for a in s.approvers)
    status = PathStatus.APPROVAL_REQUIRED if human else PathStatus.NO_APPROVAL_REQUIRED
    return ApprovalPath(quote.id, policy.content_hash, status, chains, tuple(results),
                        tuple(missing_value_warnings(compiled, env_values)))


def _conditions(cr: _CompiledRule, trace: list[TraceEntry]) -> tuple[ConditionResult, ...]:
    by_number = cr.expr.conditions
    return tuple(ConditionResult(e.number, (c := by_number[e.number]).source, c.op, c.tested, e.tested, e.against,
                                 e.result) for e in trace)


def missing_value_warnings(compiled: CompiledPolicy, values: dict[str, Any]) -> Iterable[str]:
    """Comparing with null is false, so a missing field can silently skip an approval: say so."""
    absent = {name for name in compiled.tested_names if _path_value(values, name) is None}
    if not absent:
        return
    for cr in compiled.rules:
        for condition, names in compiled.condition_names[cr.rule.id]:
            missing = [name for name in names if name in absent]
            if missing and condition.tested_path is not None and condition.tested_path in missing:
                yield (f"rule {cr.rule.id}: `{condition.source}` tests {condition.tested_path}, "
                       "which the quote does not have; the condition is false")
            elif missing:
                yield (f"rule {cr.rule.id}: `{condition.source}` uses {', '.join(missing)}, "
                       "which the quote does not have")


def _build_chains(policy: Policy, quote: Quote, values: dict[str, Any],
                  fired: list[tuple[_CompiledRule, tuple[ConditionResult, ...]]]) -> tuple[ChainPath, ...]:
    # chain -> step -> key -> (approver fields being gathered)
    gathered: dict[str, dict[int, dict[tuple[str, str | None], dict[str, Any]]]] = {}
    resolved: dict[str, tuple[str, ApproverKind]] = {}
    for cr, conditions in fired:
        rule = cr.rule
        reason = describe_reason(conditions)
        steps = gathered.setdefault(rule.chain, {})
        slot = steps.setdefault(rule.step, {})
        for ref in rule.approvers:
            if ref not in resolved:
                resolved[ref] = resolve_approver(policy, quote, values, rule, ref)
            approver_id, kind = resolved[ref]
            key = (approver_id, rule.id if rule.explicit else None)
            entry = slot.setdefault(key, {"kind": kind, "rules": [], "reasons": [], "via": []})
            if rule.id not in entry["rules"]:
                entry["rules"].append(rule.id)
                entry["reasons"].append(reason)
            if ref != approver_id and ref not in entry["via"]:
                entry["via"].append(ref)
    chains = []
    for chain_id, steps in gathered.items():
        chain = policy.chain(chain_id)
        built_steps = []
        for number in sorted(steps):
            approvers = []
            for (approver_id, _), entry in steps[number].items():
                kind = entry["kind"]
                group = policy.groups.get(approver_id) if kind is ApproverKind.GROUP else None
                approvers.append(Approver(
                    approver_id, kind, tuple(entry["rules"]), tuple(entry["reasons"]), tuple(entry["via"]),
                    group.members if group else (), group.require if group else None))
            built_steps.append(Step(number, tuple(approvers)))
        chains.append(ChainPath(chain_id, chain.order, tuple(built_steps)))
    return tuple(sorted(chains, key=lambda c: (c.order, c.id)))


def resolve_approver(policy: Policy, quote: Quote, values: dict[str, Any], rule: Rule,
                     ref: str) -> tuple[str, ApproverKind]:
    """A reference as written in a rule -> (approver id, kind). Dynamic ones resolve against the quote."""
    if ref == AUTO:
        return AUTO, ApproverKind.AUTO
    if ref in policy.groups:
        return ref, ApproverKind.GROUP
    if ref in policy.users:
        return ref, ApproverKind.USER
    if ref.startswith(FIELD_PREFIX):
        path = ref[len(FIELD_PREFIX):]
        value = _path_value(values, path)
        if not isinstance(value, str) or not value:
            raise RoutingError(f"rule {rule.id}: approver {ref!r} resolves to nobody: the quote has no {path}",
                               hint=f"set {path} on the quote to a user id")
        return _known_user(policy, rule, ref, value), ApproverKind.USER
    parts = ref.split(".")
    if parts[0] == OWNER:
        current = _known_user(policy, rule, ref, quote.owner, what="owner")
        for _ in parts[1:]:
            manager = policy.users[current].manager
            if manager is None:
                raise RoutingError(f"rule {rule.id}: approver {ref!r} resolves to nobody: "
                                   f"user {current!r} has no manager",
                                   hint=f"add a manager to {current!r} in the policy's users")
            current = _known_user(policy, rule, ref, manager)
        return current, ApproverKind.USER
    raise RoutingError(f"rule {rule.id}: approver {ref!r} is not a user, group or dynamic reference",
                       hint="run `cpq lint`")


def _known_user(policy: Policy, rule: Rule, ref: str, user_id: str, what: str = "") -> str:
    user = policy.users.get(user_id)
    label = f"{what} " if what else ""
    if user is None:
        raise RoutingError(f"rule {rule.id}: approver {ref!r} resolves to {label}{user_id!r}, "
                           "who is not a user of the policy set", hint="add the user or fix the quote")
    if not user.active:
        raise RoutingError(f"rule {rule.id}: approver {ref!r} resolves to {user_id!r}, who is inactive",
                           hint="replace the approver with `cpq approvers replace`")
    return user_id


# -------------------------------------------------------------------------------- presenting


def display_value(value: Any) -> str:
    """A value as people read it: decimals without float noise, at most 2 places when longer."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        if value != value.to_integral_value() and -value.as_tuple().exponent > 2:  # type: ignore[operator]
            value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    if isinstance(value, list):
        return "[" + ", ".join(display_value(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def describe_reason(conditions: Iterable[ConditionResult]) -> str:
    """The true conditions in words: `discount_pct > 20 (is 23.5)`."""
    parts = []
    for c in conditions:
        if not c.result:
            continue
        if c.tested_expr.replace(".", "").replace("_", "").isalnum() and not c.tested_expr[0].isdigit():
            parts.append(f"{c.source} (is {display_value(c.tested)})")
        else:
            parts.append(f"{c.source} ({c.tested_expr} is {display_value(c.tested)})")
    return "; ".join(parts) if parts else "condition met"


def json_value(value: Any) -> Any:
    """Exact JSON form: decimals as strings (never floats), dates as ISO strings."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is Decimal:
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


