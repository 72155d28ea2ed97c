"""Result records: what a service returns, and what `--format json` prints.

Each command's JSON is one record in an envelope with a `version`. A record is a NamedTuple
(cheap to create at start-up, see docs/performance.md) whose fields are annotated with their
description: `status: Annotated[str, "where it stands"]`. The fields are the record's
documentation (`docs/outputs.md` is generated from them) and its contract: `schema_of` derives a
JSON Schema from the field types, and the tests validate every command's real output against
it. Fields are only ever added within a version.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from cpq_cli.i18n import Message

VERSION = 1

T = TypeVar("T")


def is_record(value: Any) -> bool:
    """A record type or value: a NamedTuple."""
    tp = value if isinstance(value, type) else type(value)
    return issubclass(tp, tuple) and hasattr(tp, "_fields")


def _field_names(record: Any) -> tuple[str, ...]:
    return tuple(record._fields)


def plain(value: Any) -> Any:
    """A record (or anything inside one) as JSON values: records become objects, tuples arrays,
    enums their value, decimals and dates text."""
    if is_record(value) and not isinstance(value, type):
        return {name: plain(getattr(value, name)) for name in _field_names(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Message):
        return value.render("en")  # machine formats stay in one language
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Decimal | dt.date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def envelope(result: Any) -> dict[str, Any]:
    """The JSON a command prints for its result record."""
    body = plain(result)
    assert isinstance(body, dict)
    return {"version": VERSION, **body}


# ------------------------------------------------------------------------------ describing records


def _hints(record: Any) -> dict[str, Any]:
    """Each field's type, without its description."""
    return typing.get_type_hints(record)


def _docs(record: Any) -> dict[str, str]:
    docs = {}
    for name, hint in typing.get_type_hints(record, include_extras=True).items():
        found = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, str)]
        docs[name] = found[0] if found else ""
    return docs


def schema_of(tp: Any, defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON Schema (2020-12) for values of the type `tp` as `plain` renders them."""
    top = defs is None
    defs = {} if defs is None else defs
    schema = _schema(tp, defs)
    if top and is_record(tp):
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **_record_schema(tp, defs, envelope=True)}
        if defs:
            schema["$defs"] = defs
    return schema


def _record_schema(record: Any, defs: dict[str, Any], *, envelope: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {"version": {"const": VERSION}} if envelope else {}
    hints = _hints(record)
    for name in _field_names(record):
        props[name] = _schema(hints[name], defs)
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return {}
    if origin in (typing.Union, types.UnionType):
        options = list({json_key(o): o for o in (_schema(a, defs) for a in args)}.values())
        return options[0] if len(options) == 1 else {"anyOf": options}
    if tp is type(None):
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp in (str, Decimal, dt.date, Message):
        return {"type": "string"}
    if isinstance(tp, type) and issubclass(tp, Enum):
        return {"enum": [m.value for m in tp]}
    if origin in (tuple, list):
        item = args[0] if args else Any
        return {"type": "array", "items": _schema(item, defs)}
    if origin is dict or tp is dict:
        return {"type": "object"}
    if isinstance(tp, type) and is_record(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # a placeholder first: records may nest
            defs[name] = _record_schema(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema for {tp!r}")


def json_key(schema: dict[str, Any]) -> str:
    import json

    return json.dumps(schema, sort_keys=True)


def type_text(tp: Any) -> str:
    """A field's type as the reference shows it (JSON terms, records by name)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(type_text(a) for a in args))
    if tp is type(None):
        return "null"
    if tp is bool:
        return "boolean"
    if tp is int:
        return "integer"
    if tp is str or tp is Message:
        return "string"
    if tp is Decimal:
        return "decimal string"
    if tp is dt.date:
        return "date string"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return " \\| ".join(f"`{m.value}`" for m in tp)
    if origin in (tuple, list):
        return f"array of {type_text(args[0]) if args else 'any'}"
    if origin is dict or tp is dict:
        return "object"
    if isinstance(tp, type) and is_record(tp):
        return f"[{tp.__name__}](#{tp.__name__.lower()})"
    return "any"


def fields_of(record: type) -> list[tuple[str, str, str]]:
    """(name, type, description) of each field of a record."""
    hints, docs = _hints(record), _docs(record)
    return [(name, type_text(hints[name]), docs[name]) for name in _field_names(record)]


def nested(record: type, seen: dict[str, type] | None = None) -> dict[str, type]:
    """Every record a record holds, by name (itself included), in first-seen order."""
    seen = {} if seen is None else seen
    if record.__name__ in seen:
        return seen
    seen[record.__name__] = record
    for tp in _hints(record).values():
        for inner in _records_in(tp):
            nested(inner, seen)
    return seen


def _records_in(tp: Any) -> list[type]:
    if isinstance(tp, type) and is_record(tp):
        return [tp]
    return [r for a in typing.get_args(tp) for r in _records_in(a)]


def view(record_type: type[T], source: Any, **extra: Any) -> T:
    """A public record filled from a journal record's same-named fields (plus `extra`)."""
    names = _field_names(record_type)
    values = {n: getattr(source, n) for n in names if n not in extra and hasattr(source, n)}
    return record_type(**values, **extra)
