"""Reference documentation generated from the code itself, so that it cannot drift.

    python -m cpq_cli.docgen commands > docs/commands.md
    python -m cpq_cli.docgen schemas > docs/schemas.md
    python -m cpq_cli.docgen outputs > docs/outputs.md

`tests/test_docs.py` regenerates them and fails when the committed files differ.
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any


def _commands() -> list[tuple[str, Any]]:
    from typer.main import get_command

    from cpq_cli.cli.app import app

    root = get_command(app)
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, group: Any) -> None:
        for name in group.list_commands(None):
            command = group.get_command(None, name)
            path = f"{prefix} {name}"
            if hasattr(command, "list_commands"):
                found.append((path, command))
                walk(path, command)
            else:
                found.append((path, command))

    walk("cpq", root)
    return found


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _param_row(param: Any) -> str | None:
    if getattr(param, "hidden", False) or param.name in ("help",):
        return None
    if param.param_type_name == "argument":
        name = f"`{param.human_readable_name}`"
    else:
        name = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
    choices = getattr(param.type, "choices", None)
    kind = " \\| ".join(str(getattr(c, "value", c)) for c in choices) if choices else param.type.name
    default = param.show_default if isinstance(param.show_default, str) else param.default
    if hasattr(default, "value"):
        default = default.value
    if param.is_flag if hasattr(param, "is_flag") else False:
        kind = "flag"
    shown = "" if default in (None, (), [], False) or param.required else f"`{default}`"
    envvar = f" (env `{param.envvar}`)" if getattr(param, "envvar", None) else ""
    return f"| {name} | {kind} | {shown} | {_cell(getattr(param, 'help', None) or '')}{envvar} |"


def commands_markdown() -> str:
    out = ["# Command reference", "",
           "Generated from the code by `python -m cpq_cli.docgen commands`; a test keeps it current.", "",
           "Exit codes for every command: **0** success · **1** findings (lint errors, failing policy tests, "
           "an invalid quote, a refused decision) · **2** usage, configuration or internal error.", ""]
    out += ["| command | what it does |", "|---|---|"]
    entries = _commands()
    for path, command in entries:
        paragraph = " ".join(inspect.cleandoc(command.help or "").split("\n\n")[0].split())
        first = paragraph.split(". ")[0].rstrip(".") + "." if paragraph else ""
        anchor = path.replace(" ", "-")
        out.append(f"| [`{path}`](#{anchor}) | {_cell(first)} |")
    out.append("")
    for path, command in entries:
        out += [f"## {path}", ""]
        if command.help:
            out += [inspect.cleandoc(command.help), ""]
        rows = [r for r in (_param_row(p) for p in command.params) if r]
        if rows:
            out += ["| parameter | type | default | description |", "|---|---|---|---|", *rows, ""]
    return "\n".join(out).rstrip() + "\n"


def _schema_rows(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> list[str]:
    rows = []
    required = set(schema.get("required", []))
    for name, body in schema.get("properties", {}).items():
        if "$ref" in body:
            target = defs.get(body["$ref"].split("/")[-1], {})
            body = {**target, **{k: v for k, v in body.items() if k != "$ref"}}
        kind = body.get("type") or ("one of: " + ", ".join(json.dumps(e) for e in body["enum"]) if "enum" in body
                                    else "see schema")
        rows.append(f"| `{prefix}{name}` | {_cell(str(kind))} | {'yes' if name in required else ''} | "
                    f"{_cell(body.get('description', ''))} |")
    return rows


def schemas_markdown() -> str:
    from cpq_cli.schemas import SCHEMA_NAMES, load_schema

    out = ["# File format reference", "",
           "Generated from `schemas/*.schema.json` by `python -m cpq_cli.docgen schemas`; a test keeps it current. "
           "The schemas are the authority (JSON Schema 2020-12); see also [formats.md](formats.md).", ""]
    for name in SCHEMA_NAMES:
        schema = load_schema(name)
        defs = schema.get("$defs", {})
        out += [f"## {schema.get('title', name)} (`{name}.schema.json`)", "", schema.get("description", ""), "",
                "| field | type | required | description |", "|---|---|---|---|", *_schema_rows(schema, defs), ""]
        for def_name, body in defs.items():
            if body.get("properties"):
                out += [f"### {name}: `{def_name}`", "", "| field | type | required | description |",
                        "|---|---|---|---|", *_schema_rows(body, defs), ""]
    return "\n".join(out).rstrip() + "\n"


# Command -> its result record ("module:Record"), for the commands whose JSON is one.
OUTPUTS: dict[str, str] = {
    "cpq submit": "approvals:Change", "cpq approve": "approvals:Change", "cpq reject": "approvals:Change",
    "cpq recall": "approvals:Change", "cpq revoke": "approvals:Change", "cpq override": "approvals:Change",
    "cpq delegate": "approvals:Change", "cpq status": "approval_views:QuoteStatus",
    "cpq inbox": "approval_views:Inbox", "cpq log": "approval_views:QuoteLog",
    "cpq delegations": "approval_views:Delegations",
    "cpq approvers replace": "replacement:Replacement",
    "cpq journal verify": "journal_admin:JournalVerify", "cpq journal copy": "journal_admin:JournalCopy",
    "cpq tick": "backoffice:Tick", "cpq mail ingest": "backoffice:MailIngest", "cpq sync": "backoffice:Sync",
    "cpq order": "orders:OrdersMade", "cpq split": "orders:OrdersMade", "cpq orders list": "orders:OrderList",
    "cpq orders show": "orders:OrderDetail", "cpq orders activate": "orders:Activation",
    "cpq orders amend": "orders:AmendmentMade", "cpq contract": "orders:ContractsMade",
    "cpq entitlements": "orders:Entitlements", "cpq revenue": "orders:Revenue", "cpq renew": "orders:Renewal",
}


# Commands whose --format names the files they write: their report is `--json`.
JSON_SWITCH = ("cpq order", "cpq split", "cpq contract", "cpq sync")


def output_record(command: str) -> Any:
    import importlib

    module, name = OUTPUTS[command].split(":")
    return getattr(importlib.import_module(f"cpq_cli.services.{module}"), name)


def outputs_markdown() -> str:
    from cpq_cli.services.results import VERSION, fields_of, nested

    out = ["# Command output records", "",
           "Generated from the result records (`cpq_cli/services/`) by `python -m cpq_cli.docgen outputs`; a test "
           "keeps it current, and the tests validate every command's real `--format json` output against the JSON "
           "Schema derived from the same records. Lint, preview, test and impact have their own envelopes, in "
           "[formats.md](formats.md).", "",
           f"Every record is printed inside an envelope: `{{\"version\": {VERSION}, ...the record's fields}}`. "
           "Fields are only ever added within a version; a field that would change meaning gets a new version.", "",
           "| command | record |", "|---|---|"]
    records: dict[str, type] = {}
    for command in OUTPUTS:
        record = output_record(command)
        switch = "--json" if command in JSON_SWITCH else "--format json"
        out.append(f"| `{command} {switch}` | [{record.__name__}](#{record.__name__.lower()}) |")
        records.update(nested(record))
    out.append("")
    for name, record in records.items():
        out += [f"## {name}", "", inspect.cleandoc(record.__doc__ or ""), "",
                "| field | type | description |", "|---|---|---|"]
        out += [f"| `{field}` | {kind} | {_cell(text)} |" for field, kind, text in fields_of(record)]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "commands"
    made = {"commands": commands_markdown, "schemas": schemas_markdown, "outputs": outputs_markdown}
    if which not in made:
        sys.exit(f"usage: python -m cpq_cli.docgen {{{'|'.join(made)}}}")
    sys.stdout.write(made[which]())


if __name__ == "__main__":
    main()
