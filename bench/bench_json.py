"""Would orjson or msgspec pay for themselves in cpq preview? (issue 13)

    pip install orjson msgspec     # in a benchmarking venv only
    python bench/bench_json.py

Measures, on 1,000 generated quotes and their preview envelopes: the import time of each
library in a new process, reading the quotes (the standard library as cpq reads them, with its
exact decimals and duplicate-key refusal, and plain; orjson and msgspec plain, which can do
neither), and writing the envelopes (json.dumps as cpq prints them; cpq's own writer; orjson
and msgspec, whose compact output is not the documented envelope's text).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from bench_preview import make_policy, make_quote  # noqa: E402


def best(fn: Any, items: list[Any], rounds: int = 5) -> float:
    """Microseconds per item, the best of `rounds`."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            fn(item)
        times.append((time.perf_counter() - start) / len(items) * 1e6)
    return min(times)


def import_ms(module: str) -> float:
    code = f"import time; s = time.perf_counter(); import {module}; print(time.perf_counter() - s)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(5)]
    return sorted(runs)[2] * 1000


def main() -> None:
    import tempfile

    from cpq_cli.limits import quick_json
    from cpq_cli.quote import parse_quote
    from cpq_cli.report.envelope import envelope_text
    from cpq_cli.report.path import path_json
    from cpq_cli.routing import compile_policy, route
    from cpq_cli.services.policy import load_policy

    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as work:
        make_policy(Path(work) / "p", 100, rng)
        compiled = compile_policy(load_policy(Path(work) / "p", use_cache=False))
    texts = [json.dumps(make_quote(f"Q-{i}", 20, rng)) for i in range(1000)]
    quotes = [parse_quote(quick_json(t)) for t in texts]
    paths = [(route(compiled, q), q) for q in quotes]
    envelopes = [path_json(p, q, "q.json") for p, q in paths]
    rows = [("import json (the standard library)", f"{import_ms('json'):.1f} ms")]
    libraries = {}
    for name in ("orjson", "msgspec"):
        try:
            libraries[name] = __import__(name)
            rows.append((f"import {name}", f"{import_ms(name):.1f} ms"))
        except ImportError:
            rows.append((f"import {name}", "not installed"))
    rows.append(("read a quote: cpq's reader (decimals, no duplicate keys)", f"{best(quick_json, texts):.1f} us"))
    rows.append(("read a quote: json.loads plain", f"{best(json.loads, texts):.1f} us"))
    if "orjson" in libraries:
        loads = libraries["orjson"].loads
        rows.append(("read a quote: orjson.loads (floats, last key wins)", f"{best(loads, texts):.1f} us"))
    if "msgspec" in libraries:
        decode = libraries["msgspec"].json.decode
        rows.append(("read a quote: msgspec.json.decode (floats, last key wins)", f"{best(decode, texts):.1f} us"))
    rows.append(("write an envelope: json.dumps (the documented text)",
                 f"{best(lambda e: json.dumps(e, ensure_ascii=False), envelopes):.1f} us"))
    def routed_and_dumped(q: Any) -> str:
        return json.dumps(path_json(route(compiled, q), q, "q.json"), ensure_ascii=False)

    rows.append(("route and write an envelope: route + path_json + json.dumps",
                 f"{best(routed_and_dumped, quotes):.1f} us (hash included)"))
    rows.append(("route and write an envelope: cpq's envelope_text (the same text)",
                 f"{best(lambda q: envelope_text(compiled, q, 'q.json').text, quotes):.1f} us (hash included)"))
    if "orjson" in libraries:
        rows.append(("write an envelope: orjson.dumps (compact: another text)",
                     f"{best(libraries['orjson'].dumps, envelopes):.1f} us"))
    if "msgspec" in libraries:
        ms = libraries["msgspec"].json
        rows.append(("write an envelope: msgspec.json.encode (compact: another text)",
                     f"{best(ms.encode, envelopes):.1f} us"))
        rows.append(("write an envelope: msgspec.json.encode + format(indent=0) (json.dumps's text)",
                     f"{best(lambda e: ms.format(ms.encode(e), indent=0), envelopes):.1f} us"))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
