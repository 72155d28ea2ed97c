"""Journal schema changes, numbered; each is applied once, with its record, in one transaction.

Plain tables with JSON in TEXT columns, so sqlite-utils and Datasette read the journal as is.
SQL stays within what PostgreSQL also accepts (no SQLite-only types), for the scale-out path.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "initial", """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    quote_id TEXT,
    submission_id TEXT,
    request_id TEXT,
    actor TEXT,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX events_quote ON events (quote_id, seq);

CREATE TABLE journal_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE submissions (
    id TEXT PRIMARY KEY,
    quote_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    quote_hash TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    policy_commit TEXT,
    quote_file TEXT,
    owner TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    closed_at TEXT,
    previous_id TEXT,
    quote TEXT NOT NULL,
    path TEXT NOT NULL,
    UNIQUE (quote_id, number)
);
CREATE INDEX submissions_quote ON submissions (quote_id, number);

CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    chain TEXT NOT NULL,
    chain_order INTEGER NOT NULL,
    step INTEGER NOT NULL,
    approver TEXT NOT NULL,
    kind TEXT NOT NULL,
    rules TEXT NOT NULL,
    members TEXT NOT NULL,
    needed INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    reused_from TEXT,
    snapshot TEXT,
    requested_at TEXT,
    closed_at TEXT
);
CREATE INDEX requests_submission ON requests (submission_id);

CREATE TABLE items (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    submission_id TEXT NOT NULL,
    quote_id TEXT NOT NULL,
    approver TEXT NOT NULL,
    delegates TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT,
    on_behalf_of TEXT,
    comment TEXT
);
CREATE INDEX items_approver ON items (approver, status);
CREATE INDEX items_request ON items (request_id);

CREATE TABLE delegations (
    id INTEGER PRIMARY KEY,
    approver TEXT NOT NULL,
    delegate TEXT NOT NULL,
    starts TEXT NOT NULL,
    ends TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""),
)
