"""The names a `when` or `where` expression may use, from the quote schema and the derived values."""

from __future__ import annotations

from functools import cache

# Computed by the quote model (quote.py); kept here so that lint need not import it.
QUOTE_DERIVED = ("list_total", "net_total", "discount_pct", "line_count", "cost_total", "margin_pct")
LINE_DERIVED = ("net_price", "list_total", "net_total", "cost_total", "margin_pct")


@cache
def quote_names() -> frozenset[str]:
    from cpq_cli.schemas import load_schema

    return frozenset(load_schema("quote")["properties"]) | frozenset(QUOTE_DERIVED)


@cache
def line_names() -> frozenset[str]:
    from cpq_cli.schemas import load_schema

    return frozenset(load_schema("quote")["$defs"]["line"]["properties"]) | frozenset(LINE_DERIVED)
