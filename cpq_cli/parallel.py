"""Spreading per-item work over the CPU cores with forked workers.

Forked workers inherit the parent's memory, so `fn` may close over compiled policies (closures
cannot be pickled); only each result crosses the process boundary, so results must be plain
data (picklable). Results come back in input order.

The parent is one of the workers: with `jobs` = 2 it forks one child and both take chunks of
the items from a shared counter as they finish the last one (so a slow chunk does not hold the
others up). A child writes each finished chunk, pickled, to its own temporary file; the parent
yields results in order as soon as every chunk before them is in. Why not multiprocessing.Pool:
a pool whose worker dies (the OOM killer, a crash in an extension) waits for its lost task
forever, so `cpq preview` would hang in CI; here the parent sees the child's exit status and
says so. (Speed is the same as a pool's on two cores, measured interleaved: 0.996x.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_HEADER = 16  # chunk number and payload length, 8 bytes each (little-endian)
_DONE = -1  # a chunk number that marks a child's failure record


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
    import gc
    import multiprocessing
    import pickle
    import tempfile

    context = multiprocessing.get_context("fork")
    size = max(1, min(64, len(items) // (jobs * 16)))  # small enough to balance, large enough to amortise
    chunks = (len(items) + size - 1) // size
    counter = context.RawValue("q", 0)
    lock = context.Lock()

    def claim() -> int | None:
        with lock:
            number = counter.value
            if number >= chunks:
                return None
            counter.value = number + 1
            return int(number)

    def compute(number: int) -> list[R]:
        return [fn(item) for item in items[number * size:(number + 1) * size]]

    files: list[IO[bytes]] = [tempfile.TemporaryFile() for _ in range(jobs - 1)]  # noqa: SIM115 - closed below
    children: list[int] = []
    gc.freeze()  # children share the parent's objects untouched by their collector (fewer copied pages)
    try:
        for out in files:
            pid = os.fork()
            if pid == 0:  # the child: never returns into the parent's code
                _child(claim, compute, out, pickle)
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
        for pid, reader in zip(children, readers, strict=True):
            _, status = os.waitpid(pid, 0)
            reader.collect(done)
            if reader.failure is not None or status != 0:
                raise WorkerFailed(reader.failure or f"a worker process ended with status {status}")
        children.clear()
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
        for f in files:
            f.close()


def _child(claim: Callable[[], int | None], compute: Callable[[int], list[Any]], out: IO[bytes],
           pickle: Any) -> None:
    code = 0
    try:
        fd = out.fileno()
        while (number := claim()) is not None:
            _write(fd, number, pickle.dumps(compute(number), protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException:  # reported to the parent, which raises it
        import contextlib
        import traceback

        code = 1
        with contextlib.suppress(BaseException):  # if even that fails, the exit status says it
            _write(out.fileno(), _DONE, traceback.format_exc().encode("utf-8", "replace"))
    finally:
        os._exit(code)  # no atexit handlers, no flushing of buffers inherited from the parent


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
