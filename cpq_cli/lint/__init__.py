"""Policy lint: schema findings plus the semantic checks registered in this package."""

from __future__ import annotations

from cpq_cli.diagnostics import Diagnostic
from cpq_cli.lint import expressions, groups, references, rules  # noqa: F401 - registers the checks
from cpq_cli.lint.registry import BUILTIN, CHECKS, Check, LintContext
from cpq_cli.policy.load import PolicySet

__all__ = ["BUILTIN", "CHECKS", "Check", "lint_policy_set"]


def lint_policy_set(pset: PolicySet, *, select: frozenset[str] | None = None) -> list[Diagnostic]:
    """Every finding for a loaded policy set: what reading found, then each check's findings."""
    found = [d for d in pset.problems if select is None or d.rule_id in select]
    # With a file unreadable, its definitions are unknown: reference checks would only cascade.
    incomplete = any(d.rule_id == "parse-error" for d in pset.problems)
    ctx = LintContext(pset)
    for check in CHECKS.values():
        if (select is None or check.id in select) and not (incomplete and check.cross_file):
            found.extend(check.run(ctx))
    return found
