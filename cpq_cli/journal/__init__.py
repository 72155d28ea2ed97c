"""The journal: everything that happens, in SQLite (plain tables, JSON in text columns)."""
