"""Checks on `when:` and `where:` expressions: syntax, forbidden constructs, unknown names."""

from __future__ import annotations

from collections.abc import Iterator

from cpq_cli.diagnostics import Diagnostic, Severity
from cpq_cli.expressions import ExprError, Expression, parse
from cpq_cli.jsonpath import JsonPath
from cpq_cli.lint.references import _did_you_mean
from cpq_cli.lint.registry import LintContext, check
from cpq_cli.names import line_names, quote_names
from cpq_cli.policy.model import Origin


def _expressions(ctx: LintContext) -> Iterator[tuple[str, Origin, JsonPath, str]]:
    """(kind, origin, suffix, source) of every expression: kind is `when` or `where`."""
    for rule in ctx.policy.rules:
        if rule.when:
            yield "when", rule.origin, ("when",), rule.when
    for variable in ctx.policy.variables.values():
        if variable.where:
            yield "where", variable.origin, ("where",), variable.where


def _parsed(ctx: LintContext) -> Iterator[tuple[str, Origin, JsonPath, Expression]]:
    for kind, origin, suffix, source in _expressions(ctx):
        try:
            yield kind, origin, suffix, parse(source)
        except ExprError:
            continue


@check("expr-syntax", Severity.ERROR,
       "An expression does not parse, or uses a construct the language does not allow.", cross_file=False)
def expr_syntax(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    rules:
      - id: r1
        when: "discount_pct >> 10"          # expr-syntax: operator RShift is not allowed
      - id: r2
        when: "__import__('os').system('x')"  # expr-syntax: unknown function '__import__'
    ```
    """
    for _kind, origin, suffix, source in _expressions(ctx):
        try:
            parse(source)
        except ExprError as err:
            yield ctx.expression_finding("expr-syntax", origin, suffix, f"in {suffix[-1]!s}: {err.message}",
                                         err.line, err.column, err.hint)


@check("expr-unknown-name", Severity.ERROR,
       "A `when` expression uses a name that is not a quote field, derived value or variable.")
def expr_unknown_name(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    rules:
      - id: r1
        when: "discount_pc > 10"   # expr-unknown-name: did you mean 'discount_pct'?
    ```
    Custom header fields are reached through `fields.<name>`.
    """
    known = quote_names() | ctx.policy.variables.keys()
    for kind, origin, suffix, expr in _parsed(ctx):
        if kind != "when":
            continue
        for path, line, column in expr.name_positions:
            root = path.split(".", 1)[0]
            if root not in known:
                hint = _did_you_mean(root, known) or "custom header fields are written fields.<name>"
                yield ctx.expression_finding("expr-unknown-name", origin, suffix,
                                             f"unknown name {root!r} in when", line, column, hint)


@check("unknown-line-field", Severity.WARNING,
       "A `where` or a variable's `field` names a line field the quote schema does not define.", cross_file=False)
def unknown_line_field(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    variables:
      hw_max_discount: {function: max, field: discount, where: "familly == 'Hardware'"}
      # unknown-line-field (twice): lines may carry extra fields, so this is a warning
    ```
    """
    known = line_names()
    for kind, origin, suffix, expr in _parsed(ctx):
        if kind != "where":
            continue
        for path, line, column in expr.name_positions:
            root = path.split(".", 1)[0]
            if root not in known:
                yield ctx.expression_finding("unknown-line-field", origin, suffix,
                                             f"{root!r} is not a standard line field", line, column,
                                             _did_you_mean(root, known) or "fine if your quotes carry it")
    for variable in ctx.policy.variables.values():
        if variable.field and variable.field.split(".", 1)[0] not in known:
            yield ctx.finding("unknown-line-field", variable.origin, ("field",),
                              f"field {variable.field!r} of variable {variable.id!r} is not a standard line field",
                              _did_you_mean(variable.field, known) or "fine if your quotes carry it")


@check("variable-shadows-field", Severity.ERROR, "A variable has the name of a quote field or derived value.")
def variable_shadows_field(ctx: LintContext) -> Iterator[Diagnostic]:
    """
    ```yaml
    variables:
      net_total: {function: sum, field: net_total}   # variable-shadows-field: net_total is derived already
    ```
    """
    for variable in ctx.policy.variables.values():
        if variable.id in quote_names():
            yield ctx.finding("variable-shadows-field", variable.origin, (),
                              f"variable {variable.id!r} has the name of a quote field", "rename the variable",
                              key=True)
