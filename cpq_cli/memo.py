"""Bounded memos for values met again and again across a batch (encoded pieces, display texts).

A memo that outgrows its bound starts over rather than evicting one by one: the hot keys of a
batch come back at once, and a dict without bookkeeping keeps every hit to one lookup.
"""

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, value: V, limit: int) -> V:
    """Store `value` under `key` (emptying `memo` first when it holds more than `limit`); return it."""
    if len(memo) > limit:
        memo.clear()
    memo[key] = value
    return value
