"""The web inbox's table: sign-in links used. Every statement on it is here."""

from cpq_cli.journal.db import Connection


def use_link(conn: Connection, nonce: str, user: str, scope: str, stamp: str) -> bool:
    """Record a sign-in link as used; False when it had been used before (nothing changes then)."""
    cursor = conn.execute("INSERT INTO web_links (nonce, user_id, scope, used_at) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (nonce) DO NOTHING", (nonce, user, scope, stamp))
    return cursor.rowcount == 1


def link_used(conn: Connection, nonce: str) -> bool:
    """Whether a sign-in link was used already (a read: showing a link's page must not use it)."""
    return conn.execute("SELECT 1 FROM web_links WHERE nonce = ?", (nonce,)).fetchone() is not None
