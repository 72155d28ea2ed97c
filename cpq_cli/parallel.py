"""Spreading per-item work over the CPU cores with forked workers.

Forked workers inherit the parent's memory, so `fn` may close over compiled policies (closures
cannot be pickled); only each result crosses the process boundary, so results must be plain
data (picklable). Results come back in input order.

The parent is one of the workers: with `jobs` = 2 it forks one child and both take chunks of
the items from a shared counter as they finish the last one (so a slow chunk does not hold the
others up). The counter's lock is a POSIX record lock, which the kernel releases when its holder
dies, and a child whose parent was killed stops at its next chunk. A child writes each finished
chunk, pickled, to its own temporary file; the parent yields results in order as soon as every
chunk before them is in. Why not multiprocessing.Pool: a pool whose worker dies (the OOM killer,
a crash in an extension) waits for its lost task forever, so `cpq preview` would hang in CI; here
the parent sees the child's exit status and says so, and a temporary directory too full for the
results is a set-up error that says so. (Speed is the same as a pool's on two cores, measured
interleaved: 0.996x.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_HEADER = 16  # chunk number and payload length, 8 bytes each (little-endian)
_DONE = -1  # a chunk number that marks a child's failure record
_NO_ROOM = 75  # a child's exit status: it could not write to its temporary file (EX_TEMPFAIL)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class WorkerFailed(RuntimeError):
    """A forked worker raised or died; the message carries its traceback when it could send one."""


def fork_map(fn: Callable[[T], R], items: Sequence[T], jobs: int, min_items: int = 200) -> Iterator[R]:
    """`fn(item)` for every item, in order; in `jobs` processes (this one and forked children)
    when there are enough items."""
    if jobs <= 1 or len(items) < min_items or not hasattr(os, "fork"):
        yield from (fn(item) for item in items)
        return
    yield from _forked(fn, items, jobs)


def _forked(fn: Callable[[T], R], items: Sequence[T], jobs: int) -> Iterator[R]:
    import fcntl
    import gc
    import mmap
    import pickle
    import tempfile

    # Small enough to balance and for a chunk's pickle (8 envelopes, ~100 KB) to stay below what
    # the allocator maps and unmaps for each one (64 cost 30,000 page faults over 10,000 quotes).
    size = max(1, min(8, len(items) // (jobs * 16)))
    chunks = (len(items) + size - 1) // size
    # Shared with the children: an anonymous mapping is shared across fork (multiprocessing's
    # shared values are the same thing behind ~12 ms of imports).
    counter = mmap.mmap(-1, 8)
    parent = os.getpid()
    made: list[IO[bytes]] = []
    try:
        for _ in range(jobs):
            made.append(tempfile.TemporaryFile())  # noqa: SIM115 - closed below
    except OSError as exc:
        for f in made:
            f.close()
        raise _no_room(exc) from None
    # The counter's lock is a POSIX record lock on the first file, not a semaphore: the kernel drops
    # it when its holder dies, so a child killed while claiming cannot leave the others waiting.
    lock, files = made[0], made[1:]
    notes = [mmap.mmap(-1, 400) for _ in files]  # why a child failed, when its file could not say

    def claim() -> int | None:
        if os.getpid() != parent and os.getppid() != parent:
            return None  # the parent is gone (killed before it could stop us): no one wants the rest
        fcntl.lockf(lock.fileno(), fcntl.LOCK_EX)
        try:
            number = int.from_bytes(counter, "little")
            if number >= chunks:
                return None
            counter[:] = (number + 1).to_bytes(8, "little")
            return number
        finally:
            fcntl.lockf(lock.fileno(), fcntl.LOCK_UN)

    def compute(number: int) -> list[R]:
        return [fn(item) for item in items[number * size:(number + 1) * size]]

    children: list[int] = []
    gc.freeze()  # children share the parent's objects untouched by their collector (fewer copied pages)
    try:
        for out, note in zip(files, notes, strict=True):
            pid = os.fork()
            if pid == 0:  # the child: never returns into the parent's code
                _child(claim, compute, out, note, pickle)
            children.append(pid)
    finally:
        gc.unfreeze()
    readers = [_Reader(f) for f in files]
    done: dict[int, list[R]] = {}
    following = 0
    try:
        while (number := claim()) is not None:
            done[number] = compute(number)
            for reader in readers:
                reader.collect(done)
            while following in done:
                yield from done.pop(following)
                following += 1
        for reader, note in zip(readers, notes, strict=True):
            _, status = os.waitpid(children[0], 0)
            children.pop(0)  # reaped: its pid may be another process's from now on
            reader.collect(done)
            if reader.failure is not None or status != 0:
                raise _failure(reader.failure, bytes(note).split(b"\0", 1)[0].decode("utf-8", "replace"), status)
        while following < chunks:
            if following not in done:
                raise WorkerFailed(f"chunk {following} of {chunks} never arrived")
            yield from done.pop(following)
            following += 1
    finally:
        for pid in children:  # interrupted or failed: stop the rest
            try:
                os.kill(pid, 15)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for f in made:
            f.close()
        for shared in (counter, *notes):
            shared.close()


class _Undeliverable(Exception):
    """A child could not write a finished chunk to its file (TMPDIR full or read-only)."""


def _child(claim: Callable[[], int | None], compute: Callable[[int], list[Any]], out: IO[bytes], note: Any,
           pickle: Any) -> None:
    code = 0
    try:
        fd = out.fileno()
        while (number := claim()) is not None:
            payload = pickle.dumps(compute(number), protocol=pickle.HIGHEST_PROTOCOL)
            try:
                _write(fd, number, payload)
            except OSError as exc:
                raise _Undeliverable(exc.strerror or str(exc)) from None
    except _Undeliverable as exc:  # the file takes no traceback either: the shared note says why
        code = _NO_ROOM
        text = str(exc).encode("utf-8", "replace")[:len(note) - 1]
        note[:len(text)] = text  # the rest of the mapping is zeros: the text's end
    except BaseException:  # reported to the parent, which raises it
        import contextlib
        import traceback

        code = 1
        with contextlib.suppress(BaseException):  # if even that fails, the exit status says it
            _write(out.fileno(), _DONE, traceback.format_exc().encode("utf-8", "replace"))
    finally:
        os._exit(code)  # no atexit handlers, no flushing of buffers inherited from the parent


def _no_room(exc: OSError) -> Exception:
    import tempfile

    from cpq_cli.errors import ConfigError

    return ConfigError(f"the worker processes cannot write their results to the temporary directory "
                       f"{tempfile.gettempdir()}: {exc.strerror or exc}",
                       hint="free some space there, set TMPDIR to another directory, or use --jobs 1")


def _failure(record: str | None, note: str, status: int) -> Exception:
    """What the parent raises for a child that failed: its traceback, else what it could say."""
    import signal

    if record is not None:
        return WorkerFailed(record)
    code = os.waitstatus_to_exitcode(status)
    if code == _NO_ROOM:
        return _no_room(OSError(note or "a write failed"))
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return WorkerFailed(f"a worker process was killed by {name}" + (" (out of memory?)" if name == "SIGKILL"
                                                                          else ""))
    return WorkerFailed(f"a worker process ended with exit status {code}")


def _write(fd: int, number: int, payload: bytes) -> None:
    data = memoryview(number.to_bytes(8, "little", signed=True) + len(payload).to_bytes(8, "little") + payload)
    while data:
        data = data[os.write(fd, data):]


class _Reader:
    """Reads the complete records a child has appended to its file so far."""

    def __init__(self, file: IO[bytes]) -> None:
        self.fd = file.fileno()
        self.offset = 0
        self.failure: str | None = None

    def collect(self, done: dict[int, Any]) -> None:
        import pickle

        while True:
            head = os.pread(self.fd, _HEADER, self.offset)
            if len(head) < _HEADER:
                return
            number = int.from_bytes(head[:8], "little", signed=True)
            length = int.from_bytes(head[8:], "little")
            payload = os.pread(self.fd, length, self.offset + _HEADER)
            if len(payload) < length:
                return  # still being written
            self.offset += _HEADER + length
            if number == _DONE:
                self.failure = payload.decode("utf-8", "replace")
                return
            done[number] = pickle.loads(payload)
