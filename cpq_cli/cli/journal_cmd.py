"""`cpq journal …`: verify, head, key, copy, migrate."""

from __future__ import annotations

import typer

from cpq_cli.cli.options import FORMAT, JOURNAL, Format, context, emit

journal_app = typer.Typer(help="Check, key, migrate and copy the journal.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    for name, fn in (("verify", verify), ("head", head), ("key", key), ("copy", copy), ("migrate", migrate)):
        journal_app.command(name, help=fn.__doc__)(fn)
    app.add_typer(journal_app, name="journal")


def verify(
    against: str = typer.Option(None, "--against", metavar="COUNT:HASH",
                                help="A head recorded earlier with `cpq journal head`: prove that the journal still "
                                     "holds that event unchanged, so nothing up to it was rewritten or cut since."),
    fmt: Format = FORMAT, journal: str = JOURNAL,
) -> None:
    """Check the journal: the hash chain, and every submission's tables against its events.

    Exit 1 naming the first event that was changed, removed or reordered, or the first state row
    (a status, an approver, a snapshot) that its events do not bear out. With a secret key
    configured, a chain recomputed without the key shows too; with `--against`, a cut tail does.
    """
    from cpq_cli.services import journal_admin as service

    try:
        result = service.verify(context(journal=journal), against)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--against") from None
    emit(fmt, result)
    if not result.ok:
        raise typer.Exit(1)


def head(journal: str = JOURNAL) -> None:
    """Print the journal's head (event count and hash), to keep outside the journal.

    Record it where whoever can write the journal cannot (a git note, a CI artifact, a ticket);
    `cpq journal verify --against COUNT:HASH` later proves nothing up to it was changed or cut.
    """
    from cpq_cli.journal.events import head as current
    from cpq_cli.services.journal import reading

    with reading(context(journal=journal)) as conn:
        print(current(conn))


def key(journal: str = JOURNAL) -> None:
    """Key the journal's hash chain with the team's secret key from the next event on.

    After this, recomputing the chain after an edit needs the key (CPQ_SECRET_FILE or
    secret_file in cpq.toml). A new journal is keyed from its first event automatically.
    """
    from cpq_cli.journal import events
    from cpq_cli.journal.db import open_journal, resolve_journal, start_keying, transaction
    from cpq_cli.secret import load_secret

    secret = load_secret("keying the journal")
    conn = open_journal(resolve_journal(journal), keying=True)
    try:
        if conn.keyed_since is not None:
            print(f"journal already keyed from event {conn.keyed_since}")
            return
        conn.chain_key = secret
        with transaction(conn):
            first = events.head(conn).seq + 1
            start_keying(conn, first)
            events.append(conn, "journal.keyed", data={"from": first}, at=context().clock.now)
        print(f"journal keyed from event {first}; record the head now: cpq journal head")
    finally:
        conn.close()


def copy(
    source: str = typer.Argument(..., metavar="SRC",
                                 help="The journal to copy: an SQLite file or a postgresql:// URL."),
    destination: str = typer.Argument(..., metavar="DST", help="Where to: a new SQLite file or an empty PostgreSQL "
                                                               "database (its tables are created)."),
    fmt: Format = FORMAT,
) -> None:
    """Copy a journal between SQLite and PostgreSQL, and verify the copy before it lands.

    The source must verify (`cpq journal verify`); the destination must be empty. All rows are
    copied in one transaction, which commits only when the copy re-hashes to the source's head
    and its tables match its events: a failed copy leaves the destination empty. A keyed chain
    needs the team's secret key. Example, moving the team onto a server:

        cpq journal copy .cpq/journal.sqlite3 postgresql://cpq@db.internal/cpq
    """
    from cpq_cli.services import journal_admin as service

    emit(fmt, service.copy(source, destination))


def migrate(journal: str = JOURNAL) -> None:
    """Create the journal if needed and bring its tables to this version of cpq.

    Every writing command does this on its own; run it to prepare a new team database, or after
    an upgrade, before handing the journal to read-only users.
    """
    from cpq_cli.journal.db import describe, open_journal, resolve_journal

    location = resolve_journal(journal)
    conn = open_journal(location)
    conn.close()
    print(f"journal {describe(location)} is up to date")
