"""The forked batch executor: order, failures in a child, interruption, and no process left behind."""

from __future__ import annotations

import os
import time

import pytest

from cpq_cli.parallel import WorkerFailed, fork_map


def _slow(i: int) -> int:
    time.sleep(0.0005)  # long enough that the children get chunks too
    return i


def _no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.parametrize(("count", "jobs"), [(0, 2), (1, 2), (199, 2), (200, 2), (257, 2), (1000, 3), (5000, 4)])
def test_results_come_back_in_input_order_whoever_computed_them(count: int, jobs: int) -> None:
    parent = os.getpid()
    results = list(fork_map(lambda i: (_slow(i) * i, os.getpid() == parent), range(count), jobs))
    assert [r for r, _ in results] == [i * i for i in range(count)]
    if count >= 1000:  # enough work that the children took some
        assert not all(here for _, here in results)
    assert _no_children_left()


def test_a_failure_in_a_child_is_raised_in_the_parent_with_its_traceback() -> None:
    parent = os.getpid()

    def fn(i: int) -> int:
        if os.getpid() != parent and i % 7 == 3:
            raise ValueError(f"item {i} is broken")
        return _slow(i)

    with pytest.raises(WorkerFailed, match=r"ValueError: item \d+ is broken"):
        list(fork_map(fn, range(2000), 2))
    assert _no_children_left()


def test_a_child_that_dies_is_reported_not_waited_for() -> None:
    parent = os.getpid()

    def fn(i: int) -> int:
        if os.getpid() != parent:
            os._exit(3)
        return _slow(i)

    with pytest.raises(WorkerFailed, match="status"):
        list(fork_map(fn, range(2000), 2))
    assert _no_children_left()


def test_stopping_early_stops_the_children() -> None:
    results = fork_map(lambda i: i, range(100_000), 2)
    assert [next(results) for _ in range(10)] == list(range(10))
    results.close()  # e.g. the reader of the output went away
    assert _no_children_left()


def test_results_must_be_plain_data_and_a_result_that_cannot_cross_says_so() -> None:
    parent = os.getpid()
    with pytest.raises(WorkerFailed, match="pickle"):
        list(fork_map(lambda i: (lambda: i) if os.getpid() != parent else _slow(i), range(2000), 2))
    assert _no_children_left()
