"""Building policies and quotes for tests from plain data."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from cpq_cli.policy.model import Policy
from cpq_cli.quote import Quote, parse_quote
from cpq_cli.services.policy import load_policy

USERS = {
    "ceo": {"name": "Cee", "email": "ceo@x.example"},
    "vp": {"name": "Vee", "email": "vp@x.example", "manager": "ceo"},
    "mgr": {"name": "Em", "email": "mgr@x.example", "manager": "vp"},
    "rep": {"name": "Ar", "email": "rep@x.example", "manager": "mgr"},
    "ann": {"name": "Ann", "email": "ann@x.example", "manager": "ceo"},
    "bob": {"name": "Bob", "email": "bob@x.example", "manager": "ceo"},
    "cat": {"name": "Cat", "email": "cat@x.example", "manager": "ceo"},
}


def make_policy(tmp: Path, **sections: Any) -> Policy:
    data: dict[str, Any] = {"users": copy.deepcopy(USERS)}
    data.update(sections)
    directory = tmp / f"policy-{len(list(tmp.glob('policy-*')))}"
    directory.mkdir()
    (directory / "policy.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return load_policy(directory, use_cache=False)


BASE_QUOTE: dict[str, Any] = {
    "id": "Q-T1",
    "account": {"id": "ACME", "name": "Acme", "region": "EMEA"},
    "owner": "rep",
    "currency": "EUR",
    "date": "2026-06-15",
    "start_date": "2026-07-01",
    "term_months": 12,
    "payment_terms": "Net 30",
    "fields": {"deal_type": "new"},
    "lines": [
        {"id": "L1", "product": "P1", "family": "Hardware", "kind": "asset", "quantity": 2,
         "list_price": "100.00", "discount_pct": 10, "cost": "60.00"},
        {"id": "L2", "product": "P2", "family": "Software", "kind": "subscription", "quantity": 1,
         "list_price": "300.00", "discount_pct": 20},
    ],
}


def make_quote(**changes: Any) -> Quote:
    data = copy.deepcopy(BASE_QUOTE)
    for key, value in changes.items():
        if key == "discount":
            for line in data["lines"]:
                line["discount_pct"] = value
        else:
            data[key] = value
    return parse_quote(json.loads(json.dumps(data)))


def installed_cpq() -> str:
    """The installed `cpq` executable (tests that run it as users do fail, never skip, without it)."""
    import shutil
    import sys

    import pytest

    candidate = Path(sys.executable).parent / "cpq"
    found = str(candidate) if candidate.exists() else shutil.which("cpq")
    if not found:
        pytest.fail("the cpq executable is not installed in this environment (pip install .)")
    return found


def set_locale(workdir: Path, user: str, locale: str) -> None:
    """Give a user of the bundled policies (in the working copy) a `locale`."""
    org = workdir / "policies" / "org.yaml"
    text = org.read_text()
    start = text.index(f"\n  {user}:")
    brace = text.index("{", start)
    org.write_text(text[:brace + 1] + f"locale: {locale}, " + text[brace + 1:])
