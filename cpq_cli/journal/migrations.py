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
    (2, "orders", """
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    quote_id TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    start_date TEXT NOT NULL,
    split_by TEXT NOT NULL,
    split_key TEXT NOT NULL,
    file TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    activated_at TEXT
);
CREATE INDEX orders_quote ON orders (quote_id);

CREATE TABLE order_lines (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    quote_line TEXT NOT NULL,
    amends TEXT,
    account_id TEXT NOT NULL,
    product TEXT NOT NULL,
    kind TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit_price TEXT NOT NULL,
    list_price TEXT NOT NULL,
    amount TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT,
    term_months INTEGER,
    contract_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX order_lines_account ON order_lines (account_id);
CREATE INDEX order_lines_order ON order_lines (order_id);

CREATE TABLE contracts (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    term_months INTEGER NOT NULL,
    file TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
"""),
    (3, "notifications", """
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE mail_tokens (
    token TEXT PRIMARY KEY,
    item_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE mail_processed (
    message_id TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    processed_at TEXT NOT NULL
);
ALTER TABLE items ADD COLUMN reminded_at TEXT;
ALTER TABLE items ADD COLUMN escalated_from TEXT
"""),
    (4, "trust", """
CREATE TABLE journal_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX events_kind_actor ON events (kind, actor, seq);
CREATE INDEX events_submission ON events (submission_id, seq);
CREATE INDEX items_quote ON items (quote_id, approver, status);
CREATE INDEX items_submission ON items (submission_id)
"""),
    (5, "written files", """
CREATE TABLE written_files (
    path TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    created_at TEXT NOT NULL,
    placed_at TEXT
)
"""),
)
