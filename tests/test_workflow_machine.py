"""The workflow as a state machine, driven by random command sequences (hypothesis).

Any sequence of submits, decisions, recalls, overrides, revocations, delegations and escalations,
by anyone, in any order, must keep the journal's invariants: every refused command writes
nothing; nothing is decided twice; every settled submission has the events that settle it;
no one decides their own quote; the tables always match the hash-chained events.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cpq_cli.acting import Act
from cpq_cli.approvals import submit as submitting
from cpq_cli.approvals import workflow
from cpq_cli.approvals.escalation import escalate
from cpq_cli.approvals.machine import SETTLED_OK
from cpq_cli.errors import Refused
from cpq_cli.journal import approvals as store
from cpq_cli.journal import events
from cpq_cli.journal.check import check_journal
from cpq_cli.journal.db import open_journal, transaction
from cpq_cli.journal.states import ItemStatus, RequestStatus, SubmissionStatus
from cpq_cli.quote import parse_quote
from cpq_cli.routing import compile_policy
from cpq_cli.services.policy import load_policy
from tests.conftest import POLICIES, QUOTES

POLICY = load_policy(POLICIES, use_cache=False)
COMPILED = compile_policy(POLICY)
USERS = sorted(POLICY.users)
ADMINS = sorted(POLICY.admins)
BASES = {q["id"]: q for q in (json.loads((QUOTES / f"{name}.json").read_text())
                              for name in ("Q-1002-manager-discount", "Q-1003-every-tier", "Q-1004-multi-site"))}
QUOTE_IDS = sorted(BASES)

ITEM_FINAL = {"item.approved", "item.rejected", "item.cancelled", "item.escalated"}
REQUEST_FINAL = {"request.approved", "request.rejected", "request.cancelled", "request.recalled",
                 "request.auto_approved"}
SUBMISSION_CLOSING = {"submission.approved", "submission.rejected", "submission.recalled"}


def _variant(quote_id: str, discount: int) -> Any:
    """The quote with every line's discount set: different content, different routes (and smart reuse)."""
    data = copy.deepcopy(BASES[quote_id])
    for line in data["lines"]:
        line["discount_pct"] = discount
    return parse_quote(json.loads(json.dumps(data)))


class Workflow(RuleBasedStateMachine):
    @initialize()
    def open(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.conn = open_journal(Path(self.dir.name) / "journal.sqlite3")
        self.clock = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
        self.refusals = 0

    def teardown(self) -> None:
        if hasattr(self, "conn"):
            self.conn.close()
            self.dir.cleanup()

    def _act(self, actor: str) -> Act:
        self.clock += dt.timedelta(minutes=7)
        return Act(actor, self.clock.isoformat())

    def _attempt(self, change: Any) -> None:
        """Run one command in its own transaction; a refusal must leave the journal as it was."""
        before = events.head(self.conn)
        try:
            with transaction(self.conn):
                change()
        except Refused:
            self.refusals += 1
            assert events.head(self.conn) == before, "a refused command wrote to the journal"

    def _open_targets(self) -> list[str]:
        found = [i.id for i in store.open_items(self.conn)]
        for sub in store.newest_submissions(self.conn, status=SubmissionStatus.PENDING):
            found += [r.id for r in store.requests_of(self.conn, sub.id) if r.status is RequestStatus.REQUESTED]
        return sorted(found)

    # ------------------------------------------------------------------------------ commands

    @rule(quote_id=st.sampled_from(QUOTE_IDS), discount=st.sampled_from([5, 15, 25, 35, 45]),
          by_owner=st.booleans(), other=st.sampled_from(USERS))
    def submit(self, quote_id: str, discount: int, by_owner: bool, other: str) -> None:
        quote = _variant(quote_id, discount)
        act = self._act(quote.owner if by_owner else other)
        self._attempt(lambda: submitting.submit(self.conn, act, POLICY, COMPILED, quote, None))

    @rule(quote_id=st.one_of(st.none(), st.sampled_from(QUOTE_IDS)), user=st.sampled_from(USERS),
          approve=st.booleans())
    def decide(self, quote_id: str | None, user: str, approve: bool) -> None:
        act = self._act(user)
        self._attempt(lambda: workflow.decide(self.conn, act, quote_id, approve, None if approve else "no",
                                              policy=POLICY))

    @precondition(lambda self: bool(store.open_items(self.conn)))
    @rule(data=st.data(), approve=st.sampled_from([True, True, True, False]), name_quote=st.booleans())
    def decide_held(self, data: st.DataObject, approve: bool, name_quote: bool) -> None:
        """Someone who may decide an open item (its approver or a delegate) decides it."""
        item = data.draw(st.sampled_from(store.open_items(self.conn)))
        user = data.draw(st.sampled_from([item.approver, *item.delegates]))
        act = self._act(user)
        self._attempt(lambda: workflow.decide(self.conn, act, item.quote_id if name_quote else None, approve,
                                              None if approve else "no", policy=POLICY))

    @rule(quote_id=st.sampled_from(QUOTE_IDS), user=st.sampled_from(USERS))
    def recall(self, quote_id: str, user: str) -> None:
        act = self._act(user)
        self._attempt(lambda: workflow.recall(self.conn, act, POLICY, quote_id))

    @precondition(lambda self: bool(self._open_targets()))
    @rule(data=st.data(), admin=st.sampled_from([*ADMINS, "alice"]), approve=st.booleans())
    def override(self, data: st.DataObject, admin: str, approve: bool) -> None:
        target = data.draw(st.sampled_from(self._open_targets()))
        act = self._act(admin)
        self._attempt(lambda: workflow.override(self.conn, act, POLICY, target, approve, "machine"))

    @rule(quote_id=st.sampled_from(QUOTE_IDS), admin=st.sampled_from([*ADMINS, "rita"]))
    def revoke(self, quote_id: str, admin: str) -> None:
        act = self._act(admin)
        self._attempt(lambda: workflow.revoke(self.conn, act, POLICY, quote_id, "machine"))

    @rule(user=st.sampled_from(USERS), to=st.sampled_from(USERS), reassign=st.booleans())
    def delegate(self, user: str, to: str, reassign: bool) -> None:
        act = self._act(user)
        self._attempt(lambda: workflow.delegate(self.conn, act, POLICY, to, act.day, "2026-12-31", reassign))

    @rule(hours=st.sampled_from([1, 24, 49, 100]))
    def tick(self, hours: int) -> None:
        self.clock += dt.timedelta(hours=hours)
        act = Act("cpq", self.clock.isoformat(), "cpq")
        self._attempt(lambda: escalate(self.conn, act, POLICY))

    # ---------------------------------------------------------------------------- invariants

    @invariant()
    def tables_match_the_chain(self) -> None:
        if hasattr(self, "conn"):
            report = check_journal(self.conn)
            assert report.ok, (report.chain.broken, report.problems[:3])

    @invariant()
    def nothing_is_decided_twice(self) -> None:
        if not hasattr(self, "conn"):
            return
        rows = events.after(self.conn, 0)
        items = Counter(str(e.payload.get("item")) for e in rows if e.kind in ITEM_FINAL)
        requests = Counter(str(e.request_id) for e in rows if e.kind in REQUEST_FINAL)
        closings = Counter(str(e.submission_id) for e in rows if e.kind in SUBMISSION_CLOSING)
        assert max(items.values(), default=0) <= 1, items.most_common(1)
        assert max(requests.values(), default=0) <= 1, requests.most_common(1)
        assert max(closings.values(), default=0) <= 1, closings.most_common(1)
        approved = {e.submission_id for e in rows if e.kind == "submission.approved"}
        assert all(e.submission_id in approved for e in rows if e.kind == "submission.revoked")

    @invariant()
    def settled_submissions_have_their_events(self) -> None:
        if not hasattr(self, "conn"):
            return
        for sub in store.all_submissions(self.conn):
            kinds = [e.kind for e in events.of_submission(self.conn, sub.id)]
            requests = store.requests_of(self.conn, sub.id)
            items = store.items_of_submission(self.conn, sub.id)
            if sub.status in (SubmissionStatus.APPROVED, SubmissionStatus.REVOKED):
                assert "submission.approved" in kinds
                assert all(r.status in SETTLED_OK for r in requests), sub.id
            elif sub.status is SubmissionStatus.REJECTED:
                assert "submission.rejected" in kinds
                assert any(r.status is RequestStatus.REJECTED for r in requests), sub.id
            elif sub.status is SubmissionStatus.RECALLED:
                assert "submission.recalled" in kinds
            if sub.status is not SubmissionStatus.PENDING:  # closed: nothing left open
                assert not any(r.status in (RequestStatus.WAITING, RequestStatus.REQUESTED) for r in requests)
                assert not any(i.status is ItemStatus.REQUESTED for i in items)
            for i in items:  # no one decides their own quote or their own submission
                assert i.decided_by not in (sub.owner, sub.submitted_by) or i.status not in (
                    ItemStatus.APPROVED, ItemStatus.REJECTED), (i.id, i.decided_by)
            for r in requests:
                if r.status is RequestStatus.APPROVED and not (r.reason or "").startswith("override"):
                    mine = [i for i in items if i.request_id == r.id and i.status is ItemStatus.APPROVED]
                    people = {i.decided_by for i in mine if not i.override} | {i.id for i in mine if i.override}
                    assert len(people) >= r.needed, (r.id, people, r.needed)

    @invariant()
    def one_open_submission_per_quote(self) -> None:
        if not hasattr(self, "conn"):
            return
        subs = store.all_submissions(self.conn)
        for quote_id in QUOTE_IDS:
            mine = [s for s in subs if s.quote_id == quote_id]
            assert [s.number for s in mine] == list(range(1, len(mine) + 1))
            assert sum(s.status is SubmissionStatus.PENDING for s in mine) <= 1
            assert all(s.status is not SubmissionStatus.PENDING for s in mine[:-1])


Workflow.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestWorkflowMachine = Workflow.TestCase
