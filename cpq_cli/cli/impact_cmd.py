"""`cpq impact`: which quotes a policy change re-routes, and how."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from cpq_cli.cli.options import JOURNAL, POLICIES

IMPACT_HELP = """\
Show how a policy change re-routes quotes, before it is merged.

The policy set at --base (and --head, default: the working tree) is read straight from git;
nothing in the working tree changes. Every quote of the corpus — files (--quotes, default:
the `quotes` setting, else quotes/ or examples/quotes/) or every quote in the journal
(--journal-quotes) — is routed under both, and each quote whose route changes is listed with
its status change, the approvers added and removed per chain step and the rules responsible,
after a semantic diff of the policy sets.

--format markdown is ready to paste into a pull-request comment.
Exit codes: 0 done (1 with --fail-on-change when any route changed), 2 usage or git error.
"""


class ImpactFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def register(app: typer.Typer) -> None:
    app.command("impact", help=IMPACT_HELP)(impact)


def _default_corpus() -> list[str]:
    from cpq_cli.config import load_config

    config = load_config()
    configured = config.sections.get("impact", {}).get("quotes") if config.sections.get("impact") else None
    for candidate in ([configured] if configured else []) + ["quotes", "examples/quotes"]:
        path = config.root / str(candidate)
        if path.exists():
            return [str(path)]
    from cpq_cli.errors import ConfigError

    raise ConfigError("no quotes to evaluate", hint="pass --quotes GLOB or --journal-quotes")


def impact(
    base: str = typer.Option(..., "--base", help="The git revision to compare with, e.g. origin/main or HEAD~1."),
    head: str = typer.Option(None, "--head", help="The revision to evaluate (default: the working tree).",
                             show_default=False),
    quotes: list[str] = typer.Option(None, "--quotes", help="Quote files, directories or globs.",
                                     show_default=False),
    journal_quotes: bool = typer.Option(False, "--journal-quotes",
                                        help="Evaluate every quote in the journal (its latest submitted content)."),
    fmt: ImpactFormat = typer.Option(ImpactFormat.text, "--format", "-f", help="text, json or markdown."),
    fail_on_change: bool = typer.Option(False, "--fail-on-change", help="Exit 1 when any route changed."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0: one per CPU core).",
                             show_default=False),
    journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    from cpq_cli import impact as imp
    from cpq_cli.config import resolve_policy_dir
    from cpq_cli.parallel import default_jobs
    from cpq_cli.services.policy import compiled_policy

    policy_dir = resolve_policy_dir(policies)
    with imp.scratch_dir() as scratch:
        base_policy = imp.load_at(base, policy_dir, Path(scratch))
        head_policy = imp.load_at(head, policy_dir, Path(scratch))
    base_compiled, head_compiled = compiled_policy(base_policy), compiled_policy(head_policy)
    items: list[Any]
    loader: Any
    if journal_quotes:
        from cpq_cli.journal.db import open_journal, resolve_journal

        conn = open_journal(resolve_journal(journal), readonly=True)
        try:
            items = imp.corpus_from_journal(conn)
        finally:
            conn.close()
        loader = imp.load_data
    else:
        items = imp.corpus_from_files(quotes or _default_corpus())
        loader = imp.load_file
    evaluated, changes = imp.evaluate(base_compiled, head_compiled, items, jobs or default_jobs(), loader)
    report: dict[str, Any] = {"version": 1, "base": base, "head": head or imp.WORKING_TREE,
              "policy_diff": imp.policy_diff(base_policy, head_policy), "changes": changes,
              "summary": imp.summary(evaluated, changes)}
    if fmt is ImpactFormat.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    elif fmt is ImpactFormat.markdown:
        sys.stdout.write(_markdown(report))
    else:
        sys.stdout.write(_text(report))
    s = report["summary"]
    print(f"{s['evaluated']} quotes evaluated: {s['changed']} changed route, {s['newly_blocked']} newly need "
          f"approval, {s['newly_free']} newly need none", file=sys.stderr)
    if fail_on_change and s["changed"]:
        raise typer.Exit(1)


def _approver_line(sign: str, entry: dict[str, Any]) -> str:
    return f"{sign} {entry['chain']} step {entry['step']}: {entry['approver']} ({', '.join(entry['rules'])})"


def _moved(status: dict[str, str], arrow: str) -> str:
    return f"{status['base']} {arrow} {status['head']}" if status["base"] != status["head"] else status["head"]


def _diff_lines(diff: dict[str, Any]) -> list[str]:
    lines = []
    for kind, entry in diff.items():
        singular = kind.rstrip("s")
        lines += [f"{singular} {name} added" for name in entry["added"]]
        lines += [f"{singular} {name} removed" for name in entry["removed"]]
        for name, fields in entry["changed"].items():
            for field, values in fields.items():
                lines.append(f"{singular} {name}: {field} {json.dumps(values['base'])} -> {json.dumps(values['head'])}")
    return lines


def _text(report: dict[str, Any]) -> str:
    out = [f"policy changes ({report['base']} -> {report['head']}):"]
    out += [f"  {line}" for line in _diff_lines(report["policy_diff"])] or ["  none"]
    out.append("route changes:")
    for change in report["changes"]:
        if "invalid" in change:
            out.append(f"  {change['quote']}  not evaluated: {change['invalid']}")
            continue
        out.append(f"  {change['quote']}  {_moved(change['status'], '->')}  ({change['file']})")
        out += [f"    {_approver_line('+', a)}" for a in change["approvers"]["added"]]
        out += [f"    {_approver_line('-', a)}" for a in change["approvers"]["removed"]]
        for error in filter(None, change["errors"].values()):
            out.append(f"    error: {error}")
    if not report["changes"]:
        out.append("  none")
    return "\n".join(out) + "\n"


def _markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    out = [f"### cpq impact: `{report['base']}` → `{report['head']}`", "",
           f"**{s['changed']}** of {s['evaluated']} quotes change route "
           f"({s['newly_blocked']} newly need approval, {s['newly_free']} newly need none).", ""]
    diff = _diff_lines(report["policy_diff"])
    if diff:
        out += ["<details><summary>Policy changes</summary>", "", *[f"- `{line}`" for line in diff], "",
                "</details>", ""]
    if report["changes"]:
        out += ["| quote | status | approvers added | approvers removed |", "|---|---|---|---|"]
        for c in report["changes"]:
            if "invalid" in c:
                out.append(f"| {c['quote']} | not evaluated | | |")
                continue
            moved = _moved(c["status"], "→")
            added = "<br>".join(_approver_line("+", a)[2:] for a in c["approvers"]["added"])
            removed = "<br>".join(_approver_line("-", a)[2:] for a in c["approvers"]["removed"])
            out.append(f"| {c['quote']} | {moved} | {added} | {removed} |")
    return "\n".join(out) + "\n"
