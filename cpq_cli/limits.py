"""The limits every input is held to, and strict JSON: shared by all readers, cheap to import.

`quote.load_quote` reads plain JSON on the start-up path without the located reader
(`sources`), so these live apart from it; both apply them, so both accept the same inputs.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

JsonPath = tuple[str | int, ...]

# Limits on every file cpq reads (docs/formats.md, "Limits"). Far above any real policy or quote,
# low enough that no input can make a command hang or eat memory.
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES = 200_000  # values in one document, counted with aliases expanded
MAX_STRING = 20_000  # characters in one string
MAX_DIGITS = 30  # significant digits of a number
MAX_EXPONENT = 30  # |exponent| of a number: 1e30 and 1e-30 are the extremes


def limit_problem(data: Any) -> tuple[JsonPath, str, str] | None:
    """The first value beyond the limits: (path, what, how to fix), or None.

    One walk shared by every reader (policies, quotes, tests), so no command accepts a value
    that another refuses, and nothing downstream sees a NaN, a 100,000-digit number or a lone
    surrogate.
    """
    if _within(data):  # the common case, without building a path for every value
        return None
    count = 0
    stack: list[tuple[JsonPath, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        count += 1
        if count > MAX_NODES:
            return path, f"more than {MAX_NODES:,} values", "split the file"
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (len(key) > 200 or _bad_text(key)):
                    return (*path, key[:40]), "a key that is too long or holds a control character or a lone " \
                        "surrogate", "rename the key"
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in enumerate(value))
        elif isinstance(value, str):
            if len(value) > MAX_STRING:
                return path, f"a text of {len(value):,} characters (at most {MAX_STRING:,})", "shorten it"
            if _bad_text(value):
                return path, "a text with a lone surrogate or a NUL character", "save the file as proper UTF-8 text"
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) >= 10**MAX_DIGITS:
                return path, f"a number with more than {MAX_DIGITS} digits", "use a realistic number"
        elif isinstance(value, (Decimal, float)):
            number = value if isinstance(value, Decimal) else Decimal(repr(value))
            if not number.is_finite():
                return path, f"{value} is not a number cpq accepts (NaN or infinite)", "write a finite number"
            digits = number.as_tuple()
            magnitude = number.adjusted() if number else 0
            if len(digits.digits) > MAX_DIGITS or abs(magnitude) > MAX_EXPONENT or (
                    isinstance(digits.exponent, int) and digits.exponent < -MAX_EXPONENT):
                return path, f"a number out of range ({str(value)[:30]}: at most {MAX_DIGITS} digits, between " \
                    f"1e-{MAX_EXPONENT} and 1e{MAX_EXPONENT})", "use a realistic number"
    return None


_NUMBER_LIMIT = 10**MAX_DIGITS


def _within(data: Any) -> bool:
    stack = [data]
    count = 0
    while stack:
        value = stack.pop()
        count += 1
        kind = type(value)
        if kind is str:
            if len(value) > MAX_STRING or _BAD_TEXT.search(value):
                return False
        elif kind is dict:
            for key in value:
                if len(key) > 200 or _BAD_TEXT.search(key):
                    return False
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
        elif kind is int:
            if not -_NUMBER_LIMIT < value < _NUMBER_LIMIT:
                return False
        elif kind is Decimal:
            if not value.is_finite() or len(value.as_tuple().digits) > MAX_DIGITS or (
                    value and abs(value.adjusted()) > MAX_EXPONENT) or value.as_tuple().exponent < -MAX_EXPONENT:
                return False
        elif value is not None and kind is not bool:
            return False  # floats and anything else: let the full walk judge it
        if count > MAX_NODES:
            return False
    return True


_BAD_TEXT = re.compile("[\ud800-\udfff\x00]")


def _bad_text(text: str) -> bool:
    return _BAD_TEXT.search(text) is not None


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON objects without silent last-wins: `{"discount_pct": 5, "discount_pct": 50}` is refused."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return out


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_int(text: str) -> int:
    if len(text) > MAX_DIGITS + 1:
        raise ValueError(f"a number with more than {MAX_DIGITS} digits")
    return int(text)


def _json_decimal(text: str) -> Decimal:
    if len(text) > 100:
        raise ValueError("a number out of range")
    return Decimal(text)


def strict_json(text: str | bytes) -> Any:
    """json.loads as cpq reads JSON everywhere: decimals exact, no NaN/Infinity, no duplicate keys,
    no numbers of thousands of digits."""
    return json.loads(text, parse_float=_json_decimal, parse_int=_json_int, parse_constant=_json_constant,
                      object_pairs_hook=_json_object)




_PLAIN: json.JSONDecoder | None = None


def plain_json(text: str) -> Any:
    """quick_json with every object built in C: it does not look for duplicate keys (the last
    wins), so the caller must prove there is none, as `all_keys_read` does, or use quick_json.

    json.loads(text, parse_float=..., parse_constant=...), with one decoder for every call
    (json.loads makes a decoder and its scanner anew for each call given hooks)."""
    global _PLAIN
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)  # as json.loads
    if _PLAIN is None:
        _PLAIN = json.JSONDecoder(parse_float=_json_decimal, parse_constant=_json_constant)
    return _PLAIN.decode(text)


def all_keys_read(text: str, keys: int) -> bool:
    """Whether `keys` keys read from the JSON `text` are all the keys it holds, none a duplicate:
    every key is followed by a colon, and outside strings a colon follows nothing else, so a text
    holding as many colons as keys read holds no duplicate. A colon in a string only makes this
    say no (and the caller read again, with quick_json)."""
    return text.count(":") == keys


def quick_json(text: str) -> Any:
    """strict_json with integers parsed in C: the caller checks their size while converting
    them (quote.load_quote's one pass); anything it refuses is read again with strict_json."""
    return json.loads(text, parse_float=_json_decimal, parse_constant=_json_constant, object_pairs_hook=_json_object)
