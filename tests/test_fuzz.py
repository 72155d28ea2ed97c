"""The fuzz contract in CI (issue 11): mutated policies, quotes and e-mail replies never crash,
hang or get accepted by one command and refused by its sibling. Bounded here; the long run is
`python -m bench.fuzz --minutes 10` (README, "Limits and fuzzing")."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz

EXAMPLES = int(os.environ.get("CPQ_FUZZ_EXAMPLES", "120"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[fuzz.Workspace]:
    key = tmp_path / "team.key"
    key.write_bytes(os.urandom(32))
    monkeypatch.setenv("CPQ_SECRET_FILE", str(key))
    yield fuzz.Workspace(tmp_path / "w")


@SETTINGS
@given(rng=st.randoms(use_true_random=False), index=st.integers(min_value=0, max_value=20), as_bytes=st.booleans())
def test_mutated_policies(ws: fuzz.Workspace, rng: random.Random, index: int, as_bytes: bool) -> None:
    inputs = fuzz.policy_inputs()
    name, data = inputs[index % len(inputs)]
    if as_bytes:
        raw = fuzz.mutate_bytes((fuzz.ROOT / "policies" / name).read_bytes(), rng)
    else:
        raw = fuzz._dump(fuzz.mutate_data(data, rng), Path(name).suffix).encode("utf-8", "surrogatepass")
    assert fuzz.check_policy(ws, name, raw) == []


@SETTINGS
@given(rng=st.randoms(use_true_random=False), index=st.integers(min_value=0, max_value=20), as_bytes=st.booleans())
def test_mutated_quotes(ws: fuzz.Workspace, rng: random.Random, index: int, as_bytes: bool) -> None:
    import json

    inputs = fuzz.quote_inputs()
    data = inputs[index % len(inputs)]
    raw = (fuzz.mutate_bytes(json.dumps(data).encode(), rng) if as_bytes
           else json.dumps(fuzz.mutate_data(data, rng), default=str).encode("utf-8", "surrogatepass"))
    assert fuzz.check_quote(ws, raw) == []


@SETTINGS
@given(rng=st.randoms(use_true_random=False), rounds=st.integers(min_value=1, max_value=3))
def test_mutated_replies(ws: fuzz.Workspace, rng: random.Random, rounds: int) -> None:
    raw = fuzz.reply_bytes()
    for _ in range(rounds):
        raw = fuzz.mutate_bytes(raw, rng)
    assert fuzz.check_mail(ws, raw) == []


@pytest.mark.parametrize("value", fuzz.HOSTILE[:12])
def test_every_hostile_value_in_a_quote_s_price(ws: fuzz.Workspace, value: object) -> None:
    """Table-driven: each hostile value in the place that reaches money arithmetic first."""
    import json

    data = fuzz.quote_inputs()[0]
    data["lines"][0]["list_price"] = value
    assert fuzz.check_quote(ws, json.dumps(data, default=str).encode()) == []
