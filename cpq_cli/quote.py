"""A quote as exact values: parsed with Decimals, checked, with its derived values computed once.

The checks here are the structural rules of `schemas/quote.schema.json` that routing relies
on, done without importing jsonschema so that `cpq preview` starts fast; `cpq check-quote`
runs the full schema. A test keeps the two in agreement.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from cpq_cli.errors import InputError
from cpq_cli.jsonpath import JsonPath, format_json_path
from cpq_cli.limits import _BAD_TEXT, _NUMBER_LIMIT, MAX_DIGITS, MAX_EXPONENT, MAX_STRING
from cpq_cli.memo import remember

if TYPE_CHECKING:
    from cpq_cli.sources import SourceDoc

HUNDRED = Decimal(100)
LINE_KINDS = ("asset", "subscription", "one_time")
# Quote ids: letters, digits, . _ - (they name submissions and order files); account and line ids
# also : @ # +. Never a separator, a control character or a leading dot (ids become file names).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_REF_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@#+-]{0,127}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONEY = re.compile(r"-?\d{1,12}(\.\d{1,6})?")  # as the schema: below 10^12, at most 6 decimals
MONEY_LIMIT = Decimal(10) ** 12
QUANTITY_LIMIT = Decimal(10) ** 9
SIX_PLACES = Decimal("0.000001")


class Line(NamedTuple):
    id: str
    product: str
    kind: str
    quantity: Decimal
    list_price: Decimal
    discount_pct: Decimal
    values: dict[str, Any]  # every field of the line plus the derived ones, as expressions see them


class Quote(NamedTuple):
    id: str
    owner: str
    currency: str
    date: dt.date
    start_date: dt.date | None
    lines: tuple[Line, ...]
    values: dict[str, Any]  # header fields plus derived values (variables are added by routing)
    data: dict[str, Any]  # the quote as read, for writing it back out
    source: str

    @property
    def content_hash(self) -> str:
        """What approvals are bound to; computed when asked (preview rarely needs it)."""
        return content_hash(self.data)

    @property
    def net_total(self) -> Decimal:
        value: Decimal = self.values["net_total"]
        return value


# The content hash lives apart (commands that only check a hash need not load the quote model).
from cpq_cli.content_hash import HASH_V1 as HASH_V1  # noqa: E402
from cpq_cli.content_hash import HASH_V2 as HASH_V2  # noqa: E402
from cpq_cli.content_hash import (  # noqa: E402
    PIECE_NAMES,
    content_hash_with_lines,
    object_heads,
    piece_source,
)
from cpq_cli.content_hash import canonical_json as canonical_json  # noqa: E402
from cpq_cli.content_hash import canonical_json_v2 as canonical_json_v2  # noqa: E402
from cpq_cli.content_hash import content_hash as content_hash  # noqa: E402
from cpq_cli.content_hash import content_hash_like as content_hash_like  # noqa: E402
from cpq_cli.content_hash import expect_many as content_hash_expect_many  # noqa: E402


def _num(value: Any) -> Any:
    """Every JSON number becomes a Decimal (booleans stay booleans); containers are converted deeply."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _num(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_num(v) for v in value]
    return value


def _numbers(raw: dict[str, Any], skip: str = "") -> dict[str, Any]:
    """A shallow copy with every number a Decimal; only containers are walked further."""
    out = dict(raw)
    for key, value in raw.items():
        kind = type(value)
        if (kind is int or kind is float or kind is dict or kind is list) and key != skip:
            out[key] = _num(value)
    return out


class QuoteInvalid(InputError):
    """A quote that breaks a structural rule; knows the file, position and JSON path."""

    def __init__(self, file: str, line: int | None, column: int | None, json_path: JsonPath,
                 detail: str, hint: str | None = None) -> None:
        where = f"{file}:{line}:{column}" if line else file
        super().__init__(f"{where}: {format_json_path(json_path)}: {detail}", hint=hint)
        self.file, self.line, self.column = file, line, column
        self.json_path = json_path
        self.detail = detail


class _Problems:
    """Builds the error for the first structural problem, located in the file when we have it."""

    def __init__(self, doc: SourceDoc | None, source: str) -> None:
        self.doc = doc
        self.source = source

    def fail(self, path: JsonPath, message: str, hint: str | None = None) -> QuoteInvalid:
        pos = self.doc.locate(path) if self.doc is not None else None
        line, col = pos if pos else (None, None)
        return QuoteInvalid(self.source, line, col, path, message, hint)


def _places_ok(number: Decimal) -> bool:
    """At most 6 decimals (12.500000000 counts as 12.5)."""
    exponent = number.as_tuple().exponent
    return isinstance(exponent, int) and (exponent >= -6 or number == number.quantize(SIX_PLACES))


def _money(value: Any, path: JsonPath, p: _Problems) -> Decimal:
    if isinstance(value, bool):
        raise p.fail(path, "expected a decimal amount, got a boolean")
    if isinstance(value, int | Decimal | float):
        amount = _num(value)
        if amount.is_finite() and -MONEY_LIMIT < amount < MONEY_LIMIT and _places_ok(amount):
            return Decimal(amount)
        raise p.fail(path, f"an amount must be below 10^12 with at most 6 decimals, got {str(value)[:40]}")
    if isinstance(value, str) and _MONEY.fullmatch(value):
        return Decimal(value)
    raise p.fail(path, f"expected a decimal amount like \"1200.00\" (below 10^12, at most 6 decimals), got "
                 f"{json.dumps(value, default=str)[:60]}")


def _number(value: Any, path: JsonPath, p: _Problems, *, minimum: Decimal | None = None,
            maximum: Decimal | None = None, exclusive_min: bool = False, integer: bool = False) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise p.fail(path, f"expected a number, got {json.dumps(value, default=str)}")
    if integer and not isinstance(value, int):  # as the schema's "integer": 12, not 12.0 or 1e2
        raise p.fail(path, f"expected a whole number written without a decimal point or exponent, got {value}")
    number = _num(value)
    if minimum is not None and (number <= minimum if exclusive_min else number < minimum):
        raise p.fail(path, f"must be {'greater than' if exclusive_min else 'at least'} {minimum}, got {value}",
                     "quantities are positive; use a separate line or an amendment to reduce")
    if maximum is not None and number > maximum:
        raise p.fail(path, f"must be at most {maximum}, got {value}")
    result: Decimal = number
    return result


def _date(value: Any, path: JsonPath, p: _Problems) -> dt.date:
    if isinstance(value, str) and _DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise p.fail(path, f"expected an ISO date YYYY-MM-DD, got {json.dumps(value, default=str)}")


def _string(value: Any, path: JsonPath, p: _Problems) -> str:
    if not isinstance(value, str) or not value:
        raise p.fail(path, f"expected a non-empty string, got {json.dumps(value, default=str)}")
    return value


REQUIRED = ("id", "account", "owner", "currency", "date", "payment_terms", "lines")
HEADER = frozenset({*REQUIRED, "name", "start_date", "term_months", "fields"})
LINE_REQUIRED = ("id", "product", "kind", "quantity", "list_price")


def parse_quote(data: Any, source: str = "<quote>", doc: SourceDoc | None = None) -> Quote:
    """Check a quote's structure and compute what routing needs; raise InputError naming the spot.

    One pass checks and converts a well-formed quote; anything it is not sure of (a problem to
    report, an unusual type) goes through the step-by-step checks, which name the first problem.
    """
    if doc is None:
        quote = _parse_fast(data, source, 0)
        if quote is not None:
            return quote
    return _parse_checked(data, source, doc)


def _parse_checked(data: Any, source: str, doc: SourceDoc | None) -> Quote:
    p = _Problems(doc, source)
    if not isinstance(data, dict):
        raise p.fail((), "a quote must be a JSON object")
    for key in REQUIRED:
        if key not in data:
            raise p.fail((), f"missing required field {key!r}")
    unknown = sorted(set(data) - HEADER)
    if unknown:
        raise p.fail((unknown[0],), f"unknown field {unknown[0]!r}",
                     "custom header fields go under `fields`, e.g. fields.deal_type")
    quote_id = _string(data["id"], ("id",), p)
    if not _ID.fullmatch(quote_id):
        raise p.fail(("id",), f"quote id {quote_id[:80]!r} may use letters, digits, '.', '_' and '-' only "
                     "(at most 64, starting with a letter or digit)")
    account = data["account"]
    if not isinstance(account, dict) or not isinstance(account.get("id"), str) or not account.get("id"):
        raise p.fail(("account",), "account must be an object with an id and a name")
    if not _REF_ID.fullmatch(account["id"]):
        raise p.fail(("account", "id"), f"account id {account['id'][:80]!r} may use letters, digits and . _ : @ # + - "
                     "only (at most 128, starting with a letter or digit)", "ids become file names: no / or \\")
    _string(account.get("name"), ("account", "name"), p)
    for key in ("region", "country", "segment", "industry"):
        if key in account and not isinstance(account[key], str):
            raise p.fail(("account", key), f"expected a string, got {json.dumps(account[key], default=str)}")
    if "name" in data and not isinstance(data["name"], str):
        raise p.fail(("name",), "expected a string")
    owner = _string(data["owner"], ("owner",), p)
    currency = _string(data["currency"], ("currency",), p)
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise p.fail(("currency",), f"expected an ISO 4217 code like EUR, got {currency!r}")
    quote_date = _date(data["date"], ("date",), p)
    start = _date(data["start_date"], ("start_date",), p) if "start_date" in data else None
    if "term_months" in data:
        _number(data["term_months"], ("term_months",), p, minimum=Decimal(1), maximum=Decimal(600), integer=True)
    _string(data["payment_terms"], ("payment_terms",), p)
    if "fields" in data and not isinstance(data["fields"], dict):
        raise p.fail(("fields",), "fields must be an object of custom header fields")
    raw_lines = data["lines"]
    if not isinstance(raw_lines, list) or not raw_lines:
        raise p.fail(("lines",), "a quote needs at least one line")
    lines = tuple(_line(raw, i, p) for i, raw in enumerate(raw_lines))
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if line.id in seen:
            raise p.fail(("lines", i, "id"), f"line id {line.id!r} is used twice")
        seen.add(line.id)

    values = _numbers(data, skip="lines")
    return _quote(data, source, quote_id, owner, currency, quote_date, start, lines, values)


_LIST_TOTAL, _NET_TOTAL, _COST_TOTAL = itemgetter("list_total"), itemgetter("net_total"), itemgetter("cost_total")


def _quote(data: dict[str, Any], source: str, quote_id: str, owner: str, currency: str, quote_date: dt.date,
           start: dt.date | None, lines: tuple[Line, ...], values: dict[str, Any]) -> Quote:
    """The quote's derived values (both parsers end here, so both compute them alike)."""
    values["lines"] = line_values = [line.values for line in lines]
    list_total = sum(map(_LIST_TOTAL, line_values), Decimal(0))
    net_total = sum(map(_NET_TOTAL, line_values), Decimal(0))
    values["list_total"] = list_total
    values["net_total"] = net_total
    values["discount_pct"] = (1 - net_total / list_total) * HUNDRED if list_total else Decimal(0)
    values["line_count"] = Decimal(len(lines))
    costed = [v for v in line_values if v["cost_total"] is not None]
    if costed:
        cost = sum(map(_COST_TOTAL, costed), Decimal(0))
        net = sum(map(_NET_TOTAL, costed), Decimal(0))
        values["cost_total"] = cost
        values["margin_pct"] = (net - cost) / net * HUNDRED if net else None
    else:
        values["cost_total"] = values["margin_pct"] = None
    return Quote(quote_id, owner, currency, quote_date, start, lines, values, data, source)


def _line(raw: Any, index: int, p: _Problems) -> Line:
    at: JsonPath = ("lines", index)
    if not isinstance(raw, dict):
        raise p.fail(at, "a line must be a JSON object")
    for key in LINE_REQUIRED:
        if key not in raw:
            raise p.fail(at, f"line is missing required field {key!r}")
    line_id = _string(raw["id"], (*at, "id"), p)
    if not _REF_ID.fullmatch(line_id):
        raise p.fail((*at, "id"), f"line id {line_id[:80]!r} may use letters, digits and . _ : @ # + - only "
                     "(at most 128, starting with a letter or digit)", "ids become file names: no / or \\")
    product = _string(raw["product"], (*at, "product"), p)
    kind = raw["kind"]
    if kind not in LINE_KINDS:
        raise p.fail((*at, "kind"),
                     f"kind must be one of {', '.join(LINE_KINDS)}, got {json.dumps(kind, default=str)[:40]}")
    quantity = _number(raw["quantity"], (*at, "quantity"), p, minimum=Decimal(0), exclusive_min=True,
                       maximum=QUANTITY_LIMIT)
    if not _places_ok(quantity):
        raise p.fail((*at, "quantity"), f"a quantity has at most 6 decimals, got {raw['quantity']}")
    list_price = _money(raw["list_price"], (*at, "list_price"), p)
    if list_price < 0:
        raise p.fail((*at, "list_price"), "list price cannot be negative")
    discount = (_number(raw["discount_pct"], (*at, "discount_pct"), p, minimum=Decimal(0), maximum=HUNDRED)
                if "discount_pct" in raw else Decimal(0))
    cost = _money(raw["cost"], (*at, "cost"), p) if "cost" in raw else None
    for key in ("start_date", "ship_date"):
        if key in raw:
            _date(raw[key], (*at, key), p)
    for key in ("name", "family", "site", "group"):
        if key in raw and not isinstance(raw[key], str):
            raise p.fail((*at, key), f"expected a string, got {json.dumps(raw[key], default=str)}")
    if "term_months" in raw:
        _number(raw["term_months"], (*at, "term_months"), p, minimum=Decimal(1), maximum=Decimal(600),
                integer=True)
    return _line_values(line_id, product, kind, quantity, list_price, discount, cost, _numbers(raw))


# What _line_values sets on every line, whatever the line's own fields say: routing's generated
# code relies on these types (a Decimal always; a Decimal or None).
DECIMAL_LINE_FIELDS = frozenset({"quantity", "list_price", "discount_pct", "net_price", "list_total", "net_total"})
OPTIONAL_DECIMAL_LINE_FIELDS = frozenset({"cost", "cost_total", "margin_pct"})


def _line_values(line_id: str, product: str, kind: str, quantity: Decimal, list_price: Decimal, discount: Decimal,
                 cost: Decimal | None, values: dict[str, Any]) -> Line:
    net_price = list_price * (1 - discount / HUNDRED)
    # Assigned one by one in this order, which is the order of the keys (update's, formerly).
    values["quantity"] = quantity
    values["list_price"] = list_price
    values["discount_pct"] = discount
    values["net_price"] = net_price
    values["list_total"] = quantity * list_price
    values["net_total"] = quantity * net_price
    values["cost"] = cost
    values["cost_total"] = quantity * cost if cost is not None else None
    values["margin_pct"] = (net_price - cost) / net_price * HUNDRED if cost is not None and net_price else None
    return Line(line_id, product, kind, quantity, list_price, discount, values)


# ------------------------------------------------------------------------------ the one pass

# Limit checks the one pass makes (load_quote knows from the file's text which ones can matter).
CHECK_NUMBERS = 1  # numbers within 30 digits and 1e-30..1e30
CHECK_TEXT = 2  # no lone surrogate or NUL: only possible when the JSON text has a \u escape
CHECK_LENGTH = 4  # strings within 20,000 characters: only possible in a file longer than that


class _Unsure(Exception):
    """The one pass met something it leaves to the step-by-step checks."""


_LINE_REQUIRED = frozenset(LINE_REQUIRED)
_REQUIRED = frozenset(REQUIRED)
_LINE_TEXT = ("name", "family", "site", "group")
_ACCOUNT_TEXT = ("region", "country", "segment", "industry")
_CURRENCY = re.compile(r"[A-Z]{3}")


def _convert(value: Any, checks: int) -> Any:
    """A JSON value with every number a Decimal, checked against the limits in `checks`."""
    kind = type(value)
    if kind is str:
        if checks and _bad_string(value, checks):
            raise _Unsure
        return value
    if kind is int:
        if checks and not -_NUMBER_LIMIT < value < _NUMBER_LIMIT:
            raise _Unsure
        return Decimal(value)
    if kind is Decimal:
        if checks and not _decimal_ok(value):
            raise _Unsure
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or (checks and (len(key) > 200 or _bad_string(key, checks))):
                raise _Unsure
            out[key] = _convert(item, checks)
        return out
    if kind is list:
        return [_convert(item, checks) for item in value]
    if value is None or kind is bool:
        return value
    raise _Unsure  # floats (never from cpq's JSON reader) and anything else


def _bad_string(text: str, checks: int) -> bool:
    return bool((checks & CHECK_LENGTH and len(text) > MAX_STRING) or (checks & CHECK_TEXT and _BAD_TEXT.search(text)))


def _decimal_ok(value: Decimal) -> bool:
    """As limits._within: finite, at most 30 digits, magnitude and exponent within 1e-30..1e30."""
    if not value.is_finite():
        return False
    _sign, digits, exponent = value.as_tuple()
    return (len(digits) <= MAX_DIGITS and not (value and abs(value.adjusted()) > MAX_EXPONENT)
            and exponent >= -MAX_EXPONENT)  # type: ignore[operator]


_DATES: dict[str, dt.date] = {}  # a batch's quotes share a few dates: each read once


def _fast_date(value: Any) -> dt.date:
    if type(value) is str:
        found = _DATES.get(value)
        if found is not None:
            return found
        if _DATE.match(value):
            try:
                return remember(_DATES, value, dt.date.fromisoformat(value), 10_000)
            except ValueError:
                pass
    raise _Unsure


_AMOUNTS: dict[str, Decimal] = {}  # prices repeat across a batch: "1200.00" read once


def _fast_money(raw: Any, converted: Any) -> Decimal:
    if type(raw) is str:
        amount = _AMOUNTS.get(raw)
        if amount is not None:
            return amount
        if _MONEY.fullmatch(raw):
            return remember(_AMOUNTS, raw, Decimal(raw), 50_000)
        raise _Unsure
    if type(converted) is Decimal and converted.is_finite() and -MONEY_LIMIT < converted < MONEY_LIMIT \
            and _places_ok(converted):
        return converted
    raise _Unsure


def _whole(value: Any, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise _Unsure


def _text(value: Any) -> str:
    if type(value) is not str or not value:
        raise _Unsure
    return value


def _parse_fast(data: Any, source: str, checks: int, pieces: list[str] | None = None) -> Quote | None:
    """The quote, checked and converted in one walk; None when anything needs the full checks.
    In a batch, `pieces` gets the content hash's piece of each line its shape's reader reads."""
    try:
        if type(data) is not dict or not data.keys() >= _REQUIRED or not data.keys() <= HEADER:
            return None
        values: dict[str, Any] = {}
        for key, value in data.items():
            values[key] = _convert(value, checks) if key != "lines" else value
        quote_id = _text(data["id"])
        account = data["account"]
        if type(account) is not dict or not _ID.fullmatch(quote_id) or not _REF_ID.fullmatch(_text(account.get("id"))):
            return None
        _text(account.get("name"))
        for key in _ACCOUNT_TEXT:
            if key in account and type(account[key]) is not str:
                return None
        if "name" in data and type(data["name"]) is not str:
            return None
        owner, currency = _text(data["owner"]), _text(data["currency"])
        if not _CURRENCY.fullmatch(currency):
            return None
        quote_date = _fast_date(data["date"])
        start = _fast_date(data["start_date"]) if "start_date" in data else None
        if "term_months" in data:
            _whole(data["term_months"], 1, 600)
        _text(data["payment_terms"])
        if "fields" in data and type(data["fields"]) is not dict:
            return None
        raw_lines = data["lines"]
        if type(raw_lines) is not list or not raw_lines:
            return None
        seen: set[str] = set()
        if not _MANY or checks & ~CHECK_NUMBERS:  # one quote, or text checks: the general reader
            lines = tuple(_fast_line(raw, seen, checks) for raw in raw_lines)
        else:  # each line by the reader written for its shape, once there is one
            readers, read = _LINE_READERS.get, []
            for raw in raw_lines:
                reader = readers(tuple(raw)) if type(raw) is dict else None
                read.append((reader or _line_reader(raw))(raw, seen, checks, pieces))
            lines = tuple(read)
    except (_Unsure, ArithmeticError):
        return None
    return _quote(data, source, quote_id, owner, currency, quote_date, start, lines, values)


def _keys(data: dict[str, Any]) -> int:
    """The keys of the objects a quote that _parse_fast accepted is sure to have (more nested
    objects are not counted, so all_keys_read says no and the file is read again)."""
    fields = data.get("fields")
    return len(data) + len(data["account"]) + (len(fields) if fields is not None else 0) + sum(map(len, data["lines"]))


_SMALL = {i: Decimal(i) for i in range(-100, 1001)}  # quantities, discounts, terms (Decimals are immutable)


def _fast_line(raw: Any, seen: set[str], checks: int, pieces: list[str] | None = None) -> Line:
    """A line checked and converted (`pieces` is a reader's: this one writes none, so a quote
    read with it is hashed the plain way)."""
    if type(raw) is not dict or not raw.keys() >= _LINE_REQUIRED:
        raise _Unsure
    values = dict(raw)  # converted in place below: keeps the order of the keys
    text_checks = checks & (CHECK_TEXT | CHECK_LENGTH)
    for key, value in raw.items():
        kind = type(value)
        if kind is str:
            if text_checks and _bad_string(value, checks):
                raise _Unsure
        elif kind is int:
            number = _SMALL.get(value)
            if number is None:
                if checks and not -_NUMBER_LIMIT < value < _NUMBER_LIMIT:
                    raise _Unsure
                number = Decimal(value)
            values[key] = number
        elif value is not None and kind is not bool:
            values[key] = _convert(value, checks)
    if checks and (max(map(len, raw)) > 200 or (text_checks and any(_bad_string(k, checks) for k in raw))):
        raise _Unsure
    line_id, product, kind = _text(raw["id"]), _text(raw["product"]), raw["kind"]
    if not _REF_ID.fullmatch(line_id) or line_id in seen or type(kind) is not str or kind not in LINE_KINDS:
        raise _Unsure
    seen.add(line_id)
    quantity = values["quantity"]
    if type(quantity) is not Decimal or not quantity.is_finite() or not 0 < quantity <= QUANTITY_LIMIT \
            or (type(raw["quantity"]) is not int and not _places_ok(quantity)):  # a whole number has no places
        raise _Unsure
    list_price = _fast_money(raw["list_price"], values["list_price"])
    if list_price < 0:
        raise _Unsure
    if "discount_pct" in raw:
        discount = values["discount_pct"]
        if type(discount) is not Decimal or not discount.is_finite() or not 0 <= discount <= HUNDRED:
            raise _Unsure
    else:
        discount = Decimal(0)
    cost = _fast_money(raw["cost"], values["cost"]) if "cost" in raw else None
    for key in ("start_date", "ship_date"):
        if key in raw:
            _fast_date(raw[key])
    for key in _LINE_TEXT:
        if key in raw and type(raw[key]) is not str:
            raise _Unsure
    if "term_months" in raw:
        _whole(raw["term_months"], 1, 600)
    return _line_values(line_id, product, kind, quantity, list_price, discount, cost, values)


def content_hash_read(quote: Quote, pieces: list[str]) -> str:
    """quote.content_hash, from the pieces load_quote(path, pieces) gave when every line has
    one: the pieces of the values of that very read, written as the readers checked them (a
    test holds them to the plain form), so the lines are not walked a second time."""
    if len(pieces) == len(quote.lines):
        return content_hash_with_lines(quote.data, pieces)
    return quote.content_hash


_FIRST_READ = 1 << 16
_BUFFER = bytearray(_FIRST_READ)  # a batch's reads land here: no 64 KB allocation (and its page faults) a file


def _read_text(path: Path, limit: int) -> str:
    """The file as UTF-8 text; "" when it says it is longer than `limit` bytes (the located
    reader then says so). With the os calls: half the time of open().read() for a file of a
    few KB. In a batch (one thread), a file shorter than the first read is read into one
    reused buffer without being asked its size. A file system that gives less than that before
    the end (procfs) leaves a text cut short, which the one pass refuses (a JSON object cut
    short does not parse), and the located reader reads the file again to its end."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _MANY and hasattr(os, "readv"):
            read = os.readv(fd, [_BUFFER])
            if read <= limit and read < _FIRST_READ:
                return str(memoryview(_BUFFER)[:read], "utf-8")
            data = bytes(_BUFFER[:read])
        else:
            data = b""
        size = os.fstat(fd).st_size
        if size > limit:
            return ""
        more = os.read(fd, size + 1 - len(data)) if size >= len(data) else b""
        data += more
        if len(data) != size:  # a short read, or the file grew, or said no size (/proc): to the end
            chunks = [data]
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data.decode("utf-8")
    finally:
        os.close(fd)


def load_quote(path: Path, pieces: list[str] | None = None) -> Quote:
    """Read and check a quote file; any problem is one InputError line naming file, line and field.

    The happy path reads plain JSON; positions are worked out only when there is an error to place.
    In a batch, `pieces` (emptied first) gets the content hash's piece of each of the quote's
    lines that its shape's reader read (see content_hash_read).
    """
    from cpq_cli.limits import (
        MAX_FILE_BYTES,
        MAX_NODES,
        all_keys_read,
        limit_problem,
        plain_json,
        quick_json,
        strict_json,
    )
    from cpq_cli.paths import display_path

    shown = display_path(path)
    try:
        text = _read_text(path, MAX_FILE_BYTES)
    except (OSError, ValueError):
        text = None
    if text is not None and len(text) < MAX_NODES:  # fewer characters than the limit's values
        # One pass: integers parsed in C, the limits checked while converting. Only what it is
        # not sure of goes the step-by-step way below, which names the problem.
        checks = CHECK_NUMBERS | (CHECK_TEXT if "\\u" in text else 0) | (CHECK_LENGTH if len(text) > MAX_STRING else 0)
        try:
            if pieces is not None:
                pieces.clear()
            quote = _parse_fast(plain_json(text), shown, checks, pieces)
            if quote is not None and not all_keys_read(text, _keys(quote.data)):  # a duplicate, or a colon in a string
                if pieces is not None:
                    pieces.clear()
                quote = _parse_fast(quick_json(text), shown, checks, pieces)
        except (ValueError, RecursionError):
            quote = None
        if quote is not None:
            return quote
    if pieces is not None:
        pieces.clear()  # read the plain way below: none of its lines has a piece
    try:
        data = strict_json(text) if text is not None else None  # the same rules as the located reader
        if limit_problem(data) is not None:
            data = None
    except (ValueError, RecursionError):
        data = None  # let the located reader below say exactly what is wrong
    if isinstance(data, dict):
        try:
            return _parse_checked(data, shown, None)
        except QuoteInvalid:
            pass
    from cpq_cli.sources import ParseFailure, load_document

    try:
        doc = load_document(path, "json")
    except ParseFailure as failure:
        d = failure.diagnostic
        where = f"{d.file}:{d.line}:{d.column}" if d.line else d.file
        raise InputError(f"{where}: {d.message}", hint=d.hint) from None
    return parse_quote(doc.data, doc.path, doc)


# ------------------------------------------------------------------ lines of one shape, written out

# Lines with the same keys in the same order (every line of a batch, mostly) are read by a
# function written for those keys: _fast_line without the loop over the keys and the tests of
# which are present, built with compile() once the shape has been met a few times. It accepts
# exactly what _fast_line accepts, with the same values in the same order (tests/test_compiled.py).
LineReader = Callable[[Any, set[str], int, "list[str] | None"], Line]
_LINE_READERS: dict[tuple[Any, ...], LineReader] = {}
_FACTORS = {i: 1 - Decimal(i) / HUNDRED for i in range(101)}  # _line_values's, for a whole discount
_SHAPES_MET: dict[tuple[Any, ...], int] = {}
_WRITE_AFTER = 4  # in a batch, a shape met this often gets its reader
_MANY = False  # a batch: set by expect_many()


def expect_many() -> None:
    """Read and hash many quotes in this process (a batch, from 200 quotes): line shapes met four
    times get a reader of their own (compile() costs ~0.1 ms a shape, which a one-quote command
    would not earn back), and the content hash its writers and OpenSSL's SHA-256."""
    global _MANY
    _MANY = True
    content_hash_expect_many()


_DERIVED = {"quantity": "quantity", "list_price": "list_price", "discount_pct": "discount", "net_price": "net_price",
            "list_total": "list_total", "net_total": "net_total", "cost": "cost", "cost_total": "cost_total",
            "margin_pct": "margin"}  # _line_values's keys, in its order, and the local that holds each


def _line_reader(raw: Any) -> LineReader:
    """The reader for lines shaped like `raw`; _fast_line itself until the shape is common."""
    if type(raw) is not dict:
        return _fast_line
    keys = tuple(raw)
    met = _SHAPES_MET.get(keys, 0) + 1
    if met < _WRITE_AFTER or not raw.keys() >= _LINE_REQUIRED or len(keys) > 64 \
            or any(type(key) is not str or len(key) > 200 for key in keys):
        remember(_SHAPES_MET, keys, met, 1_000)
        return _fast_line
    reader = _write_line_reader(keys)
    remember(_LINE_READERS, keys, reader, 200)
    return reader


def _converted(i: int) -> list[str]:
    """_fast_line's conversion of the value v{i} into c{i}."""
    return [f"t = type(v{i})",
            "if t is int:",
            f"    c{i} = _SMALL.get(v{i})",
            f"    if c{i} is None:",
            f"        if checks and not -_NUMBER_LIMIT < v{i} < _NUMBER_LIMIT:",
            "            raise _Unsure",
            f"        c{i} = Decimal(v{i})",
            f"elif t is str or v{i} is None or t is bool:",
            f"    c{i} = v{i}",
            "else:",
            f"    c{i} = _convert(v{i}, checks)"]


_GOOD_IDS: dict[str, bool] = {}  # line ids met before and allowed (L1, L2...: a batch's lines share them)


def _good_id(value: str) -> bool:
    """Whether `value` is an allowed line id (not empty, _REF_ID's characters), remembered when it is."""
    if value and _REF_ID.fullmatch(value):
        remember(_GOOD_IDS, value, True, 10_000)
        return True
    return False


def _write_line_reader(keys: tuple[str, ...]) -> LineReader:
    body: list[str] = []
    local = {key: f"c{i}" for i, key in enumerate(keys)}
    for i, key in enumerate(keys):
        v = f"v{i}"
        match key:
            case "id":
                body += [f"if type({v}) is not str or {v} in seen or {v} not in _GOOD_IDS and not _good_id({v}):",
                         "    raise _Unsure", f"line_id = {v}"]
                local[key] = v
            case "start_date" | "ship_date":
                body.append(f"_fast_date({v})")
                local[key] = v
            case "product" | "name" | "family" | "site" | "group" | "kind":
                test = {"product": f"type({v}) is not str or not {v}",
                        "kind": f"type({v}) is not str or {v} not in LINE_KINDS"}.get(key, f"type({v}) is not str")
                body += [f"if {test}:", "    raise _Unsure"]
                local[key] = v
            case "quantity":
                body += [f"if type({v}) is int and 0 < {v} <= 1000:",  # the common case, known good
                         f"    quantity = _SMALL[{v}]",
                         "else:",
                         f"    if type({v}) is int:",
                         f"        if checks and not -_NUMBER_LIMIT < {v} < _NUMBER_LIMIT:",
                         "            raise _Unsure",
                         f"        quantity = Decimal({v})",
                         f"    elif type({v}) is Decimal and (not checks or _decimal_ok({v})) and _places_ok({v}):",
                         f"        quantity = {v}",
                         "    else:",
                         "        raise _Unsure",
                         "    if not quantity.is_finite() or not 0 < quantity <= QUANTITY_LIMIT:",
                         "        raise _Unsure"]
            case "list_price" | "cost":
                body += [f"{key} = _AMOUNTS.get({v}) if type({v}) is str else None",  # a price met before
                         f"if {key} is None:",
                         *(f"    {ln}" for ln in _converted(i)),
                         f"    {key} = _fast_money({v}, c{i})"]
                if key == "list_price":
                    body += ["if list_price < _ZERO:", "    raise _Unsure"]
            case "discount_pct":
                body += [f"if type({v}) is int and 0 <= {v} <= 100:",  # the common case, known good
                         f"    discount, factor = _SMALL[{v}], _FACTORS[{v}]",
                         "else:",
                         *(f"    {ln}" for ln in _converted(i)),
                         f"    if type(c{i}) is not Decimal or not c{i}.is_finite() or not 0 <= c{i} <= HUNDRED:",
                         "        raise _Unsure",
                         f"    discount, factor = c{i}, 1 - c{i} / HUNDRED"]
            case "term_months":
                body += [f"if type({v}) is not int or not 1 <= {v} <= 600:", "    raise _Unsure", f"c{i} = _SMALL[{v}]"]
            case _:
                body += _converted(i)
    if "discount_pct" not in keys:
        body.append("discount, factor = _ZERO, _FACTORS[0]")
    body += ["net_price = list_price * factor", "list_total = quantity * list_price",
             "net_total = quantity * net_price"]
    if "cost" in keys:
        body += ["cost_total = quantity * cost",
                 "margin = (net_price - cost) / net_price * HUNDRED if net_price else None"]
    else:
        body += ["cost = cost_total = margin = None"]
    for key, name in _DERIVED.items():
        local[key] = name  # at the key's place when the line has it, after the line's keys when not
    place = {key: i for i, key in enumerate(keys)}  # the line's keys enter as objects (k{i}), never as text
    values = ", ".join(f"k{place[key]}: {name}" if key in place else f"{key!r}: {name}" for key, name in local.items())
    body += _piece_statements(keys)
    body += ["seen.add(line_id)",
             f"return _new_tuple(Line, (line_id, {local['product']}, {local['kind']}, quantity, list_price, "
             f"discount, {{{values}}}))"]
    unpack = "".join(f"v{i}, " for i in range(len(keys)))
    heads = object_heads(keys)
    params = "".join(f", k{i}=K[{i}]" for i in range(len(keys)))  # bound once: as quick to read as a constant
    params += "".join(f", h{j}=H[{j}]" for j in range(len(heads)))  # the hash's key pieces, likewise
    lines = [f"def read(raw, seen, checks, pieces=None{params}):", f"    {unpack}= raw.values()",
             *(f"    {ln}" for ln in body)]
    source = "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {
        "_SMALL": _SMALL, "_NUMBER_LIMIT": _NUMBER_LIMIT, "Decimal": Decimal, "_convert": _convert, "_Unsure": _Unsure,
        "_REF_ID": _REF_ID, "LINE_KINDS": LINE_KINDS, "_fast_date": _fast_date, "_decimal_ok": _decimal_ok,
        "_places_ok": _places_ok, "QUANTITY_LIMIT": QUANTITY_LIMIT, "_fast_money": _fast_money, "HUNDRED": HUNDRED,
        "_ZERO": Decimal(0), "_new_tuple": tuple.__new__, "Line": Line, "K": keys, "_AMOUNTS": _AMOUNTS,
        "_FACTORS": _FACTORS, "_GOOD_IDS": _GOOD_IDS, "_good_id": _good_id, "H": tuple(h for _, h in heads),
        **PIECE_NAMES}
    exec(compile(source, f"<cpq line reader {len(keys)} keys>", "exec"), namespace)
    reader: LineReader = namespace["read"]
    return reader


# The kind of value each line field holds once the reader has checked it (content_hash.piece_source).
_PIECE_KINDS = {"id": "str", "product": "str", "name": "str", "family": "str", "site": "str", "group": "str",
                "kind": "str", "start_date": "str", "ship_date": "str", "quantity": "number", "discount_pct": "number",
                "term_months": "number", "list_price": "money", "cost": "money"}


def _piece_statements(keys: tuple[str, ...]) -> list[str]:
    """The reader's last statements: the line's piece of the content hash appended to `pieces`
    (when given), written from the values as checked; a value of no known kind that has no
    piece (a value JSON does not give) leaves the line without one, and its quote is hashed
    the plain way."""
    kinds = [_PIECE_KINDS.get(key, "any") for key in keys]
    out = ["if pieces is not None:"]
    unusual = []
    for i, kind in enumerate(kinds):
        if kind == "any":
            out.append(f"    a{i} = {piece_source(f'v{i}', kind)}")
            unusual.append(f"a{i} is not None")
    items = [f"{{h{j}}}{{{f'a{i}' if kinds[i] == 'any' else piece_source(f'v{i}', kinds[i])}}}]"
             for j, (i, _head) in enumerate(object_heads(keys))]
    append = f"""pieces.append(f'["obj",[{",".join(items)}]]')"""
    if unusual:
        out += [f"    if {' and '.join(unusual)}:", f"        {append}"]
    else:
        out.append(f"    {append}")
    return out
