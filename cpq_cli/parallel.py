"""Spreading per-item work over the CPU cores with forked workers.

Forked workers inherit the parent's memory, so `fn` may close over compiled policies (closures
cannot be pickled); only each item and each result cross the process boundary, so both must be
plain data. Results come back in input order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_fn: Callable[[Any], Any] | None = None


def _call(item: Any) -> Any:
    assert _fn is not None
    return _fn(item)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def fork_map(fn: Callable[[T], R], items: Sequence[T], jobs: int, min_items: int = 200) -> Iterator[R]:
    """`fn(item)` for every item, in order; in `jobs` forked processes when there are enough items."""
    import multiprocessing

    if jobs <= 1 or len(items) < min_items or "fork" not in multiprocessing.get_all_start_methods():
        yield from (fn(item) for item in items)
        return
    global _fn
    _fn = fn
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            chunk = max(1, min(256, len(items) // (jobs * 8)))
            yield from pool.imap(_call, items, chunksize=chunk)
    finally:
        _fn = None

