"""Order management commands: order, split, orders list|show|activate|amend, contract, entitlements, revenue,
renew. Each parses its options, calls one service (`services.orders`) and prints the record it returns."""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path

import typer

from cpq_cli.cli.options import AS, FORMAT, JOURNAL, POLICIES, Format, context, emit
from cpq_cli.errors import InputError


class FileFormat(StrEnum):
    json = "json"
    yaml = "yaml"
    toml = "toml"


class Method(StrEnum):
    by_end_date = "by_end_date"
    single = "single"


FILE_FORMAT = typer.Option(FileFormat.json, "--format", "-f", help="The files: json, yaml or toml.")
JSON_SUMMARY = typer.Option(False, "--json", help="Print the summary as JSON instead of text.")
OUT_DIR = typer.Option(None, "--dir", help="Where order and contract files go.", show_default="from cpq.toml: orders/")

orders_app = typer.Typer(help="List, show, activate and amend orders.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    for name, fn in (("order", order), ("split", split), ("contract", contract), ("entitlements", entitlements),
                     ("revenue", revenue), ("renew", renew)):
        app.command(name, help=fn.__doc__)(fn)
    for sub_name, sub_fn in (("list", list_orders), ("show", show), ("activate", activate), ("amend", amend)):
        orders_app.command(sub_name, help=sub_fn.__doc__)(sub_fn)
    app.add_typer(orders_app, name="orders")


def _date(value: str | None, label: str, today: dt.date) -> dt.date:
    if value is None:
        return today
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD)", param_hint=label) from None


def order(
    quote: str = typer.Argument(None, help="Quote file or id (default: the only approved quote without orders).",
                                show_default=False),
    file_format: FileFormat = FILE_FORMAT, out_dir: Path = OUT_DIR, as_json: bool = JSON_SUMMARY,
    journal: str = JOURNAL, policies: Path = POLICIES, as_user: str = AS,
) -> None:
    """Make one order from an approved quote (its content must equal what was approved).

    The order file and its journal rows are written together or not at all; running it again
    changes nothing. A future-dated order stays DRAFT until `cpq orders activate`.
    """
    from cpq_cli.services import orders as service

    ctx = context(journal=journal, policies=policies, as_user=as_user)
    emit(Format.json if as_json else Format.text, service.make_orders(ctx, quote, (), file_format.value, out_dir))


def split(
    quote: str = typer.Argument(None, help="Quote file or id (default: the only approved quote without orders).",
                                show_default=False),
    by: str = typer.Option(..., "--by", help="Line field(s) to split by, comma-separated: site, start_date, group..."),
    file_format: FileFormat = FILE_FORMAT, out_dir: Path = OUT_DIR, as_json: bool = JSON_SUMMARY,
    journal: str = JOURNAL, policies: Path = POLICIES, as_user: str = AS,
) -> None:
    """Make one order per distinct value of line field(s) of an approved quote.

    Lines with no value share one order; orders are numbered by first appearance in line order.
    """
    fields = tuple(f.strip() for f in by.split(",") if f.strip())
    if not fields:
        raise InputError("--by needs at least one field name")
    from cpq_cli.services import orders as service

    ctx = context(journal=journal, policies=policies, as_user=as_user)
    emit(Format.json if as_json else Format.text, service.make_orders(ctx, quote, fields, file_format.value, out_dir))


def list_orders(
    quote: str = typer.Option(None, "--quote", help="Only this quote's orders.", show_default=False),
    fmt: Format = FORMAT, journal: str = JOURNAL,
) -> None:
    """List orders with their status."""
    from cpq_cli.services import orders as service

    emit(fmt, service.list_orders(context(journal=journal), quote))


def show(order_id: str = typer.Argument(..., help="The order id."), fmt: Format = FORMAT,
         journal: str = JOURNAL) -> None:
    """Show an order: its lines, and amendments as separate delta lines."""
    from cpq_cli.services import orders as service

    emit(fmt, service.show_order(context(journal=journal), order_id))


def activate(
    as_of: str = typer.Option(None, "--as-of", help="Activate orders that start on or before this date.",
                              show_default="today"),
    fmt: Format = FORMAT, journal: str = JOURNAL,
) -> None:
    """Activate future-dated (DRAFT) orders whose start date has come. Idempotent."""
    from cpq_cli.services import orders as service

    ctx = context(journal=journal)
    emit(fmt, service.activate_orders(ctx, _date(as_of, "--as-of", ctx.clock.today)))


def amend(
    order_id: str = typer.Argument(..., help="The order id."),
    line: str | None = typer.Option(None, "--line", help="The line to change: its quote line id, e.g. L2 (or "
                                    "N1, a line an amendment added).", show_default=False),
    add: str | None = typer.Option(None, "--add", help="Add this product (a catalog code) instead, co-terminated "
                                   "with the order's contract.", show_default=False),
    quantity: str = typer.Option(..., "--quantity", help="The quantity from --from on (0 removes the line)."),
    starts: str | None = typer.Option(None, "--from", help="When the change takes effect.", show_default="today"),
    price: str | None = typer.Option(None, "--price", help="With --add: the unit price (net) for the product's "
                                     "price term (its price.term_months, else 12 months).", show_default=False),
    list_price: str | None = typer.Option(None, "--list-price", help="With --add: the list unit price.",
                                   show_default="--price"),
    kind: str | None = typer.Option(None, "--kind", help="With --add: subscription or asset.",
                             show_default="the catalog's kind"),
    contract_id: str | None = typer.Option(None, "--contract", help="With --add: the contract to co-terminate with.",
                                    show_default="the order's only contract"),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES, out_dir: Path = OUT_DIR,
) -> None:
    """Set a line's quantity from a date, or add a product, as a prorated -/+ delta.

    The change runs from --from until the next change already on record, or the line's end, and
    its delta is against the quantity in effect that day: amendments may come in any order.
    Subscriptions are prorated; assets are not (open-ended, priced in full). A new product runs
    to the contract's end. Existing lines are never edited: each change is a new line and a file.
    """
    from cpq_cli.services import orders as service

    ctx = context(journal=journal, policies=policies)
    emit(fmt, service.amend(ctx, order_id, line, add, quantity, _date(starts, "--from", ctx.clock.today), price,
                            list_price, kind, contract_id, out_dir))


def contract(
    orders: list[str] = typer.Argument(..., help="Activated order ids."),
    method: Method = typer.Option(None, "--method", help="by_end_date (one contract per subscription end date) "
                                  "or single.", show_default="from the policy settings: by_end_date"),
    file_format: FileFormat = FILE_FORMAT, out_dir: Path = OUT_DIR, as_json: bool = JSON_SUMMARY,
    journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Make contracts from activated orders: subscriptions from subscription lines, assets from asset lines."""
    from cpq_cli.services import orders as service

    ctx = context(journal=journal, policies=policies)
    made = service.make_contracts(ctx, orders, method.value if method else None, file_format.value, out_dir)
    emit(Format.json if as_json else Format.text, made)


def entitlements(
    account: str = typer.Argument(..., help="The account id, e.g. ACME."),
    at: str = typer.Option(None, "--at", help="The date (default: today)."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """What an account is entitled to on a date: subscriptions and assets in effect, amendments summed, SLA."""
    from cpq_cli.services import orders as service

    ctx = context(journal=journal, policies=policies)
    emit(fmt, service.entitlements(ctx, account, _date(at, "--at", ctx.clock.today)))


def revenue(
    account: str = typer.Argument(None, help="The account id (default: every account).", show_default=False),
    by: str = typer.Option("month", "--by", help="Period (month)."),
    method: str = typer.Option("daily", "--method", help="daily (by days); month30 (30/360 as Odoo: every month 30 "
                               "days, a partial month from its start to the 30th, a 31st counts as the 30th); "
                               "month30_actual (full months 30, a partial month its actual days, at most 30)."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Revenue recognition by month: subscriptions ratably, assets and one-time lines at their start.

    Each line's schedule adds up exactly to its amount (the rounding remainder lands in its last
    month), so the totals add up to the contract value.
    """
    from cpq_cli.services import orders as service

    if by != "month":
        raise InputError(f"--by {by!r} is not supported", hint="--by month")
    found = service.revenue(context(journal=journal, policies=policies), account, method)
    emit(fmt, found)
    if fmt is Format.text:
        print(f"total    {found.total:>18}", file=sys.stderr)


def renew(
    contract_id: str = typer.Argument(..., help="The contract id."),
    pricing: str = typer.Option("same", "--pricing", help="same | list | uplift:P (percent on list price)."),
    output: Path = typer.Option(None, "--output", "-o", help="Where to write the renewal quote.",
                                show_default="<contract>-renewal.json"),
    fmt: Format = FORMAT, journal: str = JOURNAL,
) -> None:
    """Write a renewal quote starting the day after the contract ends, for its current quantities.

    Its id is unique per contract (the first order's quote id, -R and the contract's number); its
    lines keep the contracted lines' fields (site, name, family, group, cost, custom), so the
    renewal routes and splits like the original. Subscriptions not in effect at the contract's
    end (ended earlier, or amended to 0) are not renewed.
    """
    from cpq_cli.services import orders as service

    emit(fmt, service.renew(context(journal=journal), contract_id, pricing, output))
