"""cpq: quote approvals and order management from policy files kept in version control."""

__version__ = "0.1.0"
