"""`cpq impact`: how a policy change re-routes real quotes, before it is merged.

The policy set at a git revision is read straight from git (`git ls-tree` + `git show` into a
temporary directory): the working tree, the index and HEAD are never touched. Every quote of
the corpus is routed under both policy sets and the differences are reported per chain step,
with the rules responsible, beside a semantic diff of the policy sets themselves.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from cpq_cli.errors import ConfigError, InputError
from cpq_cli.i18n import english
from cpq_cli.policy.model import Policy
from cpq_cli.quote import Quote, load_quote, parse_quote
from cpq_cli.routing import CompiledPolicy, quote_env_values, route, route_hits, rule_hits, rules_evaluator

WORKING_TREE = "working tree"


def _git(args: list[str], cwd: Path) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=60, check=False)
    except OSError:
        raise ConfigError("git is not available", hint="cpq impact reads earlier policy sets from git") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise ConfigError(f"git {' '.join(args[:2])}: {message[-1] if message else 'failed'}")
    return done.stdout


def policy_at(rev: str, policy_dir: Path, into: Path) -> Path:
    """Write the policy directory as it is at `rev` into `into`; returns the copy's directory."""
    root = Path(_git(["rev-parse", "--show-toplevel"], policy_dir).decode().strip())
    try:
        rel = policy_dir.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ConfigError(f"{policy_dir} is not inside the git repository at {root}") from None
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root)
    except ConfigError:
        raise ConfigError(f"git cannot find revision {rev!r}",
                          hint="fetch it first, e.g. git fetch origin main") from None
    names = _git(["ls-tree", "-r", "--name-only", "-z", rev, "--", rel], root).decode().split("\0")
    target = into / "policies"
    target.mkdir(parents=True)
    for name in filter(None, names):
        relative = Path(name).relative_to(rel) if rel != "." else Path(name)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(_git(["show", f"{rev}:{name}"], root))
    return target


def load_at(rev: str | None, policy_dir: Path, scratch: Path) -> Policy:
    from cpq_cli.errors import PolicyError
    from cpq_cli.services.policy import load_policy

    if rev is None:
        return load_policy(policy_dir)
    copy = policy_at(rev, policy_dir, scratch / rev.replace("/", "_").replace("~", "-").replace("^", "-"))
    try:
        return load_policy(copy, use_cache=False)
    except PolicyError as exc:
        raise PolicyError(f"the policy set at {rev} does not load: {exc.message}") from None


# ------------------------------------------------------------------------------------- corpus


def corpus_from_files(patterns: Iterable[str]) -> list[Path]:
    from cpq_cli.preview import expand_quote_args

    return expand_quote_args(list(patterns))


def corpus_from_journal(conn: Any) -> list[dict[str, Any]]:
    """The latest submitted content of every quote in the journal."""
    from cpq_cli.journal.approvals import newest_submissions

    return [s.quote_data for s in newest_submissions(conn)]


# ------------------------------------------------------------------------------------ routing


class Route(NamedTuple):
    status: str
    fired: tuple[str, ...]
    steps: dict[str, dict[int, dict[str, tuple[str, ...]]]]  # chain -> step -> approver -> rules
    error: str | None = None


def summarise(compiled: CompiledPolicy, quote: Quote, values: dict[str, Any] | None = None,
              hits: list[int] | None = None) -> Route:
    """The route in brief; `values` and `hits` (see routing.route_hits) when already worked out."""
    try:
        if hits is None:
            path = route(compiled, quote, reasons=False, values=values)
        else:
            assert values is not None
            path = route_hits(compiled, quote, values, hits, reasons=False)
    except InputError as exc:
        return Route("error", (), {}, english(exc.message))
    steps: dict[str, dict[int, dict[str, tuple[str, ...]]]] = {}
    for chain in path.chains:
        for step in chain.steps:
            steps.setdefault(chain.id, {})[step.number] = {a.id: a.rules for a in step.approvers}
    return Route(path.status.value, path.fired, steps)


def compare(quote_id: str, source: str, base: Route, head: Route) -> dict[str, Any] | None:
    """What changed for one quote, or None."""
    if base == head:
        return None
    added, removed = [], []
    for chain in sorted(base.steps.keys() | head.steps.keys()):
        b, h = base.steps.get(chain, {}), head.steps.get(chain, {})
        for step in sorted(b.keys() | h.keys()):
            before, after = b.get(step, {}), h.get(step, {})
            for approver in sorted(after.keys() - before.keys()):
                added.append({"chain": chain, "step": step, "approver": approver, "rules": list(after[approver])})
            for approver in sorted(before.keys() - after.keys()):
                removed.append({"chain": chain, "step": step, "approver": approver, "rules": list(before[approver])})
    return {
        "quote": quote_id, "file": source,
        "status": {"base": base.status, "head": head.status},
        "rules_fired": {"added": sorted(set(head.fired) - set(base.fired)),
                        "removed": sorted(set(base.fired) - set(head.fired))},
        "approvers": {"added": added, "removed": removed},
        "errors": {"base": base.error, "head": head.error},
    }


def evaluate(base: CompiledPolicy, head: CompiledPolicy, items: list[Any], jobs: int,
             loader: Callable[[Any], tuple[str, str, Quote | None, str | None]]) -> tuple[int, list[dict[str, Any]]]:
    """(quotes evaluated, changes). `loader(item)` -> (quote id, source, quote or None, error)."""
    from cpq_cli.parallel import fork_map
    from cpq_cli.preview import PARALLEL_MIN
    from cpq_cli.quote import expect_many

    if len(items) >= PARALLEL_MIN:
        expect_many()  # before forking: the workers inherit it
    shared = Shared(base, head)

    def one(item: Any) -> dict[str, Any] | None:
        quote_id, source, quote, error = loader(item)
        if quote is None:
            return {"quote": quote_id, "file": source, "invalid": error}
        return compare(quote_id, source, *shared.summarise(quote))

    changes = [c for c in fork_map(one, items, jobs, min_items=PARALLEL_MIN) if c is not None]
    return len(items), changes


def _variable_definitions(compiled: CompiledPolicy) -> dict[str, tuple[Any, ...]]:
    return {v.id: (v.function, v.field, v.where) for v in compiled.policy.variables.values()}


class Shared:
    """What two revisions have in common, worked out once so that each quote is routed under both
    without doing the same work twice: the variables, when both define them alike, are computed
    once; a rule with the same id and `when` in both, using no variable that changed, is evaluated
    once (under the base) and only the other rules of the head are evaluated again."""

    def __init__(self, base: CompiledPolicy, head: CompiledPolicy) -> None:
        self.base, self.head = base, head
        before, after = _variable_definitions(base), _variable_definitions(head)
        # Same definitions in the same order: the head's variables are the base's, value for value.
        self.same_variables = list(before.items()) == list(after.items())
        changed_variables = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
        in_base = {cr.rule.id: (i, cr.rule.when) for i, cr in enumerate(base.rules)}
        self.from_base: dict[int, int] = {}  # base index -> head index of a rule evaluated once
        changed = []
        for j, cr in enumerate(head.rules):
            found = in_base.get(cr.rule.id)
            if found is not None and found[1] == cr.rule.when and not (cr.expr.roots & changed_variables):
                self.from_base[found[0]] = j
            else:
                changed.append(j)
        self.changed = rules_evaluator(head, changed) if changed else None

    def summarise(self, quote: Quote) -> tuple[Route, Route]:
        base, head = self.base, self.head
        values = quote_env_values(base, quote)
        head_values = values if self.same_variables else quote_env_values(head, quote)
        hits = rule_hits(base, values)
        from_base = self.from_base
        head_hits = [from_base[i] for i in hits if i in from_base]
        if self.changed is not None:
            head_hits = sorted(head_hits + self.changed(head_values))
        return summarise(base, quote, values, hits), summarise(head, quote, head_values, head_hits)


def load_file(path: Path) -> tuple[str, str, Quote | None, str | None]:
    from cpq_cli.paths import display_path

    try:
        quote = load_quote(path)
    except InputError as exc:
        return path.stem, display_path(path), None, str(exc)
    return quote.id, display_path(path), quote, None


def load_data(data: dict[str, Any]) -> tuple[str, str, Quote | None, str | None]:
    try:
        quote = parse_quote(data, "journal")
    except InputError as exc:
        return str(data.get("id")), "journal", None, str(exc)
    return quote.id, "journal", quote, None


def summary(evaluated: int, changes: list[dict[str, Any]]) -> dict[str, int]:
    routed = [c for c in changes if "invalid" not in c]
    return {
        "evaluated": evaluated,
        "changed": len(routed),
        "newly_blocked": sum(1 for c in routed if c["status"]["base"] == "no_approval_required"
                             and c["status"]["head"] != "no_approval_required"),
        "newly_free": sum(1 for c in routed if c["status"]["base"] != "no_approval_required"
                          and c["status"]["head"] == "no_approval_required"),
        "invalid": len(changes) - len(routed),
    }


# -------------------------------------------------------------------------------- policy diff


# Not the author's fields: where a definition was read, and what cpq parsed from its fields.
_DERIVED = frozenset({"origin", "refs"})


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items() if k not in _DERIVED}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def policy_diff(base: Policy, head: Policy) -> dict[str, Any]:
    """Added, removed and changed definitions (field by field) between two policy sets."""
    out: dict[str, Any] = {}
    for kind, b, h in (("rules", {r.id: r for r in base.rules}, {r.id: r for r in head.rules}),
                       ("users", base.users, head.users), ("groups", base.groups, head.groups),
                       ("chains", base.chains, head.chains), ("variables", base.variables, head.variables)):
        changed = {}
        for key in sorted(b.keys() & h.keys()):
            before, after = _plain(b[key]), _plain(h[key])
            fields = {f: {"base": before[f], "head": after[f]} for f in before if before[f] != after.get(f)}
            if fields:
                changed[key] = fields
        entry = {"added": sorted(h.keys() - b.keys()), "removed": sorted(b.keys() - h.keys()), "changed": changed}
        if entry["added"] or entry["removed"] or entry["changed"]:
            out[kind] = entry
    return out


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="cpq-impact-")
