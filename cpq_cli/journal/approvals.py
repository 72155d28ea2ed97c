"""The approval tables: submissions, requests, items, delegations. Every statement on them is here.

Reads return typed records (`records`); writes take the record they change, so that every
status change is checked against the transition table (`states.move`) and guarded in SQL by
the status it was read with (`WHERE status = old`): a row changed under us is never overwritten.
All functions run inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cpq_cli.journal.db import Connection
from cpq_cli.journal.records import Delegation, Event, HeldItem, Item, Request, Submission, from_row, maybe
from cpq_cli.journal.states import ItemStatus, RequestStatus, SubmissionStatus, move


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class Conflict(RuntimeError):
    """A row was not in the state it was read in (only possible if someone edits the tables mid-transaction)."""


def _changed(cursor: Any, what: str) -> None:
    if cursor.rowcount != 1:
        raise Conflict(f"{what} changed while it was being updated")


# ----------------------------------------------------------------------------------- submissions


def submission(conn: Connection, submission_id: str) -> Submission | None:
    return maybe(Submission, conn.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone())


def newest_submission_row(conn: Connection, quote_id: str) -> Submission | None:
    """The quote's submission row with the highest number (what the table says; see `newest_created`)."""
    return maybe(Submission, conn.execute("SELECT * FROM submissions WHERE quote_id = ? ORDER BY number DESC LIMIT 1",
                                         (quote_id,)).fetchone())


def newest_created(conn: Connection, quote_id: str) -> str | None:
    """The submission the quote's events created last."""
    row = conn.execute("SELECT submission_id FROM events WHERE quote_id = ? AND kind = 'submission.created' "
                       "ORDER BY seq DESC LIMIT 1", (quote_id,)).fetchone()
    return None if row is None else str(row[0])


def all_submissions(conn: Connection) -> list[Submission]:
    return [from_row(Submission, r) for r in conn.execute("SELECT * FROM submissions ORDER BY quote_id, number")]


def created_submission_ids(conn: Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT DISTINCT submission_id FROM events "
                                            "WHERE kind = 'submission.created'")}


def newest_submissions(conn: Connection, *, status: SubmissionStatus | None = None) -> list[Submission]:
    """Every quote's newest submission (optionally: only those in `status`), by quote id."""
    rows = conn.execute("SELECT s.* FROM submissions s WHERE s.number = (SELECT MAX(number) FROM submissions "
                        "WHERE quote_id = s.quote_id) ORDER BY s.quote_id").fetchall()
    found = [from_row(Submission, r) for r in rows]
    return [s for s in found if status is None or s.status == status]


def approved_submission(conn: Connection, quote_id: str) -> Submission | None:
    """The quote's newest approved submission."""
    return maybe(Submission, conn.execute("SELECT * FROM submissions WHERE quote_id = ? AND status = 'APPROVED' "
                                         "ORDER BY number DESC LIMIT 1", (quote_id,)).fetchone())


def insert_submission(conn: Connection, sub: Submission) -> None:
    assert sub.status is SubmissionStatus.PENDING, "a submission starts PENDING"
    conn.execute(
        "INSERT INTO submissions (id, quote_id, number, status, reason, quote_hash, policy_hash, policy_commit, "
        "quote_file, owner, submitted_by, submitted_at, closed_at, previous_id, quote, path) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (sub.id, sub.quote_id, sub.number, str(sub.status), sub.reason, sub.quote_hash, sub.policy_hash,
         sub.policy_commit, sub.quote_file, sub.owner, sub.submitted_by, sub.submitted_at, sub.closed_at,
         sub.previous_id, sub.quote, sub.path))


def close_submission(conn: Connection, submission_id: str, old: SubmissionStatus, new: SubmissionStatus,
                     reason: str | None, stamp: str) -> None:
    move(f"submission {submission_id}", old, new)
    _changed(conn.execute("UPDATE submissions SET status = ?, reason = ?, closed_at = ? WHERE id = ? AND status = ?",
                          (str(new), reason, stamp, submission_id, str(old))), f"submission {submission_id}")


# -------------------------------------------------------------------------------------- requests


def requests_of(conn: Connection, submission_id: str) -> list[Request]:
    return [from_row(Request, r) for r in conn.execute(
        "SELECT * FROM requests WHERE submission_id = ? ORDER BY chain_order, chain, step, id", (submission_id,))]


def request(conn: Connection, request_id: str) -> Request | None:
    return maybe(Request, conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone())


def insert_request(conn: Connection, req: Request) -> None:
    conn.execute(
        "INSERT INTO requests (id, submission_id, chain, chain_order, step, approver, kind, rules, members, needed, "
        "status, reason, reused_from, snapshot, requested_at, closed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (req.id, req.submission_id, req.chain, req.chain_order, req.step, req.approver, req.kind,
         _json(list(req.rules)), _json(list(req.members)), req.needed, str(req.status), req.reason, req.reused_from,
         _json(req.snapshot) if req.snapshot else None, req.requested_at, req.closed_at))


def mark_requested(conn: Connection, req: Request, stamp: str) -> None:
    move(f"request {req.id}", req.status, RequestStatus.REQUESTED)
    _changed(conn.execute("UPDATE requests SET status = 'REQUESTED', requested_at = ? WHERE id = ? AND status = ?",
                          (stamp, req.id, str(req.status))), f"request {req.id}")


def close_request(conn: Connection, req: Request, new: RequestStatus, stamp: str, *, reason: str | None = None,
                  snapshot: dict[str, Any] | None = None, keep_reason: bool = False) -> None:
    """Settle (or cancel, recall) a request; `keep_reason` leaves its reason column as it was."""
    move(f"request {req.id}", req.status, new)
    snapshot_text = _json(snapshot) if snapshot else None
    if keep_reason:
        cursor = conn.execute("UPDATE requests SET status = ?, snapshot = ?, closed_at = ? WHERE id = ? AND status = ?",
                              (str(new), snapshot_text, stamp, req.id, str(req.status)))
    else:
        cursor = conn.execute("UPDATE requests SET status = ?, reason = ?, snapshot = ?, closed_at = ? "
                              "WHERE id = ? AND status = ?",
                              (str(new), reason, snapshot_text, stamp, req.id, str(req.status)))
    _changed(cursor, f"request {req.id}")


# ----------------------------------------------------------------------------------------- items


def items_of(conn: Connection, request_id: str) -> list[Item]:
    return [from_row(Item, r) for r in conn.execute("SELECT * FROM items WHERE request_id = ? ORDER BY id",
                                                   (request_id,))]


def items_of_submission(conn: Connection, submission_id: str) -> list[Item]:
    return [from_row(Item, r) for r in conn.execute("SELECT * FROM items WHERE submission_id = ? ORDER BY id",
                                                   (submission_id,))]


def requests_of_submission_by_id(conn: Connection, submission_id: str) -> dict[str, Request]:
    return {r.id: r for r in requests_of(conn, submission_id)}


def item(conn: Connection, item_id: str) -> Item | None:
    return maybe(Item, conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone())


def item_exists(conn: Connection, item_id: str) -> bool:
    return conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is not None


def open_items(conn: Connection, approver: str | None = None) -> list[Item]:
    """REQUESTED items (of one approver, or all), by id."""
    if approver is None:
        rows = conn.execute("SELECT * FROM items WHERE status = 'REQUESTED' ORDER BY id")
    else:
        rows = conn.execute("SELECT * FROM items WHERE approver = ? AND status = 'REQUESTED' ORDER BY id", (approver,))
    return [from_row(Item, r) for r in rows]


def held_items(conn: Connection, approvers: Sequence[str] | None, quote_id: str | None = None) -> list[HeldItem]:
    """REQUESTED items of any of `approvers` (None: of anyone; on one quote, or all), with their
    submission's owner and submitter and their request's rules; by quote, then item id."""
    if approvers is not None and not approvers:
        return []
    marks = ", ".join("?" * len(approvers or ()))
    of_approvers = "" if approvers is None else f" AND items.approver IN ({marks})"
    on_quote = "" if quote_id is None else " AND items.quote_id = ?"
    rows = conn.execute(
        "SELECT items.*, submissions.owner AS s_owner, submissions.submitted_by AS s_submitted_by, "
        "requests.rules AS r_rules, requests.chain AS r_chain, requests.step AS r_step "
        "FROM items JOIN submissions ON submissions.id = items.submission_id "
        "JOIN requests ON requests.id = items.request_id "
        f"WHERE items.status = 'REQUESTED'{of_approvers}{on_quote} ORDER BY items.quote_id, items.id",
        [*(approvers or ()), *([] if quote_id is None else [quote_id])]).fetchall()
    return [HeldItem(from_row(Item, r), str(r["s_owner"]), str(r["s_submitted_by"]), tuple(json.loads(r["r_rules"])),
                     str(r["r_chain"]), int(r["r_step"])) for r in rows]


def has_decided(conn: Connection, request_id: str, actor: str) -> bool:
    return conn.execute("SELECT 1 FROM items WHERE request_id = ? AND decided_by = ?",
                        (request_id, actor)).fetchone() is not None


def count_items(conn: Connection, submission_id: str, approver: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM items WHERE submission_id = ? AND approver = ?",
                            (submission_id, approver)).fetchone()[0])


def last_rejection(conn: Connection, submission_id: str) -> Item | None:
    return maybe(Item, conn.execute("SELECT * FROM items WHERE submission_id = ? AND status = 'REJECTED' "
                                   "ORDER BY decided_at DESC LIMIT 1", (submission_id,)).fetchone())


def items_in(conn: Connection, request_id: str, status: ItemStatus) -> list[Item]:
    return [from_row(Item, r) for r in conn.execute("SELECT * FROM items WHERE request_id = ? AND status = ? "
                                                   "ORDER BY id", (request_id, str(status)))]


def insert_item(conn: Connection, item_: Item) -> None:
    assert item_.status is ItemStatus.REQUESTED, "an item starts REQUESTED"
    conn.execute("INSERT INTO items (id, request_id, submission_id, quote_id, approver, delegates, status, "
                 "requested_at, escalated_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (item_.id, item_.request_id, item_.submission_id, item_.quote_id, item_.approver,
                  _json(list(item_.delegates)), str(item_.status), item_.requested_at, item_.escalated_from))


def close_item(conn: Connection, item_: Item, new: ItemStatus, stamp: str) -> None:
    """Cancel, recall or escalate an open item (no decider)."""
    move(f"item {item_.id}", item_.status, new)
    _changed(conn.execute("UPDATE items SET status = ?, decided_at = ? WHERE id = ? AND status = ?",
                          (str(new), stamp, item_.id, str(item_.status))), f"item {item_.id}")


def record_decision(conn: Connection, item_: Item, new: ItemStatus, stamp: str, actor: str,
                    on_behalf_of: str | None, comment: str | None, channel: str, *, override: bool = False) -> None:
    move(f"item {item_.id}", item_.status, new)
    _changed(conn.execute("UPDATE items SET status = ?, decided_at = ?, decided_by = ?, on_behalf_of = ?, comment = ?, "
                          "channel = ?, override = ? WHERE id = ? AND status = ?",
                          (str(new), stamp, actor, on_behalf_of, comment, channel, int(override), item_.id,
                           str(item_.status))),
             f"item {item_.id}")


def set_delegates(conn: Connection, item_id: str, delegates: Sequence[str]) -> None:
    conn.execute("UPDATE items SET delegates = ? WHERE id = ?", (_json(list(delegates)), item_id))


def set_approver(conn: Connection, item_id: str, approver: str) -> None:
    conn.execute("UPDATE items SET approver = ? WHERE id = ?", (approver, item_id))


def set_reminded(conn: Connection, item_id: str, stamp: str) -> None:
    conn.execute("UPDATE items SET reminded_at = ? WHERE id = ?", (stamp, item_id))


# ----------------------------------------------------------------------------------- delegations


def insert_delegation(conn: Connection, approver: str, delegate: str, starts: str, ends: str, actor: str,
                      stamp: str) -> int:
    return int(conn.execute("INSERT INTO delegations (approver, delegate, starts, ends, created_by, created_at) "
                            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                            (approver, delegate, starts, ends, actor, stamp)).fetchone()[0])


def delegations(conn: Connection) -> list[Delegation]:
    return [from_row(Delegation, r) for r in conn.execute("SELECT * FROM delegations ORDER BY starts, id")]


def delegation_events(conn: Connection, actor: str | None = None) -> list[Event]:
    """`delegation.created` events (of one delegator, or all), in order."""
    if actor is None:
        rows = conn.execute("SELECT * FROM events WHERE kind = 'delegation.created' ORDER BY seq")
    else:
        rows = conn.execute("SELECT * FROM events WHERE kind = 'delegation.created' AND actor = ? ORDER BY seq",
                            (actor,))
    return [from_row(Event, r) for r in rows]
