"""The approval state machine's decisions, as pure functions of the records.

The workflow reads records, asks these functions what follows, and persists the answer (rows
through `journal.approvals`, which checks every status change against `journal.states`, and
events) in the caller's one transaction. Nothing here touches the journal, so the rules can be
tested on their own and are the same for every channel (CLI, e-mail, web, the periodic job).
"""

from collections.abc import Sequence
from typing import NamedTuple

from cpq_cli.journal.records import Item, Request
from cpq_cli.journal.states import ItemStatus, RequestStatus

SETTLED_OK = frozenset({RequestStatus.APPROVED, RequestStatus.AUTO_APPROVED})


class Verdict(NamedTuple):
    """What a request's items say: its new status (None: still open), and the items to cancel."""

    outcome: RequestStatus | None
    approvers: tuple[str, ...]  # who approved, once each (an admin overriding items: once per item)
    rejecters: tuple[str, ...]
    cancel: tuple[Item, ...]  # open items of a settled request: no longer needed


def verdict(request: Request, items: Sequence[Item]) -> Verdict:
    """A request is approved when `needed` distinct people approved it (a person counts once, whoever
    they act for); rejected when a rejection leaves too few possible approvals, when it is one
    person's request, or when any one member settles the group (`require: any`)."""
    approved = [i for i in items if i.status is ItemStatus.APPROVED]
    approvers = tuple(dict.fromkeys(str(i.decided_by) for i in approved if not i.override))
    # An admin's override stands for the approver whose item it decided: it counts once per item.
    counted = len(approvers) + sum(1 for i in approved if i.override)
    rejecters = tuple(str(i.decided_by) for i in items if i.status is ItemStatus.REJECTED)
    still_open = tuple(i for i in items if i.status is ItemStatus.REQUESTED)
    outcome: RequestStatus | None = None
    if counted >= request.needed:
        outcome = RequestStatus.APPROVED
    elif rejecters and (request.kind == "user" or counted + len(still_open) < request.needed
                        or (request.kind == "group" and request.needed == 1)):
        outcome = RequestStatus.REJECTED
    overriders = tuple(str(i.decided_by) for i in approved if i.override)
    return Verdict(outcome, approvers + overriders, rejecters, still_open if outcome is not None else ())


class Next(NamedTuple):
    """What follows once requests settle: the submission is complete, or these waiting requests start."""

    complete: bool
    start: tuple[Request, ...]


def next_steps(requests: Sequence[Request]) -> Next:
    """Chains run by ascending `order` (equal orders in parallel); within a chain, steps run in
    ascending number, and a step starts when every earlier step of its chain is settled."""
    chains: dict[str, list[Request]] = {}
    for req in requests:
        chains.setdefault(req.chain, []).append(req)
    unfinished = [reqs for reqs in chains.values() if any(r.status not in SETTLED_OK for r in reqs)]
    if not unfinished:
        return Next(True, ())
    active_order = min(reqs[0].chain_order for reqs in unfinished)
    start: list[Request] = []
    for reqs in unfinished:
        if reqs[0].chain_order != active_order:
            continue
        current = min(r.step for r in reqs if r.status not in SETTLED_OK)
        start.extend(r for r in reqs if r.step == current and r.status is RequestStatus.WAITING)
    return Next(False, tuple(start))
