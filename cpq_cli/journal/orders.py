"""The order tables: orders, order lines, contracts, and the files their commands write.

Reads return typed records; an order's status changes along `states.TRANSITIONS` only.
All functions run inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cpq_cli.journal.db import Connection
from cpq_cli.journal.order_records import Contract, Order, OrderLine
from cpq_cli.journal.records import from_row, maybe
from cpq_cli.journal.states import OrderStatus, move

# ----------------------------------------------------------------------------------------- orders


def order(conn: Connection, order_id: str) -> Order | None:
    return maybe(Order, conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone())


def orders_of_quote(conn: Connection, quote_id: str) -> list[Order]:
    return [from_row(Order, r) for r in conn.execute("SELECT * FROM orders WHERE quote_id = ? ORDER BY number",
                                                    (quote_id,))]


def all_orders(conn: Connection, quote_id: str | None = None) -> list[Order]:
    if quote_id is None:
        rows = conn.execute("SELECT * FROM orders ORDER BY quote_id, number")
    else:
        rows = conn.execute("SELECT * FROM orders WHERE quote_id = ? ORDER BY number", (quote_id,))
    return [from_row(Order, r) for r in rows]


def due_orders(conn: Connection, as_of: str) -> list[Order]:
    """DRAFT orders that start on or before `as_of`."""
    return [from_row(Order, r) for r in conn.execute(
        "SELECT * FROM orders WHERE status = 'DRAFT' AND start_date <= ? ORDER BY id", (as_of,))]


def live_orders_of_submission(conn: Connection, submission_id: str) -> list[Order]:
    return [from_row(Order, r) for r in conn.execute(
        "SELECT * FROM orders WHERE submission_id = ? AND status != 'CANCELLED' ORDER BY id", (submission_id,))]


def insert_order(conn: Connection, record: Order) -> None:
    conn.execute(
        "INSERT INTO orders (id, quote_id, submission_id, number, account_id, currency, status, start_date, "
        "split_by, split_key, file, data, created_at, activated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (record.id, record.quote_id, record.submission_id, record.number, record.account_id, record.currency,
         str(record.status), record.start_date, record.split_by, record.split_key, record.file, record.data,
         record.created_at, record.activated_at))


def set_order_status(conn: Connection, record: Order, new: OrderStatus, stamp: str) -> None:
    move(f"order {record.id}", record.status, new)
    if new is OrderStatus.ACTIVATED:
        conn.execute("UPDATE orders SET status = ?, activated_at = ? WHERE id = ? AND status = ?",
                     (str(new), stamp, record.id, str(record.status)))
    else:
        conn.execute("UPDATE orders SET status = ? WHERE id = ? AND status = ?",
                     (str(new), record.id, str(record.status)))


# ------------------------------------------------------------------------------------ order lines


def insert_line(conn: Connection, line: OrderLine) -> None:
    conn.execute(
        "INSERT INTO order_lines (id, order_id, quote_line, amends, account_id, product, kind, quantity, "
        "unit_price, list_price, amount, start_date, end_date, term_months, contract_id, created_at, fields, "
        "price_term_months) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (line.id, line.order_id, line.quote_line, line.amends, line.account_id, line.product, line.kind,
         line.quantity, line.unit_price, line.list_price, line.amount, line.start_date, line.end_date,
         line.term_months, line.contract_id, line.created_at,
         None if line.fields is None else json.dumps(line.fields, sort_keys=True, ensure_ascii=False),
         line.price_term_months))


def lines_of_order(conn: Connection, order_id: str, quote_line: str | None = None) -> list[OrderLine]:
    """An order's lines (all, or those of one quote line: the original and its amendments), oldest first."""
    if quote_line is None:
        rows = conn.execute("SELECT * FROM order_lines WHERE order_id = ? ORDER BY created_at, id", (order_id,))
    else:
        rows = conn.execute("SELECT * FROM order_lines WHERE order_id = ? AND quote_line = ? ORDER BY created_at, id",
                            (order_id, quote_line))
    return [from_row(OrderLine, r) for r in rows]


def uncontracted_lines(conn: Connection, order_id: str) -> list[OrderLine]:
    """The order's original subscription and asset lines not yet under a contract."""
    return [from_row(OrderLine, r) for r in conn.execute(
        "SELECT * FROM order_lines WHERE order_id = ? AND amends IS NULL AND contract_id IS NULL "
        "AND kind != 'one_time' ORDER BY id", (order_id,))]


def recurring_lines(conn: Connection, account_id: str | None = None) -> list[OrderLine]:
    """Subscription and asset lines (and their amendments), of one account or all, by id."""
    if account_id is None:
        rows = conn.execute("SELECT * FROM order_lines WHERE kind != 'one_time' ORDER BY id")
    else:
        rows = conn.execute("SELECT * FROM order_lines WHERE account_id = ? AND kind != 'one_time' ORDER BY id",
                            (account_id,))
    return [from_row(OrderLine, r) for r in rows]


def all_lines(conn: Connection, account_id: str | None = None) -> list[OrderLine]:
    if account_id is None:
        rows = conn.execute("SELECT * FROM order_lines ORDER BY id")
    else:
        rows = conn.execute("SELECT * FROM order_lines WHERE account_id = ? ORDER BY id", (account_id,))
    return [from_row(OrderLine, r) for r in rows]


def lines_of_contract(conn: Connection, contract_id: str) -> list[OrderLine]:
    return [from_row(OrderLine, r) for r in conn.execute("SELECT * FROM order_lines WHERE contract_id = ? ORDER BY id",
                                                        (contract_id,))]


def contract_lines(conn: Connection, contract_id: str, line_ids: Sequence[str]) -> None:
    """Put these lines, and every amendment of them, under the contract."""
    for line_id in line_ids:
        conn.execute("UPDATE order_lines SET contract_id = ? WHERE id = ? OR amends = ?",
                     (contract_id, line_id, line_id))


# -------------------------------------------------------------------------------------- contracts


def contract(conn: Connection, contract_id: str) -> Contract | None:
    return maybe(Contract, conn.execute("SELECT * FROM contracts WHERE id = ?", (contract_id,)).fetchone())


def contract_count(conn: Connection, account_id: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM contracts WHERE account_id = ?", (account_id,)).fetchone()[0])


def insert_contract(conn: Connection, record: Contract) -> None:
    conn.execute("INSERT INTO contracts (id, account_id, currency, start_date, end_date, term_months, file, data, "
                 "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (record.id, record.account_id, record.currency, record.start_date, record.end_date,
                  record.term_months, record.file, record.data, record.created_at))


# ---------------------------------------------------------------------------------- written files


def record_file(conn: Connection, path: str, content: str, stamp: str) -> None:
    """A file a committed order command must place (its content kept until it is placed)."""
    conn.execute("INSERT INTO written_files (path, content, created_at, placed_at) VALUES (?, ?, ?, NULL) "
                 "ON CONFLICT (path) DO UPDATE SET content = excluded.content, placed_at = NULL",
                 (path, content, stamp))


def mark_placed(conn: Connection, path: str, stamp: str) -> None:
    conn.execute("UPDATE written_files SET placed_at = ? WHERE path = ?", (stamp, path))


def unplaced_files(conn: Connection) -> list[tuple[str, str]]:
    """(path, content) of committed files not yet placed."""
    return [(str(r[0]), str(r[1])) for r in conn.execute("SELECT path, content FROM written_files "
                                                         "WHERE placed_at IS NULL")]


def recent_file_paths(conn: Connection, limit: int = 200) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT path FROM written_files ORDER BY created_at DESC LIMIT ?",
                                            (limit,))]


# ------------------------------------------------------------------------------------------ outbox


def queue_outbox(conn: Connection, kind: str, key: str, payload: dict[str, Any], stamp: str) -> None:
    conn.execute("INSERT INTO outbox (kind, key, payload, created_at) VALUES (?, ?, ?, ?)",
                 (kind, key, json.dumps(payload, sort_keys=True, ensure_ascii=False), stamp))


def drop_undelivered(conn: Connection, order_id: str) -> bool:
    """Drop the order's undelivered outbox entries; True when something of it was delivered already."""
    literal = order_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    # order:ID:created|activated, and amendment:ID-L…-A…; never another order whose id starts alike
    mine = "(key LIKE ? ESCAPE '\\' OR key LIKE ? ESCAPE '\\')"
    patterns = (f"order:{literal}:%", f"amendment:{literal}-%")
    delivered = conn.execute(f"SELECT 1 FROM outbox WHERE {mine} AND delivered_at IS NOT NULL", patterns).fetchone()
    conn.execute(f"DELETE FROM outbox WHERE {mine} AND delivered_at IS NULL", patterns)
    return delivered is not None


def approved_without_orders(conn: Connection) -> list[str]:
    """Quotes whose newest submission is approved and that have no orders yet, by id."""
    return [str(r[0]) for r in conn.execute(
        "SELECT s.quote_id FROM submissions s WHERE s.number = (SELECT MAX(number) FROM submissions "
        "WHERE quote_id = s.quote_id) AND s.status = 'APPROVED' AND NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.quote_id = s.quote_id) ORDER BY s.quote_id")]


def lines_with_currency(conn: Connection, account_id: str | None = None) -> list[tuple[OrderLine, str]]:
    """Every order line (of one account, or all) with its order's currency, by line id."""
    sql = "SELECT l.*, o.currency AS o_currency FROM order_lines l JOIN orders o ON o.id = l.order_id"
    if account_id is None:
        rows = conn.execute(sql + " ORDER BY l.id")
    else:
        rows = conn.execute(sql + " WHERE l.account_id = ? ORDER BY l.id", (account_id,))
    return [(from_row(OrderLine, r), str(r["o_currency"])) for r in rows]
