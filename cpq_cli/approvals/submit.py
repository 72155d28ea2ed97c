"""Submitting a quote: route it, plan every request (smart approvals reusing earlier ones), record it.

Apart from the rest of the workflow because only submitting routes: deciding, recalling and
the periodic job never import the routing engine.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from cpq_cli.acting import Act
from cpq_cli.approvals.smart import SmartOutcome, decode, encode, reevaluate, tested_values
from cpq_cli.approvals.workflow import SYSTEM, Outcome, advance, close_submission, latest_submission, requests_of
from cpq_cli.errors import Refused
from cpq_cli.i18n import status_word, t
from cpq_cli.journal import approvals as store
from cpq_cli.journal import events
from cpq_cli.journal.db import Connection
from cpq_cli.journal.records import Request, Submission
from cpq_cli.journal.replay import check as check_against_events
from cpq_cli.journal.states import RequestStatus, SubmissionStatus
from cpq_cli.policy.model import Policy
from cpq_cli.quote import Quote, content_hash_like
from cpq_cli.routing import ApprovalPath, ApproverKind, CompiledPolicy, quote_env_values, route


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def submit(conn: Connection, act: Act, policy: Policy, compiled: CompiledPolicy, quote: Quote,
           quote_file: str | None, *, policy_commit: str | None = None) -> Outcome:
    """Submit a quote for approval. Same content while pending (or approved): a no-op."""
    actor, stamp = act.actor, act.at
    quote_hash = quote.content_hash
    last = latest_submission(conn, quote.id)
    if last is not None:
        check_against_events(conn, last)
        same_content = content_hash_like(quote.data, last.quote_hash) == last.quote_hash
        if last.status in ("PENDING", "APPROVED") and same_content:
            same = (t("{quote} is already pending approval with this content ({submission}); nothing to do",
                      quote=quote.id, submission=last.id) if last.status == "PENDING" else
                    t("{quote} is already approved with this content ({submission}); nothing to do", quote=quote.id,
                      submission=last.id))
            return Outcome(last.id, last.status, False, same)
        if last.status == "PENDING":
            raise Refused(t("{quote} is pending approval ({submission}) and the quote has changed since it was "
                            "submitted", quote=quote.id, submission=last.id),
                          hint=t("recall it first: cpq recall {quote}", quote=quote.id))
    if quote.owner not in policy.users:
        raise Refused(t("the quote's owner {owner!r} is not a user of the policy set", owner=quote.owner),
                      hint=t("add the user to the policy or fix the quote's owner"))
    values = quote_env_values(compiled, quote)
    path = route(compiled, quote, values=values)
    _refuse_self_approval(path, quote.owner, actor, policy)
    previous = last.id if last is not None and last.status in ("REJECTED", "RECALLED") else None
    number = (last.number + 1) if last is not None else 1
    submission_id = f"{quote.id}#{number}"
    tested = {cr.rule.id: {str(n): encode(v) for n, v in tested_values(cr.fn, values).items()}
              for cr in compiled.rules if cr.rule.id in path.fired}
    reuse = _reusable(conn, compiled, values, path, previous) if previous else {}
    plan = _plan(path, submission_id, {quote.owner, actor}, reuse)
    store.insert_submission(conn, Submission(
        submission_id, quote.id, number, SubmissionStatus.PENDING, None, quote_hash, policy.content_hash,
        policy_commit, quote_file, quote.owner, actor, stamp, None, previous, _json(quote.data),
        _json({"fired": list(path.fired), "tested": tested})))
    events.append(conn, "submission.created", quote_id=quote.id, submission_id=submission_id, actor=actor,
                  data={"quote_hash": quote_hash, "policy_hash": policy.content_hash, "policy_commit": policy_commit,
                        "fired": list(path.fired), "previous": previous, "owner": quote.owner, "requests": plan,
                        "signed_decisions": policy.settings.require_signed_decisions},
                  at=stamp)
    act.fault("submit.after-submission")
    for planned in plan:
        store.insert_request(conn, Request(
            planned["id"], submission_id, planned["chain"], planned["chain_order"], planned["step"],
            planned["approver"], planned["kind"], tuple(planned["rules"]), tuple(planned["members"]),
            planned["needed"], RequestStatus(planned["status"]), planned["reason"], planned["reused_from"], None,
            None, stamp if planned["status"] == "AUTO_APPROVED" else None))
        if planned["status"] == "AUTO_APPROVED":
            events.append(conn, "request.auto_approved", quote_id=quote.id, submission_id=submission_id,
                          request_id=planned["id"], actor=SYSTEM,
                          data={"approver": planned["approver"], "rules": planned["rules"],
                                "reason": planned["reason"], "reused_from": planned["reused_from"]}, at=stamp)
    act.fault("submit.after-requests")
    if not plan:
        close_submission(conn, act.as_system(), submission_id, quote.id, SubmissionStatus.PENDING,
                          SubmissionStatus.APPROVED, "no_rules")
        return Outcome(submission_id, "APPROVED", True, t("{quote}: no approval required ({submission})",
                                                          quote=quote.id, submission=submission_id))
    status = advance(conn, act, submission_id, quote.id)
    return Outcome(submission_id, status, True, t("{quote} submitted ({submission}): {status}", quote=quote.id,
                                                  submission=submission_id, status=status_word(status)))


def _plan(path: ApprovalPath, submission_id: str, excluded: set[str],
          reuse: dict[tuple[str, tuple[str, ...]], str]) -> list[dict[str, Any]]:
    """Every request of a new submission, as recorded in its `submission.created` event.

    A person is asked once per request: members are de-duplicated, and neither the quote's owner
    nor its submitter is among them.
    """
    plan: list[dict[str, Any]] = []
    for chain in path.chains:
        for step in chain.steps:
            for approver in step.approvers:
                members = list(dict.fromkeys(approver.members)) if approver.kind is ApproverKind.GROUP else (
                    [approver.id] if approver.kind is ApproverKind.USER else [])
                eligible = [m for m in members if m not in excluded]
                needed = 0 if approver.kind is ApproverKind.AUTO else min(
                    approver.require.needed(len(members)) if approver.require else 1, len(eligible))
                status, reason, reused = "WAITING", None, None
                if approver.kind is ApproverKind.AUTO:
                    status, reason = "AUTO_APPROVED", "auto"
                else:
                    found = reuse.get((approver.id, tuple(approver.rules)))
                    if found is not None:
                        status, reason, reused = "AUTO_APPROVED", "smart_reuse", found
                plan.append({"id": f"{submission_id}.{len(plan) + 1}", "chain": chain.id, "chain_order": chain.order,
                             "step": step.number, "approver": approver.id, "kind": approver.kind.value,
                             "rules": list(approver.rules), "members": eligible, "needed": needed, "status": status,
                             "reason": reason, "reused_from": reused})
    return plan


def _refuse_self_approval(path: ApprovalPath, owner: str, submitter: str, policy: Policy) -> None:
    """No one approves their own quote or their own submission; no request may wait for nobody."""
    for chain in path.chains:
        for step in chain.steps:
            for approver in step.approvers:
                rule = approver.rules[0]
                if approver.kind is ApproverKind.USER and approver.id == owner:
                    raise Refused(t("rule {rule} would ask {owner} to approve their own quote", rule=rule, owner=owner),
                                  hint=t("no one approves their own quote; change the rule's approvers"))
                if approver.kind is ApproverKind.USER and approver.id == submitter:
                    raise Refused(t("{submitter} submitted this quote and rule {rule} would ask {submitter} to "
                                    "approve it; whoever submits a quote may not approve that submission",
                                    submitter=submitter, rule=rule),
                                  hint=t("let the owner ({owner}) or someone not asked to approve it submit it",
                                         owner=owner))
                if approver.kind is ApproverKind.GROUP:
                    members = set(approver.members)
                    if not members - {owner, submitter}:
                        who = ", ".join(sorted(members)) or t("no members")
                        raise Refused(t("rule {rule} asks group {group}, but nobody in it may decide this quote "
                                        "({who}: the quote's owner or its submitter)", rule=rule,
                                        group=approver.id, who=who),
                                      hint=t("add approvers to group {group} or change rule {rule}",
                                             group=approver.id, rule=rule))


def _reusable(conn: Connection, compiled: CompiledPolicy, values: dict[str, Any], path: ApprovalPath,
              previous_id: str) -> dict[tuple[str, tuple[str, ...]], str]:
    """(approver, rules) -> the earlier human-approved request that may stand for it."""
    return {key: plan.origin for key, plan in smart_plan(conn, compiled, values, path, previous_id).items()
            if plan.origin is not None and not plan.ask_again}


class SmartPlan(NamedTuple):
    origin: str | None  # the earlier human-approved request, if this approver approved these rules before
    ask_again: bool
    outcomes: dict[str, SmartOutcome]  # per rule that had an earlier approval


def smart_plan(conn: Connection, compiled: CompiledPolicy, values: dict[str, Any], path: ApprovalPath,
               previous_id: str) -> dict[tuple[str, tuple[str, ...]], SmartPlan]:
    """For each approver of the new path: may the earlier approval stand, and why.

    Shared by `submit` and `preview --explain`, so that what preview promises is what submit does.
    """
    earlier: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for row in requests_of(conn, previous_id):
        origin = _human_origin(conn, row)
        if origin is None:
            continue
        for rule_id in row.rules:
            if rule_id in origin[1]:
                earlier[(row.approver, rule_id)] = (origin[0], origin[1][rule_id])
    by_rule = {cr.rule.id: cr for cr in compiled.rules}
    plan: dict[tuple[str, tuple[str, ...]], SmartPlan] = {}
    for chain in path.chains:
        for step in chain.steps:
            for approver in step.approvers:
                if approver.kind is ApproverKind.AUTO:
                    continue
                outcomes: dict[str, SmartOutcome] = {}
                origin_id: str | None = None
                ask = False
                for rule_id in approver.rules:
                    found = earlier.get((approver.id, rule_id))
                    if found is None:
                        ask = True  # never approved by this approver (or rejected, or undecided)
                        continue
                    origin_id = found[0]
                    cr = by_rule[rule_id]
                    taken = {int(n): decode(v) for n, v in found[1].items()}
                    outcomes[rule_id] = reevaluate(cr.rule, cr.expr, cr.fn, values, taken)
                    ask = ask or outcomes[rule_id].reapprove
                plan[(approver.id, approver.rules)] = SmartPlan(origin_id if outcomes else None, ask, outcomes)
    return plan


def _human_origin(conn: Connection, found: Request) -> tuple[str, dict[str, Any]] | None:
    """The human approval a request stands on: itself, or (for smart reuse) the one it reused."""
    row: Request | None = found
    seen = 0
    while row is not None and seen < 100:
        seen += 1
        if row.status is RequestStatus.APPROVED and row.snapshot:
            return row.id, row.snapshot
        if row.status is RequestStatus.AUTO_APPROVED and row.reason == "smart_reuse" and row.reused_from:
            row = store.request(conn, row.reused_from)
            if row is not None:  # an older submission's snapshot decides too: its rows must match its events
                older = store.submission(conn, row.submission_id)
                if older is None:
                    return None
                check_against_events(conn, older)
            continue
        return None
    return None


