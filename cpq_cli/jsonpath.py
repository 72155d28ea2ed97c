"""JSON paths: the tuple form used internally and the `$.a.b[2]` form shown to people."""

from __future__ import annotations

JsonPath = tuple[str | int, ...]


def format_json_path(path: JsonPath) -> str:
    """`("rules", 2, "when")` -> `$.rules[2].when` (the notation check-jsonschema and jq users know)."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out
