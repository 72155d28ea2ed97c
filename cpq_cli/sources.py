"""Reading YAML, TOML and JSON files into plain data plus an index of where each value stands.

Every number that is not a whole number becomes a `Decimal`, never a float. The position
index maps a JSON path to a 1-based (line, column), so any later finding about a value can
point at the exact spot in the file (YAML, JSON) or at least at its key or table (TOML).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpq_cli.diagnostics import Diagnostic, Severity
from cpq_cli.jsonpath import JsonPath, format_json_path
from cpq_cli.limits import MAX_DIGITS, MAX_FILE_BYTES, MAX_NODES, DuplicateKey, limit_problem, strict_json
from cpq_cli.paths import display_path

Position = tuple[int, int]

YAML_SUFFIXES = (".yaml", ".yml")
TOML_SUFFIXES = (".toml",)



@dataclass
class SourceDoc:
    """A parsed file: its data and where each value (and each mapping key) stands."""

    path: str
    kind: str  # "yaml" | "toml" | "json"
    data: Any
    text: str
    _values: dict[JsonPath, Position] | None = None
    _keys: dict[JsonPath, Position] = field(default_factory=dict)
    _indexer: Callable[[], tuple[dict[JsonPath, Position], dict[JsonPath, Position]]] | None = None

    def _index(self) -> dict[JsonPath, Position]:
        if self._values is None:
            # JSON positions are computed only when a finding needs one.
            self._values, self._keys = self._indexer() if self._indexer else ({}, {})
        return self._values

    def locate(self, path: JsonPath, *, key: bool = False) -> Position | None:
        """Position of the value at `path` (or of its key), else of the nearest ancestor."""
        values = self._index()
        if key and path in self._keys:
            return self._keys[path]
        for end in range(len(path), -1, -1):
            pos = values.get(path[:end])
            if pos is not None:
                return pos
        return None


class ParseFailure(Exception):
    """The file could not be read as data at all; carries the diagnostic to show."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _fail(path: str, message: str, line: int | None = None, column: int | None = None,
          hint: str | None = None) -> ParseFailure:
    return ParseFailure(Diagnostic(path, line, column, "parse-error", Severity.ERROR, message, (), hint))


def read_text(path: Path, shown: str, raw: bytes | None = None) -> str:
    try:
        if raw is None:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise _fail(shown, f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB",
                            hint="cpq reads policies and quotes, not data dumps; split the file")
            raw = path.read_bytes()
    except FileNotFoundError:
        raise _fail(shown, "file not found", hint="check the path") from None
    except IsADirectoryError:
        raise _fail(shown, "is a directory, not a file") from None
    except OSError as exc:
        raise _fail(shown, f"cannot read file: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _fail(shown, f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB",
                    hint="cpq reads policies and quotes, not data dumps; split the file")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fail(shown, "the file is UTF-16; cpq reads UTF-8", 1, 1, "save the file as UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _fail(shown, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", line, column,
                    "save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


def load_document(path: Path, kind: str | None = None, raw: bytes | None = None) -> SourceDoc:
    """Parse one file (or its bytes, already read); raise ParseFailure when it is not usable data."""
    shown = display_path(path)
    if kind is None:
        kind = kind_of(path)
    text = read_text(path, shown, raw)
    if not text.strip():
        raise _fail(shown, "file is empty", 1, 1, "add content or delete the file")
    if kind == "yaml":
        doc = _load_yaml(text, shown)
    elif kind == "toml":
        doc = _load_toml(text, shown)
    else:
        doc = _load_json(text, shown)
    if not isinstance(doc.data, dict):
        what = "a list" if isinstance(doc.data, list) else f"a {type(doc.data).__name__}"
        raise _fail(shown, f"top level is {what}, expected a mapping", 1, 1,
                    "the file must be a mapping of keys such as `rules:` or `users:`")
    problem = limit_problem(doc.data)
    if problem is not None:
        where, what, fix = problem
        line, column = doc.locate(where) or (None, None)
        shown_path = format_json_path(where)
        raise _fail(shown, f"{shown_path}: {what}" if where else what, line, column, fix)
    return doc


def kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        return "yaml"
    if suffix in TOML_SUFFIXES:
        return "toml"
    return "json"


# ---------------------------------------------------------------------------------------- YAML


def _load_yaml(text: str, shown: str) -> SourceDoc:
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader_cls)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = exc.problem or exc.context or "invalid YAML"
        raise _fail(shown, f"invalid YAML: {problem}", line, col) from None
    except yaml.YAMLError as exc:
        raise _fail(shown, f"invalid YAML: {exc}") from None
    if node is None:
        raise _fail(shown, "file is empty", 1, 1, "add content or delete the file")
    values: dict[JsonPath, Position] = {}
    keys: dict[JsonPath, Position] = {}
    budget = [MAX_NODES]  # aliases re-use nodes: count them expanded, so a "billion laughs" stops at once
    data = _yaml_value(node, (), values, keys, shown, 0, budget)
    return SourceDoc(shown, "yaml", data, text, values, keys)


_YAML_INT = "tag:yaml.org,2002:int"
_YAML_FLOAT = "tag:yaml.org,2002:float"
_YAML_BOOL = "tag:yaml.org,2002:bool"
_YAML_NULL = "tag:yaml.org,2002:null"


def _yaml_value(node: Any, path: JsonPath, values: dict[JsonPath, Position],
                keys: dict[JsonPath, Position], shown: str, depth: int, budget: list[int]) -> Any:
    import yaml

    if depth > 64:
        raise _fail(shown, "nesting deeper than 64 levels", node.start_mark.line + 1)
    budget[0] -= 1
    if budget[0] < 0:
        raise _fail(shown, f"more than {MAX_NODES:,} values once aliases are expanded (an alias bomb?)",
                    node.start_mark.line + 1, node.start_mark.column + 1, "write the values out; avoid nested aliases")
    values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _fail(shown, "mapping keys must be plain strings", line, col)
            key = key_node.value
            if key == "<<":
                raise _fail(shown, "YAML merge keys (<<) are not supported", line, col,
                            "write the keys out in full")
            if key in out:
                raise _fail(shown, f"duplicate key {key!r} in one mapping", line, col,
                            "YAML would silently keep only the last one; remove or rename it")
            keys[(*path, key)] = (line, col)
            out[key] = _yaml_value(value_node, (*path, key), values, keys, shown, depth + 1, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_yaml_value(item, (*path, i), values, keys, shown, depth + 1, budget)
                for i, item in enumerate(node.value)]
    tag, raw = node.tag, node.value
    if tag == _YAML_INT:
        digits = raw.replace("_", "")
        if len(digits) > MAX_DIGITS + 3:
            raise _fail(shown, f"a number with more than {MAX_DIGITS} digits", node.start_mark.line + 1,
                        node.start_mark.column + 1, "use a realistic number")
        for base in (0, 10):
            with contextlib.suppress(ValueError):
                return int(digits, base)
        return raw  # YAML 1.1 oddities (1:30 sexagesimal, 0b_): kept as text, so the schema names them
    if tag == _YAML_FLOAT:
        if len(raw) > 100:
            raise _fail(shown, "a number out of range", node.start_mark.line + 1, node.start_mark.column + 1,
                        "use a realistic number")
        try:
            return Decimal(raw.replace("_", ""))
        except ArithmeticError:
            return raw
    if tag == _YAML_BOOL:
        return raw.lower() in ("true", "yes", "on", "y")
    if tag == _YAML_NULL:
        return None
    return raw  # strings, and timestamps kept as written (schemas check the ISO format)


# ---------------------------------------------------------------------------------------- TOML

_TOML_ERR_POS = re.compile(r"\(at line (\d+), column (\d+)\)")
_TOML_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_BARE_OR_QUOTED = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_TOML_KEY = re.compile(rf"^(\s*)({_TOML_BARE_OR_QUOTED}(?:\s*\.\s*{_TOML_BARE_OR_QUOTED})*)\s*=")


def _load_toml(text: str, shown: str) -> SourceDoc:
    import tomllib

    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_ERR_POS.search(msg)
        line, col = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        raise _fail(shown, f"invalid TOML: {_TOML_ERR_POS.sub('', msg).strip()}", line, col) from None
    except (ValueError, ArithmeticError) as exc:  # e.g. an integer of thousands of digits
        raise _fail(shown, f"invalid TOML: {str(exc)[:120]}") from None
    data = _toml_plain(data)
    values, keys = _toml_positions(text)
    return SourceDoc(shown, "toml", data, text, values, keys)


def _toml_plain(value: Any) -> Any:
    """tomllib gives date objects for bare dates; the schemas speak of ISO strings, like YAML and JSON."""
    import datetime as dt

    if isinstance(value, dict):
        return {k: _toml_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_toml_plain(v) for v in value]
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


def _split_dotted(key: str) -> list[str]:
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', key)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _toml_positions(text: str) -> tuple[dict[JsonPath, Position], dict[JsonPath, Position]]:
    """Line of every table header and key. tomllib keeps no positions, so scan the lines.

    Values inside inline tables and arrays fall back to the line of their key.
    """
    values: dict[JsonPath, Position] = {(): (1, 1)}
    keys: dict[JsonPath, Position] = {}
    aot_count: dict[tuple[str, ...], int] = {}
    current: JsonPath = ()
    in_multiline: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _TOML_HEADER.match(line)
        if header:
            names = _split_dotted(header.group(2))
            resolved: list[str | int] = []
            for i, name in enumerate(names):
                resolved.append(name)
                prefix = tuple(names[: i + 1])
                is_last = i == len(names) - 1
                if header.group(1) == "[[" and is_last:
                    index = aot_count.get(prefix, -1) + 1
                    aot_count[prefix] = index
                    resolved.append(index)
                elif prefix in aot_count:
                    resolved.append(aot_count[prefix])
            current = tuple(resolved)
            col = len(line) - len(line.lstrip()) + 1
            values[current] = (lineno, col)
            keys.setdefault(current, (lineno, col))
            continue
        key = _TOML_KEY.match(line)
        if key:
            path = (*current, *_split_dotted(key.group(2)))
            col = len(key.group(1)) + 1
            values.setdefault(path, (lineno, col))
            keys.setdefault(path, (lineno, col))
            rest = line[key.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
    return values, keys


# ---------------------------------------------------------------------------------------- JSON


def _load_json(text: str, shown: str) -> SourceDoc:
    try:
        data = strict_json(text)
    except json.JSONDecodeError as exc:
        raise _fail(shown, f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except DuplicateKey as dup:
        found = [m.start() for m in re.finditer(re.escape(json.dumps(dup.key)) + r"\s*:", text)]
        offset = found[1] if len(found) > 1 else (found[0] if found else 0)
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        raise _fail(shown, f"duplicate key {dup.key!r} in one object", line, column,
                    "JSON readers would silently keep only the last one; remove or rename it") from None
    except ValueError as exc:
        raise _fail(shown, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise _fail(shown, "invalid JSON: nested too deeply") from None
    doc = SourceDoc(shown, "json", data, text, None)
    doc._indexer = lambda: _json_positions(text)
    return doc


_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_SCALAR = re.compile(r'-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null')


def _json_positions(text: str) -> tuple[dict[JsonPath, Position], dict[JsonPath, Position]]:
    """Start position of every value and key of a JSON text that is already known to be valid."""
    values: dict[JsonPath, Position] = {}
    keys: dict[JsonPath, Position] = {}
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def pos(offset: int) -> Position:
        import bisect

        line = bisect.bisect_right(line_starts, offset)
        return line, offset - line_starts[line - 1] + 1

    def skip(i: int) -> int:
        m = _JSON_WS.match(text, i)
        return m.end() if m else i

    def string_end(i: int) -> tuple[str, int]:
        value, end = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
        return value, end

    def value(i: int, path: JsonPath) -> int:
        i = skip(i)
        values[path] = pos(i)
        ch = text[i]
        if ch == "{":
            i = skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                i = skip(i)
                key_pos = i
                key, i = string_end(i)
                keys[(*path, key)] = pos(key_pos)
                i = skip(i) + 1  # the colon
                i = skip(value(i, (*path, key)))
                if text[i] == "}":
                    return i + 1
                i += 1  # the comma
        if ch == "[":
            i = skip(i + 1)
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                i = skip(value(i, (*path, index)))
                index += 1
                if text[i] == "]":
                    return i + 1
                i += 1
        if ch == '"':
            return string_end(i)[1]
        m = _JSON_SCALAR.match(text, i)
        return m.end() if m else i + 1

    with contextlib.suppress(IndexError, ValueError, RecursionError):  # best effort; the data parsed fine
        value(0, ())
    return values, keys
