"""route(policy, quote) -> ApprovalPath: which approvals a quote needs, and why. Pure; no I/O.

Rules that fire become requests grouped by chain (ascending `order`; equal orders run in
parallel) and step (ascending; steps where nothing fired are skipped). Within one chain step,
each approver is asked once for every rule that needs them, unless a rule is `explicit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import CodeType
from typing import Any, NamedTuple

from cpq_cli.content_hash import EXACT
from cpq_cli.errors import RoutingError
from cpq_cli.expressions import (
    LITERAL_NAMES,
    SOURCE_HELPERS,
    Compiled,
    Condition,
    Env,
    Expression,
    SourceWriter,
    TraceEntry,
    compile_expression,
    parse,
    truthy,
)
from cpq_cli.memo import remember
from cpq_cli.policy.model import AUTO, Aggregate, Policy, Requirement, Rule, Variable
from cpq_cli.policy.references import ApproverRef, RefKind, parse_ref
from cpq_cli.quote import DECIMAL_LINE_FIELDS, OPTIONAL_DECIMAL_LINE_FIELDS, Quote


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


class _CompiledRule:
    """A rule with its expression: `fn` (closures, for explain and smart approvals) and `expr`
    (the parsed tree) are made when first asked for; routing runs the policy's generated code."""

    __slots__ = ("_expr", "_fn", "conditions", "plan", "rule")

    def __init__(self, rule: Rule, expr: Expression | None = None,
                 conditions: tuple[Condition, ...] | None = None) -> None:
        self.rule = rule
        self._expr = expr
        self._fn: Compiled | None = None
        self.conditions = conditions if conditions is not None else self.expr.conditions
        self.plan: _RulePlan | None = None  # set by CompiledPolicy._finish

    @property
    def expr(self) -> Expression:
        if self._expr is None:
            self._expr = parse(self.rule.when)  # the same text parses to the same tree
        return self._expr

    @property
    def fn(self) -> Compiled:
        if self._fn is None:
            self._fn = compile_expression(self.expr)
        return self._fn


class _RulePlan(NamedTuple):
    """What placing a fired rule in the path needs, worked out once per policy: its id, chain and
    step, the key its approvers are merged under (None: merged across rules; the id when explicit),
    and each approver reference (its text, parsed) with, when it needs no quote to resolve, what
    it resolves to and the key it is merged under: (approver, kind, (approver, merge)), else None."""
    rule_id: str
    chain: str
    step: int
    merge: str | None
    refs: tuple[tuple[str, ApproverRef, tuple[str, ApproverKind, tuple[str, str | None]] | None], ...]


class _CompiledVariable(NamedTuple):
    variable: Variable
    where_key: str | None


class Program(NamedTuple):
    """The policy's generated Python: source text and the constants it refers to as K[i].

    `source` (variables and evaluate) is compiled with the policy; each rule's recording function
    in `traced` only when that rule first fires with reasons shown, as most commands route one
    quote, where a few rules fire.
    """

    source: str
    constants: tuple[Any, ...]
    traced: tuple[str, ...] = ()
    labels: tuple[int, ...] = ()  # the indices in `constants` of the conditions' labels (in `traced`)
    # For each label, the index in `constants` of its condition's `against` when that is a constant
    # (a comparison with a literal: `discount_pct > 20`), else -1; writers of reasons write it once.
    label_against: tuple[int, ...] = ()


class CompiledPolicy:
    """A policy with every expression parsed and compiled once, ready to route many quotes.

    Routing runs one generated function per policy (`cpq_cli.expressions.SourceWriter`): one
    pass over the lines for every variable filter, one function evaluating every rule, and one
    per rule recording its conditions for the rules that fire. The closures remain for explain
    and smart approvals, and are made only when those ask.
    """

    def __init__(self, policy: Policy, frozen: bytes | None = None) -> None:
        """`frozen`: what `freeze()` gave for this very policy (the compiled-policy cache checks that)."""
        self.policy = policy
        routed = [r for r in policy.rules if r.step >= 1]
        # Variables sharing a `where` share one pass over the lines.
        self.filter_keys: tuple[str, ...] = ()
        variables = []
        for var in policy.variables.values():
            key = var.where.strip() if var.where else None
            if key and key not in self.filter_keys:
                self.filter_keys = (*self.filter_keys, key)
            variables.append(_CompiledVariable(var, key))
        self.variables = tuple(variables)
        if frozen is None:
            self.rules = tuple(_CompiledRule(r, parse(r.when)) for r in routed)
            self.program = _generate(self.rules, self.variables, self.filter_keys)
            self._code = compile(self.program.source, "<cpq policy>", "exec")
            self._traced_code: list[CodeType | None] = [None] * len(self.rules)
        else:
            import marshal
            import pickle

            conditions, self.program, code, traced = pickle.loads(frozen)
            self.rules = tuple(_CompiledRule(r, None, c) for r, c in zip(routed, conditions, strict=True))
            self._code = marshal.loads(code)
            if len(traced) != len(self.rules):
                raise ValueError("a frozen policy whose recording code does not match its rules")
            # All now (~2 µs a rule): a damaged cache file then fails here, where it is a miss.
            self._traced_code = [marshal.loads(blob) for blob in traced]
        self._finish()

    def freeze(self) -> bytes:
        """The compiled form without the policy: conditions, generated source and the bytecode of
        the policy and of every rule's recording function (a batch needs most of them: compiling
        them costs ~0.15 ms a rule in every process, unmarshalling one ~2 µs)."""
        import marshal
        import pickle

        traced = tuple(marshal.dumps(self.traced_code(i)) for i in range(len(self.rules)))
        return pickle.dumps(([cr.conditions for cr in self.rules], self.program, marshal.dumps(self._code), traced),
                            protocol=pickle.HIGHEST_PROTOCOL)

    def __reduce__(self) -> tuple[Any, ...]:
        return CompiledPolicy, (self.policy, self.freeze())

    def _finish(self) -> None:
        """What is derived from the rest: computed on construction and again after unpickling."""
        policy = self.policy
        # Names tested by each condition, to warn when a tested value is missing. A variable is null
        # when no line matched its `where`: that is an answer, not missing data.
        self.condition_names = {
            cr.rule.id: tuple((c, tuple(sorted(c.names))) for c in cr.conditions) for cr in self.rules
        }
        self.tested_names = tuple(sorted({n for names in self.condition_names.values() for _, ns in names
                                          for n in ns} - policy.variables.keys()))
        # ...each with its parts when dotted: missing_value_warnings looks every one up per quote
        self._tested_paths = tuple((n, tuple(n.split(".")) if "." in n else None) for n in self.tested_names)
        namespace: dict[str, Any] = {**SOURCE_HELPERS, "K": self.program.constants, "_aggregate": _aggregate,
                                     "_c": _record_condition}
        # The text is SourceWriter's: the author's literals and names are constants K[i], never code.
        exec(self._code, namespace)
        self._namespace = namespace
        self._variables: Callable[[list[dict[str, Any]]], dict[str, Any]] = namespace["variables"]
        self._evaluate: Callable[[dict[str, Any]], list[int]] = namespace["evaluate"]
        self._traced: list[Callable[[dict[str, Any], list[ConditionResult]], bool] | None] = [None] * len(self.rules)
        # A rule that does not fire has the same result for every quote: made once.
        self._quiet = tuple(RuleResult(cr.rule.id, cr.rule.description, cr.rule.chain, cr.rule.step, False, True, ())
                            for cr in self.rules)
        # ...and one that fires differs only by its conditions: RuleResult(*head, conditions).
        self._fired_heads = tuple((cr.rule.id, cr.rule.description, cr.rule.chain, cr.rule.step, True, True)
                                  for cr in self.rules)
        self._windowed = tuple(cr.rule.effective_from is not None or cr.rule.effective_until is not None
                               for cr in self.rules)
        self._static = static_approvers(policy)
        for cr in self.rules:
            rule = cr.rule
            merge = rule.id if rule.explicit else None
            refs = []
            for ref in rule_refs(policy, rule):
                found = self._static.get(ref.text)
                refs.append((ref.text, ref, (*found, (found[0], merge)) if found is not None else None))
            cr.plan = _RulePlan(rule.id, rule.chain, rule.step, merge, tuple(refs))
        self._chain_orders = {chain_id: policy.chain(chain_id).order for chain_id in {r.chain for r in policy.rules}}
        self._windowed_indices = tuple(i for i, windowed in enumerate(self._windowed) if windowed)
        self.derived: dict[str, Any] = {}  # what presenters work out once per policy (report.envelope's)

    def _recorder(self, index: int) -> Callable[[dict[str, Any], list[ConditionResult]], bool]:
        """Rule `index`'s recording function, made the first time it is needed."""
        found = self._traced[index]
        if found is None:
            found = self._traced[index] = self.traced_function(index, self._namespace)
        return found

    def traced_code(self, index: int) -> CodeType:
        """The bytecode defining rule `index`'s recording function `r<index>(v, T)`, which calls
        `_c(T, K[label], tested, against, result)` for each condition it evaluates (the labels
        are the constants at `program.labels`): compiled once, whatever namespace runs it."""
        code = self._traced_code[index]
        if code is None:
            source = self.program.traced[index]  # SourceWriter's text only
            code = self._traced_code[index] = compile(source, "<cpq rule>", "exec")
        return code

    def traced_function(self, index: int, namespace: dict[str, Any]) -> Callable[..., bool]:
        """Rule `index`'s recording function, defined in `namespace` (which holds `K`, `_c` and
        SOURCE_HELPERS: report.envelope runs it with labels and a `_c` of its own)."""
        exec(self.traced_code(index), namespace)
        function: Callable[..., bool] = namespace[f"r{index}"]
        return function

    @property
    def filters(self) -> dict[str, Compiled]:
        """Each variable filter as a closure (routing uses the generated pass instead)."""
        return {key: compile_expression(parse(key)) for key in self.filter_keys}


def _generate(rules: tuple[_CompiledRule, ...], variables: tuple[_CompiledVariable, ...],
              filter_keys: tuple[str, ...]) -> Program:
    """The policy as Python source. Only SourceWriter's output and fixed text go into it."""
    writer = SourceWriter()
    out: list[str] = []
    _generate_variables(writer, variables, filter_keys, out)
    # evaluate(v): the indices of the rules whose `when` is true (effective windows aside).
    writer.begin("v")
    conditions = [writer.boolean(cr.expr.tree.body, cr.expr.source.strip()) for cr in rules]
    out.append("def evaluate(v):")
    out += [f"    {stmt}" for stmt in writer.prologue()]
    out.append("    hits = []")
    out += [f"    if {test}:\n        hits.append({i})" for i, test in enumerate(conditions)]
    out.append("    return hits")
    # r<i>(v, T): rule i's `when`, appending each condition evaluated to T (for the reasons).
    traced = []
    for i, cr in enumerate(rules):
        by_number = cr.conditions
        # Each condition's fixed fields (number, source, op, tested_expr) are a constant of the code.
        writer.begin("v", trace="T", label=lambda n, by_number=by_number: (  # type: ignore[misc]
            n, by_number[n].source, by_number[n].op, by_number[n].tested))
        test = writer.boolean(cr.expr.tree.body, cr.expr.source.strip())
        traced.append("\n".join([f"def r{i}(v, T):", *(f"    {stmt}" for stmt in writer.prologue()),
                                 f"    return {test}", ""]))
    labels = tuple(sorted(writer.labels))
    return Program("\n".join(out) + "\n", tuple(writer.constants), tuple(traced), labels,
                   tuple(writer.label_against.get(at, -1) for at in labels))


def rules_evaluator(compiled: CompiledPolicy, indices: list[int]) -> Callable[[dict[str, Any]], list[int]]:
    """A function like rule_hits that evaluates only the rules at `indices` (ascending), giving
    the indices of those that hold: generated like the policy's own, for the rules that changed."""
    writer = SourceWriter()
    writer.begin("v")
    conditions = [(i, writer.boolean(compiled.rules[i].expr.tree.body, compiled.rules[i].expr.source.strip()))
                  for i in indices]
    out = ["def evaluate(v):", *(f"    {stmt}" for stmt in writer.prologue()), "    hits = []"]
    out += [f"    if {test}:\n        hits.append({i})" for i, test in conditions]
    out.append("    return hits")
    namespace: dict[str, Any] = {**SOURCE_HELPERS, "K": tuple(writer.constants)}
    exec(compile("\n".join(out) + "\n", "<cpq rules>", "exec"), namespace)  # SourceWriter's text only
    evaluate: Callable[[dict[str, Any]], list[int]] = namespace["evaluate"]
    return evaluate


def compile_policy(policy: Policy) -> CompiledPolicy:
    return CompiledPolicy(policy)


def compute_variables(compiled: CompiledPolicy, quote: Quote) -> dict[str, Any]:
    return compiled._variables([ln.values for ln in quote.lines])


def _generate_variables(writer: SourceWriter, variables: tuple[_CompiledVariable, ...], filter_keys: tuple[str, ...],
                        out: list[str]) -> None:
    """variables(lines) -> {variable id: value}: every variable in one pass over the lines.

    Each one accumulates as `_aggregate` computes it: the Decimal values of its field on the
    lines matching its `where` (tested once per line for all the variables sharing it), summed
    from Decimal(0) in line order, the first least or greatest kept, counted. A dotted field
    collects its lines and is left to `_aggregate`.
    """
    writer.begin("line")
    tests = {key: writer.boolean((e := parse(key)).tree.body, e.source.strip()) for key in filter_keys}
    init: list[str] = []
    result: list[str] = []
    body: dict[str | None, list[str]] = {key: [] for key in (None, *filter_keys)}
    fields: dict[str, str] = {}
    for i, cv in enumerate(variables):
        var, block = cv.variable, body[cv.where_key]
        function, field = var.function, var.field
        if function is Aggregate.COUNT and field is None:
            init.append(f"a{i} = 0")
            block.append(f"a{i} += 1")
            result.append(f"_Decimal(a{i})")
            continue
        if field is None or "." in field:
            init.append(f"a{i} = []")
            block.append(f"a{i}.append(line)")
            result.append(f"_aggregate({writer.constant(var)}, a{i})")
            continue
        if field not in fields:
            fields[field] = f"x{len(fields)}"
        x = fields[field]
        # Derived line fields have known types (quote._line_values sets them on every line).
        if field in DECIMAL_LINE_FIELDS:
            value_test = "True"
        elif field in OPTIONAL_DECIMAL_LINE_FIELDS:
            value_test = f"{x} is not None"
        else:
            value_test = f"(type({x}) is _Decimal or isinstance({x}, _Decimal))"
        if function in (Aggregate.SUM, Aggregate.AVG, Aggregate.COUNT):
            init += [f"a{i} = _Decimal(0)", f"c{i} = 0"]
            step = (f"c{i} += 1" if function is Aggregate.COUNT else f"a{i} = a{i} + {x}"
                    if function is Aggregate.SUM else f"a{i} = a{i} + {x}; c{i} += 1")
            block.append(step if value_test == "True" else f"if {value_test}: {step}")
            result.append({Aggregate.SUM: f"a{i}", Aggregate.COUNT: f"_Decimal(c{i})",
                           Aggregate.AVG: f"(a{i} / c{i} if c{i} else None)"}[function])
        else:  # min, max: the first of the least or greatest, as min() and max() keep it
            init.append(f"a{i} = None")
            op = "<" if function is Aggregate.MIN else ">"
            test = f"(a{i} is None or {x} {op} a{i})"
            block.append(f"if {test if value_test == 'True' else value_test + ' and ' + test}: a{i} = {x}")
            result.append(f"a{i}")
    out.append("def variables(lines):")
    out += [f"    {stmt}" for stmt in init]
    if any(body.values()):
        out.append("    for line in lines:")
        out += [f"        {stmt}" for stmt in writer.prologue()]
        out += [f"        {x} = g({writer.constant(field)})" for field, x in fields.items()]
        out += [f"        {stmt}" for stmt in body[None]]
        # `family == 'Hardware'`, `family == 'Software'`...: a text equals at most one of them, so
        # when the field holds text they are tested as one if/elif chain (otherwise as written).
        groups: dict[str, list[tuple[str, str]]] = {}
        for key in filter_keys:
            if body[key] and (equal := _text_equality(key)) is not None and equal[1] not in (
                    c for _, c in groups.get(equal[0], ())):
                groups.setdefault(equal[0], []).append((key, equal[1]))
        grouped = {key for members in groups.values() if len(members) > 1 for key, _ in members}
        for path, members in groups.items():
            if len(members) < 2:
                continue
            local = writer.locals[path]
            out.append(f"        if type({local}) is str:")
            for n, (key, text) in enumerate(members):
                out.append(f"            {'if' if n == 0 else 'elif'} {local} == {writer.constant(text)}:")
                out += [f"                {stmt}" for stmt in body[key]]
            out.append("        else:")
            for key, _ in members:
                out.append(f"            if {tests[key]}:")
                out += [f"                {stmt}" for stmt in body[key]]
        for key in filter_keys:
            if body[key] and key not in grouped:
                out.append(f"        if {tests[key]}:")
                out += [f"            {stmt}" for stmt in body[key]]
    names = [f"{writer.constant(cv.variable.id)}: {value}" for cv, value in zip(variables, result, strict=True)]
    out.append("    return {" + ", ".join(names) + "}")


def _text_equality(source: str) -> tuple[str, str] | None:
    """(field path, text) for a `where` that is exactly `field == 'text'`, else None."""
    import ast

    body = parse(source).tree.body
    if isinstance(body, ast.Compare) and len(body.ops) == 1 and isinstance(body.ops[0], ast.Eq) \
            and isinstance(body.comparators[0], ast.Constant) and type(body.comparators[0].value) is str:
        left = body.left
        parts = []
        while isinstance(left, ast.Attribute):
            parts.append(left.attr)
            left = left.value
        if isinstance(left, ast.Name) and left.id not in LITERAL_NAMES and left.id not in ("True", "False", "None"):
            return ".".join([left.id, *reversed(parts)]), body.comparators[0].value
    return None


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
    return _parts_value(values, path.split("."))


def _parts_value(values: dict[str, Any], parts: Iterable[str]) -> Any:
    current: Any = values
    for part in parts:
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
    env_values = values if values is not None else quote_env_values(compiled, quote)
    if explain:
        return _route_explained(compiled, quote, env_values)
    return route_hits(compiled, quote, env_values, compiled._evaluate(env_values), reasons=reasons)


def rule_hits(compiled: CompiledPolicy, values: dict[str, Any]) -> list[int]:
    """The indices (into compiled.rules, ascending) of the rules whose `when` holds for `values`."""
    return compiled._evaluate(values)


def route_hits(compiled: CompiledPolicy, quote: Quote, env_values: dict[str, Any], hits: Iterable[int], *,
               reasons: bool = True) -> ApprovalPath:
    """route() once the rules whose `when` holds are known (ascending indices into compiled.rules):
    `cpq impact` works them out for two revisions at once, evaluating shared rules once."""
    results = list(compiled._quiet)
    fired: list[tuple[_CompiledRule, tuple[ConditionResult, ...]]] = []
    rules, windowed, traced = compiled.rules, compiled._windowed, compiled._traced
    recorder, fired_heads = compiled._recorder, compiled._fired_heads
    for i in hits:
        cr = rules[i]
        rule = cr.rule
        if windowed[i] and not rule.effective_on(quote.date):
            continue
        conditions: tuple[ConditionResult, ...] = ()
        if reasons:  # the conditions as evaluated, short-circuiting as `and`/`or` do
            recorded: list[ConditionResult] = []
            (traced[i] or recorder(i))(env_values, recorded)
            conditions = tuple(recorded)
        results[i] = _new_tuple(RuleResult, (*fired_heads[i], conditions))
        fired.append((cr, conditions))
    for i in compiled._windowed_indices:  # not effective on the quote's date: never fires
        if not rules[i].rule.effective_on(quote.date):
            results[i] = results[i]._replace(effective=False)
    return _path(compiled, quote, env_values, results, fired)


def _route_explained(compiled: CompiledPolicy, quote: Quote, env_values: dict[str, Any]) -> ApprovalPath:
    """Every condition of every rule evaluated and recorded (the closures, without short-circuits)."""
    trace: list[TraceEntry] = []
    recording = Env(env_values, trace=trace, full=True)
    results: list[RuleResult] = []
    fired: list[tuple[_CompiledRule, tuple[ConditionResult, ...]]] = []
    for cr in compiled.rules:
        rule = cr.rule
        effective = (rule.effective_from is None and rule.effective_until is None) or rule.effective_on(quote.date)
        trace.clear()
        hit = truthy(cr.fn(recording)) and effective
        conditions = _conditions(cr, trace)
        results.append(RuleResult(rule.id, rule.description, rule.chain, rule.step, hit, effective, conditions))
        if hit:
            fired.append((cr, conditions))
    return _path(compiled, quote, env_values, results, fired)


def _path(compiled: CompiledPolicy, quote: Quote, env_values: dict[str, Any], results: list[RuleResult],
          fired: list[tuple[_CompiledRule, tuple[ConditionResult, ...]]]) -> ApprovalPath:
    policy = compiled.policy
    gathered = gather_approvers(compiled, quote, env_values, (
        (cr, describe_reason(conditions) if conditions else "condition met") for cr, conditions in fired))
    chains = _build_chains(compiled, gathered)
    return ApprovalPath(quote.id, policy.content_hash, status_of(gathered), chains, tuple(results),
                        tuple(missing_value_warnings(compiled, env_values)))


def status_of(gathered: Gathered) -> PathStatus:
    """`auto` approvals are recorded but ask nobody."""
    human = any(kind is not ApproverKind.AUTO for steps in gathered.values() for slot in steps.values()
                for kind, _rules, _reasons, _via in slot.values())
    return PathStatus.APPROVAL_REQUIRED if human else PathStatus.NO_APPROVAL_REQUIRED


_new_tuple = tuple.__new__  # a NamedTuple from a tuple of its fields, without its Python-level __new__


def _record_condition(trace: list[ConditionResult], label: tuple[int, str, str, str], tested: Any, against: Any,
                      result: bool) -> bool:
    """What generated code calls for each condition it evaluates of a fired rule."""
    trace.append(_new_tuple(ConditionResult, (*label, tested, against, result)))
    return result


def _conditions(cr: _CompiledRule, trace: list[TraceEntry]) -> tuple[ConditionResult, ...]:
    by_number = cr.conditions
    return tuple(ConditionResult(e.number, (c := by_number[e.number]).source, c.op, c.tested, e.tested, e.against,
                                 e.result) for e in trace)


def missing_value_warnings(compiled: CompiledPolicy, values: dict[str, Any]) -> Iterable[str]:
    """Comparing with null is false, so a missing field can silently skip an approval: say so."""
    absent = {name for name, parts in compiled._tested_paths if (
        values.get(name) if parts is None else _parts_value(values, parts)) is None}
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


# chain -> step -> (approver, merge key) -> (kind, rules, reasons, via), in order of appearance
Gathered = dict[str, dict[int, dict[tuple[str, str | None], tuple[ApproverKind, list[str], list[str], list[str]]]]]


def gather_approvers(compiled: CompiledPolicy, quote: Quote, values: dict[str, Any],
                     fired: Iterable[tuple[_CompiledRule, str]]) -> Gathered:
    """The fired rules' approvers (each rule with its reason, kept as given: routing's words, or
    report.envelope's JSON text of them) by chain and step, merged per approver (and per rule
    when explicit). Raises RoutingError for an approver who resolves to nobody."""
    policy = compiled.policy
    gathered: Gathered = {}
    resolved: dict[str, tuple[str, ApproverKind]] = {}  # references that depend on the quote, once each
    for cr, reason in fired:
        plan = cr.plan
        if plan is None:
            raise AssertionError("a compiled rule without its plan")
        rule_id = plan.rule_id
        steps = gathered.get(plan.chain)
        if steps is None:
            steps = gathered[plan.chain] = {}
        slot = steps.get(plan.step)
        if slot is None:
            slot = steps[plan.step] = {}
        for ref, parsed, static in plan.refs:
            if static is None:
                found = resolved.get(ref)
                if found is None:
                    found = resolved[ref] = resolve_approver(policy, quote, values, cr.rule, parsed)
                approver_id, kind = found
                key = (approver_id, plan.merge)
            else:
                approver_id, kind, key = static
            entry = slot.get(key)
            if entry is None:
                slot[key] = (kind, [rule_id], [reason], [ref] if ref != approver_id else [])
                continue
            if rule_id not in entry[1]:
                entry[1].append(rule_id)
                entry[2].append(reason)
            if ref != approver_id and ref not in entry[3]:
                entry[3].append(ref)
    return gathered


def _build_chains(compiled: CompiledPolicy, gathered: Gathered) -> tuple[ChainPath, ...]:
    chains = []
    orders, groups = compiled._chain_orders, compiled.policy.groups
    for chain_id, steps in gathered.items():
        built_steps = []
        for number in sorted(steps):
            approvers = []
            for (approver_id, _), (kind, rules, reasons, via) in steps[number].items():
                group = groups.get(approver_id) if kind is ApproverKind.GROUP else None
                approvers.append(_new_tuple(Approver, (approver_id, kind, tuple(rules), tuple(reasons), tuple(via),
                                                       group.members if group else (),
                                                       group.require if group else None)))
            built_steps.append(_new_tuple(Step, (number, tuple(approvers))))
        chains.append(_new_tuple(ChainPath, (chain_id, orders[chain_id], tuple(built_steps))))
    return tuple(sorted(chains, key=lambda c: (c.order, c.id)))


def rule_refs(policy: Policy, rule: Rule) -> tuple[ApproverRef, ...]:
    """The rule's approvers as parsed at load (parsed now for a model built without them)."""
    if rule.refs or not rule.approvers:
        return rule.refs
    return tuple(parse_ref(a, policy.users, policy.groups) for a in rule.approvers)


STATIC_KINDS = (RefKind.AUTO, RefKind.GROUP, RefKind.USER)


def static_approvers(policy: Policy) -> dict[str, tuple[str, ApproverKind]]:
    """References that resolve without the quote: auto, groups, users."""
    out: dict[str, tuple[str, ApproverKind]] = {}
    for rule in policy.rules:
        for ref in rule_refs(policy, rule):
            if ref.kind in STATIC_KINDS:
                out[ref.text] = resolve_approver(policy, None, {}, rule, ref)
    return out


def resolve_approver(policy: Policy, quote: Quote | None, values: dict[str, Any], rule: Rule,
                     ref: ApproverRef | str) -> tuple[str, ApproverKind]:
    """A reference (as parsed at load) -> (approver id, kind). Dynamic ones resolve against the quote."""
    if isinstance(ref, str):
        ref = parse_ref(ref, policy.users, policy.groups)
    text = ref.text
    match ref.kind:
        case RefKind.AUTO:
            return AUTO, ApproverKind.AUTO
        case RefKind.GROUP:
            return ref.target, ApproverKind.GROUP
        case RefKind.USER:
            return ref.target, ApproverKind.USER
        case RefKind.FIELD:
            value = _path_value(values, ref.target)
            if not isinstance(value, str) or not value:
                raise RoutingError(f"rule {rule.id}: approver {text!r} resolves to nobody: the quote has no "
                                   f"{ref.target}", hint=f"set {ref.target} on the quote to a user id")
            return _known_user(policy, rule, text, value), ApproverKind.USER
        case RefKind.OWNER:
            assert quote is not None, "an owner reference resolves against a quote"
            current = _known_user(policy, rule, text, quote.owner, what="owner")
            for _ in range(ref.depth):
                manager = policy.users[current].manager
                if manager is None:
                    raise RoutingError(f"rule {rule.id}: approver {text!r} resolves to nobody: "
                                       f"user {current!r} has no manager",
                                       hint=f"add a manager to {current!r} in the policy's users")
                current = _known_user(policy, rule, text, manager)
            return current, ApproverKind.USER
        case RefKind.UNKNOWN:
            raise RoutingError(f"rule {rule.id}: approver {text!r} is not a user, group or dynamic reference",
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


# Decimals shown (and put in JSON) again and again, keyed by their exact text: str() tells
# 1.50 from 1.5, which compare equal but display alike only by chance of the rules below.
_DISPLAYED: dict[str, str] = {}
_JSON_TEXT: dict[str, str] = {}
_CACHE_LIMIT = 20_000


def display_value(value: Any) -> str:
    """A value as people read it: decimals without float noise, at most 2 places when longer."""
    if type(value) is Decimal:
        key = str(value)
        shown = _DISPLAYED.get(key)
        return shown if shown is not None else remember(_DISPLAYED, key, _display_value(value), _CACHE_LIMIT)
    return _display_value(value)


def _display_value(value: Any) -> str:
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
    for _number, source, _op, expr, tested, _against, result in conditions:  # unpacked: no attribute lookups
        if not result:
            continue
        head = _REASON_HEADS.get((source, expr))
        if head is None:
            head = remember(_REASON_HEADS, (source, expr), reason_head(source, expr), _CACHE_LIMIT)
        parts.append(f"{head}{display_value(tested)})")
    return "; ".join(parts) if parts else "condition met"


def reason_head(source: str, expr: str) -> str:
    """What a true condition's reason says before its tested value: `discount_pct > 20 (is `,
    or with the tested expression when it is not a plain name: `a + b > 2 (a + b is `."""
    if expr.replace(".", "").replace("_", "").isalnum() and not expr[0].isdigit():
        return f"{source} (is "
    return f"{source} ({expr} is "


_REASON_HEADS: dict[tuple[str, str], str] = {}


def json_value(value: Any) -> Any:
    """Exact JSON form: decimals as strings (never floats), dates as ISO strings."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is Decimal:
        key = str(value)
        text = _JSON_TEXT.get(key)
        if text is None:
            text = remember(_JSON_TEXT, key, format(value.normalize(EXACT), "f") if value == value.to_integral_value()
                            else format(value, "f"), _CACHE_LIMIT)
        return text
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


