"""The web inbox's table: sign-in links used. Every statement on it is here."""

from cpq_cli.journal.db import Connection


def use_link(conn: Connection, nonce: str, user: str, scope: str, stamp: str) -> bool:
    """Record a sign-in link as used; False when it had been used before (nothing changes then)."""
    cursor = conn.execute("INSERT INTO web_links (nonce, user_id, scope, used_at) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (nonce) DO NOTHING", (nonce, user, scope, stamp))
    return cursor.rowcount == 1


def end_session(conn: Connection, nonce: str, stamp: str) -> bool:
    """End the session the link with `nonce` opened; False when it had ended already."""
    cursor = conn.execute("UPDATE web_links SET ended_at = ? WHERE nonce = ? AND ended_at IS NULL", (stamp, nonce))
    return cursor.rowcount == 1


def session_open(conn: Connection, nonce: str) -> bool:
    """Whether the session the link with `nonce` opened is still open: the link was used (here: a
    journal restored from before the sign-in knows no such session) and not signed out since."""
    row = conn.execute("SELECT ended_at FROM web_links WHERE nonce = ?", (nonce,)).fetchone()
    return row is not None and row[0] is None


def link_used(conn: Connection, nonce: str) -> bool:
    """Whether a sign-in link was used already (a read: showing a link's page must not use it)."""
    return conn.execute("SELECT 1 FROM web_links WHERE nonce = ?", (nonce,)).fetchone() is not None
