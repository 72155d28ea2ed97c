"""Declarative policy tests (`*.test.yaml`): a quote, optional changes, the path it must get.

```yaml
tests:
  - name: 15% needs the rep's manager
    quote: ../../examples/quotes/Q-1002-manager-discount.json
    set: {"lines[*].discount_pct": 15}
    expect:
      status: approval_required
      rules: [discount-manager]
      steps: {discount: {1: [alice]}}
```
"""

from __future__ import annotations

import copy
import fnmatch
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpq_cli.errors import InputError
from cpq_cli.paths import display_path
from cpq_cli.quote import parse_quote
from cpq_cli.routing import ApprovalPath, CompiledPolicy, route
from cpq_cli.sources import ParseFailure, load_document

TEST_GLOBS = ("*.test.yaml", "*.test.yml")


@dataclass(frozen=True)
class CaseOutcome:
    file: str
    name: str
    passed: bool
    expected: dict[str, Any]
    actual: dict[str, Any]
    failures: tuple[str, ...]
    error: str | None  # the test itself could not run (bad file, bad quote)
    seconds: float


def discover_test_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            for pattern in TEST_GLOBS:
                found.extend(p for p in path.rglob(pattern)
                             if not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            raise InputError(f"{display_path(path)} does not exist")
    return sorted(set(found))


def run_tests(compiled: CompiledPolicy, files: list[Path], pattern: str | None = None) -> list[CaseOutcome]:
    outcomes: list[CaseOutcome] = []
    for file in files:
        outcomes.extend(_run_file(compiled, file, pattern))
    return outcomes


def _matches(name: str, pattern: str | None) -> bool:
    if not pattern:
        return True
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatch(name.lower(), pattern.lower())
    return pattern.lower() in name.lower()


def _run_file(compiled: CompiledPolicy, file: Path, pattern: str | None) -> Iterator[CaseOutcome]:
    from cpq_cli import schemas

    shown = display_path(file)
    try:
        doc = load_document(file, "yaml")
    except ParseFailure as failure:
        d = failure.diagnostic
        yield CaseOutcome(shown, "(file)", False, {}, {}, (), f"{d.file}:{d.line or 0}: {d.message}", 0.0)
        return
    problems = schemas.validate(doc, "policy-test")
    if problems:
        d = problems[0]
        yield CaseOutcome(shown, "(file)", False, {}, {}, (), f"{d.file}:{d.line or 0}: {d.message}", 0.0)
        return
    for case in doc.data["tests"]:
        if _matches(case["name"], pattern):
            yield _run_case(compiled, file, shown, case)


def _run_case(compiled: CompiledPolicy, file: Path, shown: str, case: dict[str, Any]) -> CaseOutcome:
    started = time.perf_counter()
    expected = _normalise_expected(case["expect"])
    name = case["name"]
    quote_path = (file.parent / case["quote"]).resolve()
    try:
        doc = load_document(quote_path, "json")
        data = copy.deepcopy(doc.data)
        if "patch" in case:
            data = merge_patch(data, case["patch"])
        for key, value in (case.get("set") or {}).items():
            set_path(data, key, value)
        quote = parse_quote(data, display_path(quote_path), doc if data == doc.data else None)
    except ParseFailure as failure:
        return CaseOutcome(shown, name, False, expected, {}, (), failure.diagnostic.message,
                           time.perf_counter() - started)
    except InputError as exc:
        return CaseOutcome(shown, name, False, expected, {}, (), str(exc), time.perf_counter() - started)
    try:
        actual = actual_of(route(compiled, quote))
    except InputError as exc:
        actual = {"status": "error", "error": str(exc), "rules": [], "steps": {}}
    failures = tuple(compare(expected, actual))
    return CaseOutcome(shown, name, not failures, expected, actual, failures, None, time.perf_counter() - started)


def actual_of(path: ApprovalPath) -> dict[str, Any]:
    return {
        "status": path.status.value,
        "rules": sorted(path.fired),
        "steps": {c.id: {s.number: sorted(a.id for a in s.approvers) for s in c.steps} for c in path.chains},
    }


def _normalise_expected(expect: dict[str, Any]) -> dict[str, Any]:
    out = dict(expect)
    if "rules" in out:
        out["rules"] = sorted(out["rules"])
    if "steps" in out:
        out["steps"] = {chain: {int(n): sorted(ids) for n, ids in steps.items()}
                        for chain, steps in out["steps"].items()}
    return out


def compare(expected: dict[str, Any], actual: dict[str, Any]) -> Iterator[str]:
    """What differs, one line each; only the keys the test states are compared."""
    if "status" in expected and expected["status"] != actual["status"]:
        yield f"status: expected {expected['status']}, got {actual['status']}" + (
            f" ({actual['error']})" if actual.get("error") else "")
    if "error" in expected and expected["error"] not in actual.get("error", ""):
        yield f"error: expected a message containing {expected['error']!r}, got {actual.get('error', 'none')!r}"
    if "rules" in expected and expected["rules"] != actual["rules"]:
        missing = sorted(set(expected["rules"]) - set(actual["rules"]))
        extra = sorted(set(actual["rules"]) - set(expected["rules"]))
        parts = ([f"did not fire: {', '.join(missing)}"] if missing else []) + (
            [f"fired unexpectedly: {', '.join(extra)}"] if extra else [])
        yield "rules: " + "; ".join(parts)
    if "steps" in expected:
        exp, act = expected["steps"], actual["steps"]
        for chain in sorted(exp.keys() | act.keys()):
            if chain not in act:
                yield f"steps: chain {chain} expected but not on the path"
                continue
            if chain not in exp:
                yield f"steps: chain {chain} is on the path but not expected"
                continue
            for number in sorted(exp[chain].keys() | act[chain].keys()):
                want, got = exp[chain].get(number), act[chain].get(number)
                if want != got:
                    yield (f"steps: {chain} step {number}: expected {', '.join(want) if want else 'nothing'}, "
                           f"got {', '.join(got) if got else 'nothing'}")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


_STEP = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)((?:\[(?:\d+|\*)\])*)$")


def set_path(data: Any, path: str, value: Any) -> None:
    """Set `a.b`, `lines[0].x` or every line's field with `lines[*].x`; raises InputError if absent."""
    parts: list[str | int] = []
    for piece in path.split("."):
        m = _STEP.match(piece)
        if not m:
            raise InputError(f"cannot read the path {path!r} in `set`",
                             hint="use names, [index] or [*]: lines[0].discount_pct")
        parts.append(m.group(1))
        parts.extend(int(i) if i != "*" else "*" for i in re.findall(r"\[(\d+|\*)\]", m.group(2)))
    _set(data, parts, value, path)


def _set(node: Any, parts: list[str | int], value: Any, full: str) -> None:
    head, rest = parts[0], parts[1:]
    if head == "*":
        if not isinstance(node, list):
            raise InputError(f"`set` path {full!r}: [*] applies to a list")
        for item in node:
            if rest:
                _set(item, rest, value, full)
        return
    if isinstance(head, int):
        if not isinstance(node, list) or head >= len(node):
            raise InputError(f"`set` path {full!r}: no item {head}")
        if rest:
            _set(node[head], rest, value, full)
        else:
            node[head] = copy.deepcopy(value)
        return
    if not isinstance(node, dict):
        raise InputError(f"`set` path {full!r}: {head!r} is not inside an object")
    if rest:
        if head not in node:
            node[head] = [] if isinstance(rest[0], int) else {}
        _set(node[head], rest, value, full)
    else:
        node[head] = copy.deepcopy(value)
