"""`cpq preview` through the CLI: tree, JSON envelope, Mermaid, batches and CI gating."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import POLICIES

Q3 = "examples/quotes/Q-1003-every-tier.json"


def test_tree_shows_chains_steps_approvers_and_reasons(run, workdir: Path) -> None:
    result = run("preview", Q3)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "approval required — 10 rules fired" in out
    assert "chain discount (order 1, in parallel with legal)" in out
    assert "alice (as owner.manager)" in out
    assert "discount-manager: discount_pct > 10 (is 34.92)" in out
    assert "exec-committee (group: min 2 of carmen, frank, victor)" in out
    assert "EUR 2,993,600.00 net" in out


def test_explain_lists_every_condition_including_rules_that_did_not_fire(run, workdir: Path) -> None:
    result = run("preview", "--explain", "examples/quotes/Q-1001-standard.json")
    assert result.exit_code == 0
    assert "no approval required" in result.stdout
    assert "✗ discount-manager did not fire" in result.stdout
    assert "✗ discount_pct > 10  discount_pct = 4.7" in result.stdout


def test_json_envelope(run, workdir: Path) -> None:
    result = run("preview", "--format", "json", Q3)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["version"] == 1
    assert set(data) == {"version", "quote", "policy", "status", "chains", "rules", "warnings"}
    assert data["status"] == "approval_required"
    assert data["quote"]["net_total"] == "2993600.00"
    discount = data["chains"][0]
    assert discount["id"] == "discount" and discount["parallel_with"] == ["legal"]
    assert discount["steps"][0]["approvers"][0] == {
        "id": "alice", "kind": "user", "rules": ["discount-manager"],
        "reasons": ["discount_pct > 10 (is 34.92)"], "via": ["owner.manager"]}
    fired = [r for r in data["rules"] if r["fired"]]
    assert all(r["conditions"] for r in fired)
    assert all(isinstance(c["tested"], (str, type(None), bool, list)) for r in fired for c in r["conditions"])


def _mermaid_graph(out: str) -> tuple[dict[tuple[str, int], str], set[tuple[str, str]], list[str]]:
    """(chain, step) -> node id, the edges, and every declared node id, read from the flowchart."""
    import re

    steps: dict[tuple[str, int], str] = {}
    declared: list[str] = []
    edges = set()
    chain = ""
    for line in out.splitlines():
        if m := re.match(r'\s*subgraph (\w+) \["(.+?) · order', line):
            declared.append(m.group(1))
            chain = m.group(2)
        elif m := re.match(r'\s*(\w+)\["step (\d+)<br/>', line):
            declared.append(m.group(1))
            steps[(chain, int(m.group(2)))] = m.group(1)
        elif m := re.match(r"\s*(\w+) --> (\w+)$", line):
            edges.add((m.group(1), m.group(2)))
    return steps, edges, declared


def test_mermaid_is_a_flowchart_with_every_step(run, workdir: Path) -> None:
    result = run("preview", "--format", "mermaid", Q3)
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("flowchart LR\n")
    steps, edges, declared = _mermaid_graph(out)
    for key in (("discount", 1), ("discount", 3), ("legal", 2), ("finance", 2), ("executive", 1)):
        assert key in steps
    assert (steps[("discount", 3)], steps[("finance", 1)]) in edges
    assert (steps[("legal", 2)], steps[("finance", 1)]) in edges
    assert (steps[("executive", 1)], "approved") in edges
    assert len(declared) == len(set(declared))


def test_mermaid_node_ids_never_collide(run, workdir: Path) -> None:
    import yaml

    extra = {"chains": {"legal_1": {"order": 1}, "fast-track": {"order": 2}, "fast_track": {"order": 2}},
             "rules": [{"id": f"r-{name}", "when": "net_total > 0", "approvers": ["frank"], "chain": name, "step": 1}
                       for name in ("legal_1", "fast-track", "fast_track")]
             + [{"id": "r-legal", "when": "net_total > 0", "approvers": ["lee"], "chain": "legal", "step": 1}]}
    (workdir / "policies" / "clash.yaml").write_text(yaml.safe_dump(extra))
    out = run("preview", "--format", "mermaid", Q3).stdout
    steps, _, declared = _mermaid_graph(out)
    assert len(declared) == len(set(declared)), declared
    assert {("legal", 1), ("legal_1", 1), ("fast-track", 1), ("fast_track", 1)} <= set(steps)
    assert len({steps[k] for k in (("legal", 1), ("legal_1", 1), ("fast-track", 1), ("fast_track", 1))}) == 4


def test_batch_prints_a_table_and_a_summary(run, workdir: Path) -> None:
    result = run("preview", "examples/quotes")
    assert result.exit_code == 0
    for quote_id in ("Q-1001", "Q-1003", "Q-1007"):
        assert quote_id in result.stdout
    assert "7 quotes: 5 need approval, 2 need none, 0 errors" in result.stderr


def test_batch_json_is_one_envelope_per_line(run, workdir: Path) -> None:
    result = run("preview", "--format", "json", "examples/quotes/*.json")
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 7
    assert [json.loads(line)["quote"]["id"] for line in lines] == [f"Q-100{i}" for i in range(1, 8)]


def test_fail_on_approval_required_gates_ci(run, workdir: Path) -> None:
    assert run("preview", "--fail-on", "approval_required", "examples/quotes/Q-1001-standard.json").exit_code == 0
    assert run("preview", "--fail-on", "approval_required", Q3).exit_code == 1


def test_invalid_quote_is_one_line_and_exit_1(run, workdir: Path) -> None:
    bad = workdir / "bad.json"
    bad.write_text('{"id": "Q-9", "lines": [}')
    result = run("preview", "bad.json")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith("cpq: error: bad.json:1:")
    assert "Traceback" not in result.stderr


def test_routing_error_names_the_rule(run, workdir: Path) -> None:
    data = json.loads((workdir / "examples/quotes/Q-1002-manager-discount.json").read_text())
    data["owner"] = "ghost"
    (workdir / "ghost.json").write_text(json.dumps(data))
    result = run("preview", "ghost.json")
    assert result.exit_code == 1
    assert "rule discount-manager" in result.stderr and "'ghost'" in result.stderr


def test_missing_values_are_warned_about(run, workdir: Path) -> None:
    result = run("preview", "examples/quotes/Q-1006-thin-margin.json")
    assert "warning: Q-1006: rule multi-year: `term_months > 36` tests term_months" in result.stderr


def test_a_policy_with_errors_is_refused_with_a_pointer_to_lint(run, workdir: Path) -> None:
    target = workdir / "policies" / "terms.toml"
    target.write_text(target.read_text().replace('approvers = ["frank"]', 'approvers = ["frnk"]'))
    result = run("preview", Q3)
    assert result.exit_code == 1
    assert "policy set has errors: policies/terms.toml:" in result.stderr
    assert "cpq lint" in result.stderr


def test_previews_match_the_shipped_policy_tests(run, workdir: Path) -> None:
    """Every example-quote case without changes agrees with what `cpq preview` shows."""
    cases = yaml.safe_load((POLICIES / "tests" / "examples.test.yaml").read_text())["tests"]
    checked = 0
    for case in cases:
        if "set" in case or "patch" in case:
            continue
        quote = (POLICIES / "tests" / case["quote"]).resolve().relative_to(POLICIES.parent)
        data = json.loads(run("preview", "--format", "json", str(quote)).stdout)
        expect = case["expect"]
        if "status" in expect:
            assert data["status"] == expect["status"], case["name"]
        fired = sorted(r["id"] for r in data["rules"] if r["fired"])
        if "rules" in expect:
            assert fired == sorted(expect["rules"]), case["name"]
        if "steps" in expect:
            actual = {c["id"]: {s["step"]: sorted(a["id"] for a in s["approvers"]) for s in c["steps"]}
                      for c in data["chains"]}
            wanted = {k: {int(n): sorted(v) for n, v in steps.items()} for k, steps in expect["steps"].items()}
            assert actual == wanted, case["name"]
        checked += 1
    assert checked >= 6


def test_cache_makes_the_second_run_skip_parsing(run, workdir: Path, monkeypatch) -> None:
    import cpq_cli.policy.load as load

    assert run("preview", Q3).exit_code == 0
    calls = []
    monkeypatch.setattr(load, "load_policy_set", lambda *a, **k: calls.append(a))
    assert run("preview", Q3).exit_code == 0
    assert calls == []
    # An edit changes the content hash: the policy is read again.
    target = workdir / "policies" / "terms.toml"
    target.write_text(target.read_text() + "\n# edited\n")
    monkeypatch.undo()
    assert run("preview", Q3).exit_code == 0


def test_plain_and_rich_trees_render_the_same_text(workdir: Path) -> None:
    import io

    from rich.console import Console

    from cpq_cli.quote import load_quote
    from cpq_cli.report.path_text import path_tree
    from cpq_cli.report.tree import render_plain, to_rich
    from cpq_cli.routing import compile_policy, route
    from cpq_cli.services.policy import load_policy

    compiled = compile_policy(load_policy(workdir / "policies"))
    for quote_file in sorted((workdir / "examples" / "quotes").glob("*.json")):
        quote = load_quote(quote_file)
        tree = path_tree(route(compiled, quote, explain=True), quote, quote_file.name, explain=True)
        buffer = io.StringIO()
        Console(file=buffer, no_color=True, width=4000, force_terminal=False).print(to_rich(tree))
        assert buffer.getvalue() == render_plain(tree)


def test_parallel_batches_match_sequential_output(run, workdir: Path) -> None:
    from cpq_cli.preview import PARALLEL_MIN

    batch = workdir / "batch"
    batch.mkdir()
    examples = sorted((workdir / "examples" / "quotes").glob("*.json"))
    for i in range(PARALLEL_MIN + 10):
        data = json.loads(examples[i % len(examples)].read_text())
        data["id"] = f"Q-{i:04d}"
        (batch / f"Q-{i:04d}.json").write_text(json.dumps(data))
    (batch / "Q-0100.json").write_text("{broken")
    sequential = run("preview", "--format", "json", "--jobs", "1", "batch")
    parallel = run("preview", "--format", "json", "--jobs", "2", "batch")
    assert sequential.exit_code == parallel.exit_code == 1  # the broken file
    assert parallel.stdout == sequential.stdout
    assert len(parallel.stdout.splitlines()) == PARALLEL_MIN + 10
    assert parallel.stderr == sequential.stderr


def test_a_directory_s_quote_files_are_found_as_rglob_finds_them(tmp_path: Path, monkeypatch: Any) -> None:
    """Every *.json file below, in Path order (`a/` before `a-b/`), links to files included and
    links to folders not followed, each file once however often it is named."""
    import os

    from cpq_cli.preview import expand_quote_args

    top = tmp_path / "quotes"
    for rel in ["b.json", "a.json", "A.json", ".hidden.json", "x.JSON", "notes.txt", "a/z.json", "a/b/c.json",
                "a-b/x.json", "a.b/y.json", "é/q.json", "deep/1/2/3/4.json"]:
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text("{}")
    (top / "folder.json").mkdir()
    (top / "folder.json" / "inside.json").write_text("{}")
    os.symlink(top / "a", top / "linked-folder")
    os.symlink(top / "b.json", top / "link.json")
    os.symlink(top / "missing.json", top / "broken.json")
    os.symlink(top / "loop.json", top / "loop.json")  # a link to itself: ELOOP, not a file
    os.symlink(top / "b.json" / "child", top / "through-a-file.json")  # ENOTDIR
    expected = sorted(p for p in top.rglob("*.json") if p.is_file())
    assert expand_quote_args([str(top)]) == expected
    assert top / "link.json" in expected and not any("linked-folder" in str(p) for p in expected)
    assert expand_quote_args([str(top), str(top / "a" / "z.json"), str(top) + "/"]) == expected
    monkeypatch.chdir(tmp_path)
    assert expand_quote_args(["quotes", "quotes/a.json"]) == sorted(p for p in Path("quotes").rglob("*.json")
                                                                     if p.is_file())
