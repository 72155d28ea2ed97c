"""Fuzzing cpq with mutated policies, quotes and e-mail replies (issue 11).

    python -m bench.fuzz --minutes 10            # a longer run; failures saved under fuzz-failures/
    python -m bench.fuzz --minutes 1 --seed 7    # reproducible

Each round takes one bundled input (a policy file, an example quote, a reply e-mail), mutates
it (a value replaced by a hostile one, a key dropped or duplicated, bytes flipped or cut), runs
the commands that read it in process, and checks the contract: exit code 0, 1 or 2; no
traceback and no "internal error"; no command slower than the bound; and siblings agree —
`lint` and `preview` accept the same policy sets, `check-quote` and `preview` the same quotes.
`tests/test_fuzz.py` runs the same checks on a bounded number of hypothesis examples in CI.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SLOW_SECONDS = 20.0

HOSTILE: list[Any] = [
    None, True, False, 0, -1, 1.5, "1.5", "", " ", "\n", "x" * 300, "Q/../../x", "../../etc", "\u202e", "\x07",
    "NaN", "Infinity", "1e400", 10**25, -(10**25), Decimal("1e-29"), Decimal("12.5"), "12.5", [], {}, [1, 2],
    {"a": {"b": {"c": None}}}, "2026-02-30", "2026-13-01", "1:30", "0b_", "'; DROP TABLE events; --",
    "owner.manager.manager.manager", "field:owner", "auto", "{{7*7}}", "$quote_id", "ünïcödé",
]
RAW_TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "9" * 5000, '"\\ud800"', "[" * 200, "{}", "null"]


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _paths(value, (*prefix, i))
    return found


def mutate_data(data: Any, rng: random.Random) -> Any:
    """One structural mutation of a JSON-like value: replace, drop, duplicate or retype a node."""
    data = copy.deepcopy(data)
    paths = [p for p in _paths(data) if p]
    if not paths:
        return rng.choice(HOSTILE)
    path = rng.choice(paths)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    action = rng.random()
    if action < 0.55:
        parent[key] = rng.choice(HOSTILE)
    elif action < 0.7 and isinstance(parent, dict):
        del parent[key]
    elif action < 0.8 and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    elif action < 0.9 and isinstance(parent[key], str):
        parent[key] = parent[key] * rng.choice([2, 50, 3000])
    else:
        parent[key] = [parent[key]] if rng.random() < 0.5 else {"x": parent[key]}
    return data


def mutate_bytes(raw: bytes, rng: random.Random) -> bytes:
    """Byte-level damage: a flip, a cut, an insertion of a hostile token."""
    if not raw:
        return raw
    action = rng.random()
    at = rng.randrange(len(raw))
    if action < 0.3:
        return raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1:]
    if action < 0.5:
        return raw[:at]
    token = rng.choice(RAW_TOKENS).encode()
    return raw[:at] + token + raw[at:]


def _dump(data: Any, suffix: str) -> str:
    if suffix == ".toml":
        import tomli_w

        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {str(k): plain(v) for k, v in value.items() if v is not None}
            if isinstance(value, list):
                return [plain(v) for v in value if v is not None]
            return value

        return tomli_w.dumps(plain(data))
    import yaml

    return yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False, allow_unicode=True)


class Workspace:
    """A scratch copy of the bundled example, and the CLI run in process against it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        shutil.copytree(ROOT / "policies", base / "policies")
        shutil.copytree(ROOT / "examples", base / "examples")
        shutil.copy(ROOT / "cpq.toml", base / "cpq.toml")
        self.pristine = {p: p.read_bytes() for p in (base / "policies").rglob("*") if p.is_file()}

    def restore(self) -> None:
        for path in list((self.base / "policies").rglob("*")):
            if path.is_file() and path not in self.pristine:
                path.unlink()
        for path, raw in self.pristine.items():
            path.write_bytes(raw)
        shutil.rmtree(self.base / ".cpq", ignore_errors=True)

    def run(self, *args: str) -> tuple[int, str, float]:
        from typer.testing import CliRunner

        from cpq_cli.cli.app import app

        old = os.getcwd()
        os.chdir(self.base)
        started = time.perf_counter()
        try:
            result = CliRunner().invoke(app, list(args), catch_exceptions=True)
        finally:
            os.chdir(old)
        text = result.stdout + result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            text += f"\nTraceback: {type(result.exception).__name__}: {result.exception}"
        return result.exit_code, text, time.perf_counter() - started


def _contract(outcomes: list[tuple[list[str], int, str, float]]) -> list[str]:
    problems = []
    for args, code, text, seconds in outcomes:
        where = "cpq " + " ".join(args[:2])
        if code not in (0, 1, 2):
            problems.append(f"{where}: exit {code}")
        if "Traceback" in text or "internal error" in text or "please report" in text:
            problems.append(f"{where}: {text.strip().splitlines()[-1][:300] if text.strip() else 'crash'}")
        if seconds > SLOW_SECONDS:
            problems.append(f"{where}: took {seconds:.1f} s")
    return problems


def check_policy(ws: Workspace, name: str, text: str | bytes) -> list[str]:
    """Put a (mutated) policy file in the set; lint and preview must agree and stay clean."""
    ws.restore()
    path = ws.base / "policies" / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    quote = str(ws.base / "examples" / "quotes" / "Q-1004-multi-site.json")
    outcomes = [(args, *ws.run(*args)) for args in (["lint", "policies"], ["preview", quote])]
    problems = _contract(outcomes)
    lint_code, preview_text = outcomes[0][1], outcomes[1][2]
    refused = "policy set has errors" in preview_text or "cannot be loaded" in preview_text
    if lint_code == 0 and refused:
        problems.append("lint accepts the policy set but preview refuses it")
    if lint_code == 1 and outcomes[1][1] == 0:
        problems.append("lint finds errors but preview routes with the policy set")
    return problems


def check_quote(ws: Workspace, raw: bytes) -> list[str]:
    """A (mutated) quote: check-quote and preview accept exactly the same ones."""
    ws.restore()
    path = ws.base / "fuzzed.json"
    path.write_bytes(raw)
    outcomes = [(args, *ws.run(*args)) for args in (["check-quote", str(path)], ["preview", str(path)])]
    problems = _contract(outcomes)
    checked, previewed = outcomes[0][1], outcomes[1][1]
    # A valid quote may still not route against this policy set (its owner is no user): that is
    # the policy's verdict, not a disagreement about what a valid quote is.
    routing = "approver '" in outcomes[1][2] and ("resolves to" in outcomes[1][2] or "not a user" in outcomes[1][2])
    if (checked == 0) != (previewed == 0) and not (checked == 0 and routing):
        problems.append(f"check-quote exits {checked} but preview exits {previewed}")
    return problems


def check_mail(ws: Workspace, raw: bytes) -> list[str]:
    """A (mutated) reply e-mail: ingest reports it (decided, refused, quarantined), never crashes."""
    path = ws.base / "reply.eml"
    path.write_bytes(raw)
    return _contract([(["mail", "ingest"], *ws.run("mail", "ingest", str(path)))])


def reply_bytes() -> bytes:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Alice Ng <alice@northwind.example>"
    message["To"] = "approvals@northwind.example"
    message["Subject"] = "Re: [cpq 0123456789ab] Approval requested: Q-1004"
    message["Message-ID"] = "<fuzz@northwind.example>"
    message.set_content("APPROVE\nfine by me\n\n> cpq-reply-code: " + "0" * 24 + "\n")
    return bytes(message)


def policy_inputs() -> list[tuple[str, Any]]:
    from cpq_cli.sources import load_document

    return [(p.name, load_document(p).data) for p in sorted((ROOT / "policies").glob("*.*"))
            if p.suffix in (".yaml", ".toml")]


def quote_inputs() -> list[Any]:
    return [json.loads(p.read_text()) for p in sorted((ROOT / "examples" / "quotes").glob("*.json"))]


def one_round(ws: Workspace, rng: random.Random) -> tuple[str, bytes, list[str]]:
    kind = rng.choice(["policy", "quote", "mail"])
    if kind == "policy":
        name, data = rng.choice(policy_inputs())
        text = _dump(mutate_data(data, rng), Path(name).suffix) if rng.random() < 0.7 else mutate_bytes(
            (ROOT / "policies" / name).read_bytes(), rng).decode("utf-8", "replace")
        raw = text.encode("utf-8", "surrogatepass")
        return f"policy:{name}", raw, check_policy(ws, name, raw)
    if kind == "quote":
        data = rng.choice(quote_inputs())
        raw = (json.dumps(mutate_data(data, rng), default=str).encode("utf-8", "surrogatepass")
               if rng.random() < 0.7 else mutate_bytes(json.dumps(data).encode(), rng))
        return "quote", raw, check_quote(ws, raw)
    raw = mutate_bytes(reply_bytes(), rng)
    return "mail", raw, check_mail(ws, raw)


def main(argv: list[str] | None = None, clock: Callable[[], float] = time.monotonic) -> int:
    parser = argparse.ArgumentParser(description="Fuzz cpq with mutated policies, quotes and e-mails.")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"))
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    deadline = clock() + args.minutes * 60
    rounds = failures = 0
    with tempfile.TemporaryDirectory(prefix="cpq-fuzz-") as scratch:
        os.environ.setdefault("CPQ_CACHE_DIR", str(Path(scratch) / "cache"))
        ws = Workspace(Path(scratch) / "w")
        while clock() < deadline:
            rounds += 1
            kind, raw, problems = one_round(ws, rng)
            if problems:
                failures += 1
                args.out.mkdir(parents=True, exist_ok=True)
                stem = f"{failures:04d}-{kind.replace(':', '-')}"
                (args.out / f"{stem}.input").write_bytes(raw)
                (args.out / f"{stem}.txt").write_text("\n".join(problems) + "\n")
                print(f"FAIL {kind}: {problems[0]}")
    print(f"fuzz: seed {seed}, {rounds} rounds, {failures} failing input(s)"
          + (f" saved in {args.out}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
