"""The JSON Schemas shipped with cpq, and validation that yields located diagnostics."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cpq_cli.diagnostics import Diagnostic, Severity
from cpq_cli.sources import SourceDoc

SCHEMA_NAMES = ("policy", "quote", "policy-test", "order", "contract")


def schema_dir() -> Path:
    """Inside the wheel the schemas sit in the package; in a source checkout, at the top level."""
    packaged = Path(__file__).parent / "schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    path = schema_dir() / f"{name}.schema.json"
    with path.open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


@cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def validate(doc: SourceDoc, name: str) -> list[Diagnostic]:
    """Schema findings for one document, each pointing at the offending value (or key)."""
    out: list[Diagnostic] = []
    for error in _validator(name).iter_errors(doc.data):
        path = tuple(error.absolute_path)
        message, key = _describe(error)
        if key is not None:
            path = (*path, key)
        pos = doc.locate(path, key=key is not None)
        line, col = pos if pos else (None, None)
        out.append(Diagnostic(doc.path, line, col, "schema", Severity.ERROR, message, path,
                              _hint(error)))
    return out


def _describe(error: Any) -> tuple[str, str | None]:
    """A message a policy author can act on; for an unknown key, also the key to point at."""
    validator = error.validator
    where = _where(tuple(error.absolute_path))
    if validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if extra and error.schema.get("additionalProperties") is False:
            allowed = ", ".join(sorted(error.schema.get("properties", {})))
            return f"unknown field {extra[0]!r} in {where} (allowed: {allowed})", extra[0]
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"{where} is missing required field {missing!r}", None
    if validator == "enum":
        options = ", ".join(repr(o) for o in error.validator_value)
        return f"{where}: {error.instance!r} is not one of {options}", None
    if validator == "oneOf":
        return f"{where}: {_short(error.instance)} is not a valid value", None
    if validator == "pattern" and error.path and isinstance(error.instance, str):
        return f"{where}: {error.instance!r} does not match the expected format", None
    if validator == "type":
        return f"{where}: expected {error.validator_value}, got {_short(error.instance)}", None
    if validator == "propertyNames":
        return f"{where}: key {error.instance!r} is not a valid id", None
    return f"{where}: {error.message}", None


def _where(path: tuple[Any, ...]) -> str:
    from cpq_cli.jsonpath import format_json_path

    return format_json_path(path) if path else "the file"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _hint(error: Any) -> str | None:
    """The description of the field concerned; never the description of a whole file format."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        schema = schema.get("properties", {}).get(missing, {})
    elif not error.absolute_path:
        return None
    description = schema.get("description") if isinstance(schema, dict) else None
    return str(description) if description else None
