"""The forked batch executor: order, failures in a child, interruption, and no process left behind."""

from __future__ import annotations

import os
import time
from typing import Any

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


def _gone(pid: int) -> bool:
    """Whether a process (not our child: no waitpid) has ended; a zombie no one reaps has."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_a_parent_killed_mid_batch_leaves_no_child_working(tmp_path: Any) -> None:
    """SIGTERM or SIGKILL to `cpq preview` (a CI timeout) ends the parent before its `finally`: its
    children notice between chunks and stop, instead of computing the rest of the batch for no one."""
    import signal
    import subprocess
    import sys

    mark = tmp_path / "child"
    script = ("import os, time\nfrom cpq_cli.parallel import fork_map\nparent = os.getpid()\n"
              "def fn(i):\n"
              f"    if os.getpid() != parent and not os.path.exists({str(mark)!r}):\n"
              f"        open({str(mark)!r}, 'w').write(str(os.getpid()))\n"
              "    time.sleep(0.001)\n    return i\n"
              "for _ in fork_map(fn, range(200_000), 2):\n    pass\n")
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 20
        while not (mark.exists() and mark.read_text()) and time.monotonic() < deadline:
            time.sleep(0.01)
        child = int(mark.read_text())
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _gone(child), "the orphaned worker kept computing"


def test_a_child_killed_while_it_claims_a_chunk_is_reported_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The OOM killer may strike a child while it holds the lock on the chunk counter: the parent
    must not wait for that lock forever (the hang the executor exists to avoid)."""
    import fcntl
    import signal

    parent, locking = os.getpid(), fcntl.lockf

    def lockf(fd: int, operation: int, *args: Any) -> Any:
        done = locking(fd, operation, *args)
        if os.getpid() != parent and operation == fcntl.LOCK_EX:
            os.kill(os.getpid(), signal.SIGKILL)
        return done

    monkeypatch.setattr(fcntl, "lockf", lockf)
    answer: list[BaseException] = []

    def run() -> None:
        try:
            list(fork_map(_slow, range(2000), 2))
        except BaseException as exc:
            answer.append(exc)

    import threading

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "the parent waits forever for a lock its dead child held"
    assert answer and isinstance(answer[0], WorkerFailed) and "SIGKILL" in str(answer[0])
    assert _no_children_left()


def test_a_temporary_directory_that_is_full_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child that cannot write its results (TMPDIR full, or read-only) is a set-up error that says
    which and what to do, not an internal error 'status 256' (its traceback could not be written either)."""
    import errno

    from cpq_cli.errors import ConfigError

    parent, writing = os.getpid(), os.write

    def write(fd: int, data: Any) -> int:
        if os.getpid() != parent and fd > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return writing(fd, data)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(ConfigError, match="No space left on device") as raised:
        list(fork_map(_slow, range(2000), 2))
    assert "TMPDIR" in str(raised.value.hint) and "--jobs 1" in str(raised.value.hint)
    assert _no_children_left()


def test_a_reaped_child_is_never_signalled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once waited for, a child's pid may belong to another process: stopping the rest after a
    failure must not signal it."""
    parent = os.getpid()
    events: list[tuple[str, int]] = []
    waiting, killing = os.waitpid, os.kill

    def waitpid(pid: int, options: int) -> tuple[int, int]:
        found = waiting(pid, options)
        if found[0]:
            events.append(("reaped", found[0]))
        return found

    def kill(pid: int, sig: int) -> None:
        events.append(("signalled", pid))
        killing(pid, sig)

    monkeypatch.setattr(os, "waitpid", waitpid)
    monkeypatch.setattr(os, "kill", kill)

    def fn(i: int) -> int:
        if os.getpid() != parent:
            raise ValueError("broken")
        return _slow(i)

    with pytest.raises(WorkerFailed):
        list(fork_map(fn, range(3000), 3))
    late = [pid for n, (what, pid) in enumerate(events) if what == "signalled" and ("reaped", pid) in events[:n]]
    assert not late, events
