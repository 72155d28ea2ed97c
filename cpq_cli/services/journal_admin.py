"""Journal services: `cpq journal verify` and `cpq journal copy`, and their records."""

from typing import Annotated, NamedTuple

from cpq_cli.services.context import Context
from cpq_cli.services.journal import reading


class BrokenLink(NamedTuple):
    """The first event of the chain that does not check."""

    seq: Annotated[int, "the event"]
    problem: Annotated[str, "what is wrong with it"]


class JournalVerify(NamedTuple):
    """`cpq journal verify`."""

    events: Annotated[int, "events checked"]
    ok: Annotated[bool, "the chain is intact and every state row matches its events"]
    keyed_since: Annotated[int | None, "the first event whose hash is keyed with the team's secret key"]
    unchecked: Annotated[int, "keyed events not checked (no secret key configured)"]
    first_broken: Annotated[BrokenLink | None, "the first broken link of the chain"]
    state_problems: Annotated[tuple[str, ...], "state rows the events do not bear out"]
    against: Annotated[str | None, "the head given with --against, found intact"] = None


class JournalCopy(NamedTuple):
    """`cpq journal copy SRC DST`."""

    source: Annotated[str, "where from (a URL without its password)"]
    destination: Annotated[str, "where to"]
    rows: Annotated[dict[str, int], "rows copied, by table"]
    head: Annotated[str, "the head both journals end at, COUNT:HASH"]


def verify(ctx: Context, against: str | None) -> JournalVerify:
    """The hash chain and every state row against its events; `against` a head recorded earlier."""
    from cpq_cli.journal.check import check_journal
    from cpq_cli.journal.events import Head

    recorded = Head.parse(against) if against else None  # ValueError: the caller's usage error
    with reading(ctx) as conn:
        report = check_journal(conn, recorded)
        keyed = conn.keyed_since
    chain = report.chain
    broken = None if chain.broken is None else BrokenLink(chain.broken.seq, chain.broken.problem)
    return JournalVerify(chain.checked, report.ok, keyed, chain.unchecked, broken, tuple(report.problems),
                         str(recorded) if recorded and report.ok else None)


def copy(source: str, destination: str) -> JournalCopy:
    from cpq_cli.config import journal_location
    from cpq_cli.journal.copy import copy_journal
    from cpq_cli.journal.db import describe

    src = journal_location(source, "SRC")
    dst = journal_location(destination, "DST")
    copied = copy_journal(src, dst)
    return JournalCopy(describe(src), describe(dst), dict(copied.rows), str(copied.head))
