"""The content hash a submission binds its approvals to: a type-tagged canonical form of the quote.

Version 2 (`v2:sha256:`) is injective over JSON values — the number 12.5 and the string "12.5"
hash apart; 1, 1.0 and 1.00 are one number. Version 1 (`sha256:`) is kept to check submissions
recorded before it.
"""

import json
from collections.abc import Callable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from json.encoder import encode_basestring as _encode_string  # what json.dumps(ensure_ascii=False) uses
from typing import Any

from cpq_cli import digest
from cpq_cli.digest import sha256_hex
from cpq_cli.memo import remember

HASH_V1 = "sha256:"  # legacy: json.dumps(default=str) spelled the number 12.5 and the string "12.5" alike
HASH_V2 = "v2:sha256:"  # type-tagged: injective over JSON values


def canonical_json(data: Any) -> str:
    """Version 1 of the canonical form (kept to check submissions recorded before version 2)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


# normalize() in the default context rounds to 28 digits, which would give numbers that differ
# only in their last digits one text (the input limits allow 30): normalised exactly instead.
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def _number_text(number: Decimal) -> str:
    """One text for one number: 1, 1.0 and 1.00 alike, every digit kept."""
    if not number.is_finite():
        return str(number)
    return f"{number.normalize(EXACT) if number else Decimal(0):E}"


def _tagged(value: Any) -> Any:
    """Each JSON value as [type, value], so no two values of different types share a spelling.

    Numbers are compared as numbers (1, 1.0 and 1.00 are one value), strings as strings.
    """
    if value is None:
        return ["null"]
    if isinstance(value, bool):  # before int: True is an int in Python
        return ["bool", value]
    if isinstance(value, (int, float, Decimal)):
        return ["num", _number_text(Decimal(value) if not isinstance(value, float) else Decimal(repr(value)))]
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, (list, tuple)):
        return ["list", [_tagged(v) for v in value]]
    if isinstance(value, dict):
        return ["obj", [[str(k), _tagged(v)] for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))]]
    return ["other", str(value)]


def canonical_json_v2(data: Any) -> str:
    """json.dumps(_tagged(data), separators=(",", ":"), ensure_ascii=False), written directly.

    The same text (a test compares the two on generated values), without building the tagged
    tree: the hash of every previewed quote is computed, so this runs for every one of them.
    """
    try:
        return _encode_tagged(data)
    except (_Unusual, TypeError):  # TypeError: an unhashable leaf (a signalling NaN) for the memo
        return json.dumps(_tagged(data), separators=(",", ":"), ensure_ascii=False)


class _Unusual(Exception):
    """A value of a type JSON does not produce (a tuple, a subclass...): take the plain path."""


# Encoded pieces of values met again and again across a batch (line ids, products, families,
# small numbers). Keyed by value: equal ints and Decimals are one number and encode alike, so
# sharing a slot is right; floats and booleans never enter (0.1 == Decimal(0.1) exactly, True == 1).
_NUMBERS: dict[Any, str] = {}
_STRINGS: dict[str, str] = {}
_KEYS: dict[str, str] = {}
_PIECES_LIMIT = 50_000


def _number_piece(value: int | Decimal) -> str:
    return remember(_NUMBERS, value, '["num","' + _number_text(Decimal(value)) + '"]', _PIECES_LIMIT)


def _string_piece(value: str) -> str:
    return remember(_STRINGS, value, '["str",' + _encode_string(value) + "]", _PIECES_LIMIT)


def _key_piece(key: str) -> str:
    """A key with what precedes and follows it: `["key",`."""
    return remember(_KEYS, key, "[" + _encode_string(key) + ",", _PIECES_LIMIT)


# Objects of one shape (the same keys in the same order: every line of a batch, mostly) share
# their sorted keys and the encoded key pieces: sorted once, not once per object.
_SHAPES: dict[tuple[Any, ...], tuple[tuple[str, str], ...]] = {}


def _shape(keys: tuple[Any, ...]) -> tuple[tuple[str, str], ...]:
    if any(type(key) is not str for key in keys):
        raise _Unusual
    # str keys: sorting by str(key) is sorting by key
    return remember(_SHAPES, keys, tuple((key, _KEYS.get(key) or _key_piece(key)) for key in sorted(keys)), 1_000)


def _encode_tagged(value: Any) -> str:
    kind = type(value)
    if kind is dict:
        keys = tuple(value)
        if _MANY:
            write = _OBJECT_WRITERS.get(keys)
            if write is None and _SHAPES_MET.get(keys, 0) >= _WRITE_AFTER and 0 < len(keys) <= 64:
                write = _object_writer(keys)
            if write is not None:
                try:
                    return write(value)
                except _Nested:  # objects of this shape hold objects or lists: the loop below, from now on
                    _OBJECT_WRITERS.pop(keys, None)
                    _SHAPES_MET[keys] = -1_000_000
            elif (met := _SHAPES_MET.get(keys, 0)) >= 0:  # below 0: a shape that holds objects, never written
                remember(_SHAPES_MET, keys, met + 1, 1_000)
        parts = []
        for key, head in _SHAPES.get(keys) or _shape(keys):
            item = value[key]
            t = type(item)  # the leaves inline: most values of a quote are
            if t is str:
                piece = _STRINGS.get(item) or _string_piece(item)
            elif t is int or t is Decimal:
                piece = _NUMBERS.get(item) or _number_piece(item)
            else:
                piece = _encode_tagged(item)
            parts.append(head + piece + "]")
        return '["obj",[' + ",".join(parts) + "]]"
    if kind is str:
        return _STRINGS.get(value) or _string_piece(value)
    if kind is int or kind is Decimal:
        return _NUMBERS.get(value) or _number_piece(value)
    if kind is list:
        return '["list",[' + ",".join([_encode_tagged(item) for item in value]) + "]]"
    if value is None:
        return '["null"]'
    if kind is bool:
        return '["bool",true]' if value else '["bool",false]'
    raise _Unusual


class _Nested(Exception):
    """An object or a list inside an object that a writer was made for."""


def _other_leaf(value: Any) -> str:
    if value is None:
        return '["null"]'
    if type(value) is bool:
        return '["bool",true]' if value else '["bool",false]'
    if type(value) is dict or type(value) is list:
        raise _Nested  # written by _encode_tagged's loop: one stack frame a level, as deep as ever
    raise _Unusual


# Objects of a common shape whose values are leaves (the lines of a batch) are written by a
# function made for their keys: the loop above written out, each value's piece looked up inline,
# the object built by one f-string. The keys' pieces enter it as objects bound to its parameters,
# never as text.
_OBJECT_WRITERS: dict[tuple[Any, ...], Callable[[dict[str, Any]], str]] = {}
_SHAPES_MET: dict[tuple[Any, ...], int] = {}
_WRITE_AFTER = 4  # in a batch, a shape met this often gets its writer
_MANY = False  # a batch: set by expect_many()


def expect_many() -> None:
    """Hash many quotes in this process: objects of a shape met four times get a writer (compile()
    costs ~0.1 ms a shape, which a one-quote command would not earn back), SHA-256 is OpenSSL's."""
    global _MANY
    _MANY = True
    digest.expect_many()


def _object_writer(keys: tuple[Any, ...]) -> Callable[[dict[str, Any]], str]:
    ordered = _SHAPES.get(keys) or _shape(keys)
    place = {key: i for i, key in enumerate(keys)}
    items = []
    for j, (key, _head) in enumerate(ordered):
        v = f"v{place[key]}"
        items.append(f"{{h{j}}}{{_S({v}) or _sp({v}) if type({v}) is str else _N({v}) or _np({v}) "
                     f"if type({v}) is int or type({v}) is Decimal else _leaf({v})}}]")
    params = "".join(f", h{j}=H[{j}]" for j in range(len(ordered)))
    unpack = "".join(f"v{i}, " for i in range(len(keys)))
    source = (f"def write(value{params}):\n    {unpack}= value.values()\n"
              f"    return f'[\"obj\",[{','.join(items)}]]'\n")
    namespace: dict[str, Any] = {"H": tuple(head for _key, head in ordered), "Decimal": Decimal, "_leaf": _other_leaf,
                                 **PIECE_NAMES}
    exec(compile(source, f"<cpq object writer {len(keys)} keys>", "exec"), namespace)
    write: Callable[[dict[str, Any]], str] = namespace["write"]
    return remember(_OBJECT_WRITERS, keys, write, 200)


def content_hash(data: Any) -> str:
    """What approvals are bound to: reformatting the file keeps it, any change of a value does not."""
    raw = canonical_json_v2(data).encode("utf-8", "surrogatepass")
    return HASH_V2 + sha256_hex(raw)


# ------------------------------------------------------- pieces written by the code that reads

# A batch's line readers (quote._write_line_reader) know each value's type once they have
# checked it, so they write the line's canonical piece as they read it: the hash then needs no
# second walk of the lines. These give them the piece of a value and of an object shape.


def piece_source(name: str, kind: str) -> str:
    """A Python expression for the piece of the value held in `name`: `kind` is "str" for a
    value known to be a string, "number" for an int or a Decimal (never a bool), "money" for
    one of those two, and "any" for anything (then it is None when the value is unusual)."""
    match kind:
        case "str":
            return f"(_S({name}) or _sp({name}))"
        case "number":
            return f"(_N({name}) or _np({name}))"
        case "money":
            return f"((_S({name}) or _sp({name})) if type({name}) is str else (_N({name}) or _np({name})))"
        case "any":
            return f"_any_piece({name})"
    raise ValueError(f"no piece for a value of kind {kind!r}")


def _any_piece(value: Any) -> str | None:
    try:
        return _encode_tagged(value)
    except (_Unusual, TypeError, RecursionError):
        return None


# The names the writers' and readers' generated code finds the pieces by (piece_source's).
PIECE_NAMES: dict[str, Any] = {"_S": _STRINGS.get, "_sp": _string_piece, "_N": _NUMBERS.get, "_np": _number_piece,
                               "_any_piece": _any_piece}


def object_heads(keys: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """For an object with these keys (strings, in this order): the place of each key in the
    order the canonical form writes them, with its head; `["obj",[` + head + piece + `]`, ...
    joined by commas + `]]` is the object's piece."""
    place = {key: i for i, key in enumerate(keys)}
    return tuple((place[key], head) for key, head in _shape(keys))


def content_hash_with_lines(data: dict[str, Any], lines: list[str]) -> str:
    """content_hash(data) when `lines` holds the piece of each of data["lines"], in order (as
    the line readers wrote them while reading that very list)."""
    if type(data) is not dict or type(data.get("lines")) is not list or len(data["lines"]) != len(lines):
        raise ValueError("pieces for other lines")
    listed = '["list",[' + ",".join(lines) + "]]"
    try:
        text = '["obj",[' + ",".join(head + (listed if key == "lines" else _encode_tagged(data[key])) + "]"
                                     for key, head in _SHAPES.get(tuple(data)) or _shape(tuple(data))) + "]]"
    except (_Unusual, TypeError):  # a value JSON does not give: the plain path says what it is
        return content_hash(data)
    return HASH_V2 + sha256_hex(text.encode("utf-8", "surrogatepass"))


def content_hash_like(data: Any, recorded: str) -> str:
    """The hash of `data` in the version that `recorded` was made with, to compare the two."""
    if recorded.startswith(HASH_V1):
        legacy = canonical_json(data).encode("utf-8", "surrogatepass")
        return HASH_V1 + sha256_hex(legacy)
    return content_hash(data)
