"""Every command's `--format json` is its documented result record: validated against the JSON
Schema derived from the record (the same records docs/outputs.md is generated from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cpq_cli import docgen
from cpq_cli.services.results import schema_of

NOW = {"CPQ_NOW": "2026-11-24T09:00:00Z"}
ORDER_COMMANDS = {c for c in docgen.OUTPUTS if c.split()[1] in ("order", "split", "orders", "contract", "entitlements",
                                                                 "revenue", "renew")}


def _json(run: Any, *args: str, code: int = 0) -> dict[str, Any]:
    result = run(*args, env=NOW)
    assert result.exit_code == code, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def _check(command: str, data: dict[str, Any], seen: set[str]) -> None:
    schema = schema_of(docgen.output_record(command))
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=str)
    assert not errors, f"{command}: {errors[0].message} at {list(errors[0].absolute_path)}"
    seen.add(command)


def test_every_command_prints_its_documented_record(run: Any, workdir: Path, team_key: Path) -> None:
    seen: set[str] = set()
    q4 = "examples/quotes/Q-1004-multi-site.json"
    _check("cpq submit", _json(run, "submit", q4, "--as", "rita", "--format", "json"), seen)
    _check("cpq status", _json(run, "status", "Q-1004", "--format", "json"), seen)
    _check("cpq inbox", _json(run, "inbox", "--as", "alice", "--format", "json"), seen)
    _check("cpq delegate", _json(run, "delegate", "--as", "alice", "--to", "carol", "--from", "2026-11-20",
                                 "--until", "2026-11-30", "--format", "json"), seen)
    _check("cpq delegations", _json(run, "delegations", "--format", "json"), seen)
    _check("cpq approve", _json(run, "approve", "Q-1004", "--as", "alice", "--format", "json"), seen)
    legal_item = next(i["id"] for r in _json(run, "status", "Q-1004", "--format", "json")["requests"]
                      for i in r["items"] if i["approver"] == "lee")
    _check("cpq override", _json(run, "override", legal_item, "--approve", "--reason", "counsel on leave",
                                 "--as", "frank", "--format", "json"), seen)
    _check("cpq reject", _json(run, "reject", "Q-1004", "--as", "erin", "--reason", "terms", "--format", "json"),
           seen)
    _check("cpq log", _json(run, "log", "Q-1004", "--format", "json"), seen)
    _json(run, "submit", q4, "--as", "rita", "--format", "json")
    _check("cpq recall", _json(run, "recall", "Q-1004", "--as", "rita", "--format", "json"), seen)
    _json(run, "submit", "examples/quotes/Q-1001-standard.json", "--as", "rita", "--format", "json")
    _check("cpq revoke", _json(run, "revoke", "Q-1001", "--as", "dan", "--reason", "wrong price", "--format",
                               "json"), seen)
    _check("cpq approvers replace", _json(run, "approvers", "replace", "alice", "carol", "--format", "json"), seen)
    _check("cpq journal verify", _json(run, "journal", "verify", "--format", "json"), seen)
    _check("cpq journal copy", _json(run, "journal", "copy", ".cpq/journal.sqlite3", "copy.sqlite3",
                                     "--format", "json"), seen)
    _check("cpq tick", _json(run, "tick", "--format", "json"), seen)
    stray = workdir / "stray.eml"
    stray.write_bytes(b"From: someone@elsewhere.example\r\nTo: cpq@northwind.example\r\nSubject: hello\r\n"
                      b"Message-ID: <stray@elsewhere.example>\r\n\r\nAPPROVE\r\n")
    ingested = _json(run, "mail", "ingest", str(stray), "--format", "json", code=1)
    assert ingested["messages"][0]["outcome"] == "refused"
    _check("cpq mail ingest", ingested, seen)
    _check("cpq sync", _json(run, "sync", "--to", str(workdir / "erp"), "--json"), seen)
    assert seen == {c for c in docgen.OUTPUTS if c not in ORDER_COMMANDS}, sorted(set(docgen.OUTPUTS) - seen)


@pytest.mark.parametrize("command", sorted(docgen.OUTPUTS))
def test_each_record_schema_is_strict(command: str) -> None:
    """No field escapes the contract: every object in a record's schema lists its fields and allows no others."""
    schema = schema_of(docgen.output_record(command))
    objects = [schema, *schema.get("$defs", {}).values()]
    for obj in objects:
        assert obj["additionalProperties"] is False and set(obj["required"]) == set(obj["properties"])
    sample = {"version": 1, **{name: None for name in schema["properties"] if name != "version"}, "surprise": 1}
    assert not jsonschema.Draft202012Validator(schema).is_valid(sample)


def test_every_order_command_prints_its_documented_record(run: Any, workdir: Path) -> None:
    seen: set[str] = set()
    env = {"CPQ_NOW": "2026-11-22T09:00:00+00:00"}

    def data(*args: str) -> dict[str, Any]:
        result = run(*args, env=env)
        assert result.exit_code == 0, result.stdout + result.stderr
        found = json.loads(result.stdout)
        assert isinstance(found, dict)
        return found

    run("submit", "examples/quotes/Q-1004-multi-site.json", "--as", "rita", env=env)
    for who in ("alice", "lee", "dan"):
        run("approve", "Q-1004", "--as", who, env=env)
    _check("cpq split", data("split", "Q-1004", "--by", "site", "--json"), seen)
    _check("cpq split", data("split", "Q-1004", "--by", "site", "--json"), seen)  # again: nothing to do
    run("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita", env=env)
    _check("cpq order", data("order", "Q-1001", "--json"), seen)
    _check("cpq orders list", data("orders", "list", "--format", "json"), seen)
    _check("cpq orders activate", data("orders", "activate", "--as-of", "2027-04-01", "--format", "json"), seen)
    _check("cpq contract", data("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3", "--json"), seen)
    _check("cpq orders amend", data("orders", "amend", "Q-1004-O1", "--line", "L2", "--quantity", "15", "--from",
                                    "2027-07-01", "--format", "json"), seen)
    _check("cpq orders show", data("orders", "show", "Q-1004-O1", "--format", "json"), seen)
    _check("cpq entitlements", data("entitlements", "UMBRELLA", "--at", "2027-08-01", "--format", "json"), seen)
    revenue = data("revenue", "UMBRELLA", "--format", "json")
    _check("cpq revenue", revenue, seen)
    contract = data("orders", "show", "Q-1004-O1", "--format", "json")["lines"][0]["contract_id"]
    _check("cpq renew", data("renew", contract, "-o", "renewal.json", "--format", "json"), seen)
    assert seen == {c for c in docgen.OUTPUTS if c in ORDER_COMMANDS}
