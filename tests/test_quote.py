"""The quote model: exact derived values, and one located line for every structural problem."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cpq_cli.errors import InputError
from cpq_cli.lint.runner import check_quote_file
from cpq_cli.quote import content_hash, load_quote, parse_quote
from tests.conftest import QUOTES
from tests.helpers import BASE_QUOTE


def test_derived_values_are_exact_decimals() -> None:
    quote = parse_quote(copy.deepcopy(BASE_QUOTE))
    l1, l2 = (line.values for line in quote.lines)
    assert l1["net_price"] == Decimal("90.00") and l1["net_total"] == Decimal("180.00")
    assert l1["list_total"] == Decimal("200.00")
    assert l1["margin_pct"] == Decimal(30) / Decimal(90) * 100
    assert l2["net_total"] == Decimal("240.00") and l2["margin_pct"] is None
    assert quote.values["list_total"] == Decimal("500.00")
    assert quote.values["net_total"] == Decimal("420.00")
    assert quote.values["discount_pct"] == Decimal(16)
    assert quote.values["line_count"] == Decimal(2)
    assert quote.values["cost_total"] == Decimal("120.00")
    for value in (*quote.values.values(), *l1.values()):
        assert not isinstance(value, float)


def test_every_example_quote_loads_and_validates() -> None:
    for path in sorted(QUOTES.glob("*.json")):
        quote = load_quote(path)
        assert quote.values["net_total"] > 0
        assert check_quote_file(path) == [], path


def test_content_hash_ignores_formatting_but_not_values() -> None:
    a = copy.deepcopy(BASE_QUOTE)
    b = json.loads(json.dumps(a, indent=4))
    assert content_hash(a) == content_hash(b)
    b["lines"][0]["quantity"] = 3
    assert content_hash(a) != content_hash(b)


# (mutation, JSON path named in the error) — fields routing reads; the schema rejects each too.
BAD = [
    (lambda q: q.pop("owner"), "missing required field 'owner'"),
    (lambda q: q.update(date="2026-13-01"), "$.date"),
    (lambda q: q.update(date="next week"), "$.date"),
    (lambda q: q.update(currency="euro"), "$.currency"),
    (lambda q: q.update(lines=[]), "$.lines"),
    (lambda q: q.update(extra=1), "unknown field 'extra'"),
    (lambda q: q.update(term_months=0), "$.term_months"),
    (lambda q: q.update(term_months=1.5), "$.term_months"),
    (lambda q: q["lines"][0].update(quantity=-2), "$.lines[0].quantity"),
    (lambda q: q["lines"][0].update(quantity=0), "$.lines[0].quantity"),
    (lambda q: q["lines"][0].update(quantity="4"), "$.lines[0].quantity"),
    (lambda q: q["lines"][1].update(list_price="12,00"), "$.lines[1].list_price"),
    (lambda q: q["lines"][1].update(list_price=True), "$.lines[1].list_price"),
    (lambda q: q["lines"][1].update(discount_pct=101), "$.lines[1].discount_pct"),
    (lambda q: q["lines"][1].update(discount_pct=-1), "$.lines[1].discount_pct"),
    (lambda q: q["lines"][1].update(kind="service"), "$.lines[1].kind"),
    (lambda q: q["lines"][1].update(start_date="2027-02-30"), "$.lines[1].start_date"),
    (lambda q: q["lines"][1].update(family=7), "$.lines[1].family"),
    (lambda q: q["lines"][1].pop("product"), "missing required field 'product'"),
    (lambda q: q["account"].pop("name"), "$.account"),
    (lambda q: q.update(id="has space"), "$.id"),
]


@pytest.mark.parametrize(("mutate", "needle"), BAD, ids=[b[1] for b in BAD])
def test_model_and_schema_both_reject(tmp_path: Path, mutate: Any, needle: str) -> None:
    data = copy.deepcopy(BASE_QUOTE)
    mutate(data)
    path = tmp_path / "quote.json"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(InputError) as info:
        load_quote(path)
    message = str(info.value)
    assert needle in message
    assert "quote.json:" in message  # the file, then line and column where known
    assert check_quote_file(path), "the JSON Schema accepted what the model refused"


def test_duplicate_line_ids_are_refused() -> None:
    data = copy.deepcopy(BASE_QUOTE)
    data["lines"][1]["id"] = "L1"
    with pytest.raises(InputError, match="used twice"):
        parse_quote(data)


def test_errors_carry_the_line_of_the_bad_value(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE_QUOTE)
    data["lines"][1]["quantity"] = -5
    path = tmp_path / "q.json"
    path.write_text(json.dumps(data, indent=2))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "-5" in text)
    with pytest.raises(InputError) as info:
        load_quote(path)
    assert f"q.json:{line}:" in str(info.value)


@pytest.mark.parametrize("content", [b"{not json", b"", b"[1, 2]", b"\xff\xfe{}", b"{\"id\": 1e999999}"])
def test_malformed_quote_files_are_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "q.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_quote(path)
    assert "\n" not in str(info.value)


# A duplicate key at every depth a quote has, alone and beside strings holding colons (the reader
# proves a file has no duplicate by counting its colons against the keys it read).
DUPLICATES = [
    ('"owner": "rep",', '"owner": "rep", "owner": "boss",', "owner"),
    ('"region": "EMEA"', '"region": "EMEA", "region": "AMER"', "region"),
    ('"deal_type": "new"', '"deal_type": "new", "deal_type": "renewal"', "deal_type"),
    ('"discount_pct": 10,', '"discount_pct": 10, "discount_pct": 90,', "discount_pct"),
    ('"deal_type": "new"', '"deal_type": {"a": 1, "a": 2}', "a"),
]
COLONS = [None, ("Net 30", "Net 30: due 10:00"), ("Acme", "Acme: EMEA"), ("P1", "P1:a:b:c")]


@pytest.mark.parametrize(("old", "new", "key"), DUPLICATES)
@pytest.mark.parametrize("colons", COLONS)
def test_a_duplicate_key_is_refused_wherever_it_is(tmp_path: Path, old: str, new: str, key: str,
                                                    colons: tuple[str, str] | None) -> None:
    text = json.dumps(BASE_QUOTE)
    if colons is not None:
        text = text.replace(f'"{colons[0]}"', f'"{colons[1]}"', 1)
    path = tmp_path / "q.json"
    path.write_text(text)
    loaded = load_quote(path)  # without the duplicate: read, colons and all
    assert colons is None or colons[1] in json.dumps(loaded.data)
    assert text.count(old) == 1
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError, match=f"duplicate key '{key}'"):
        load_quote(path)


def test_colons_in_strings_change_nothing_read(tmp_path: Path) -> None:
    plain, colons = dict(copy.deepcopy(BASE_QUOTE)), copy.deepcopy(BASE_QUOTE)
    colons["name"] = plain["name"] = "x"
    colons["fields"] = {"note": "a: b", "deal_type": "new"}
    plain["fields"] = {"note": "a_ b", "deal_type": "new"}
    (tmp_path / "a.json").write_text(json.dumps(plain))
    (tmp_path / "b.json").write_text(json.dumps(colons))
    a, b = load_quote(tmp_path / "a.json"), load_quote(tmp_path / "b.json")
    assert a.values | {"fields": None} == b.values | {"fields": None} and b.data["fields"]["note"] == "a: b"


@pytest.mark.parametrize("batch", [False, True])  # a batch reads into one reused buffer first
def test_a_file_is_read_to_its_end_whatever_its_size_said(tmp_path: Path, batch: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from cpq_cli import quote as quote_module
    from cpq_cli.quote import _read_text

    monkeypatch.setattr(quote_module, "_MANY", batch)

    status = Path("/proc/self/status")  # a size of 0, and text behind it
    assert status.stat().st_size == 0
    assert _read_text(status, 1000).startswith("Name:")
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * 70_000)
    assert _read_text(big, 100_000) == "x" * 70_000 and _read_text(big, 69_999) == ""
    for size in (0, 1, 65_535, 65_536, 65_537):  # around the first read's size
        big.write_bytes(b"y" * size)
        assert _read_text(big, 100_000) == "y" * size and _read_text(big, size) == "y" * size
        if size:
            assert _read_text(big, size - 1) == ""
    small = tmp_path / "small.json"
    small.write_text("é{}")
    assert _read_text(small, 10) == "é{}" and _read_text(big, 10) == ""  # nothing of the last read is left over
    (tmp_path / "bad.json").write_bytes(b"\xff")
    with pytest.raises(UnicodeDecodeError):
        _read_text(tmp_path / "bad.json", 10)
