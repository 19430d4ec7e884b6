"""The record's storage layer: one append-only, hash-chained JSON Lines file per environment.

Each line is one in-toto Statement v1 whose `predicate.entry` carries the chain:
`seq` (1-based position among entries) and `prev`, the SHA-256 (hex) of the exact
bytes of the previous entry's line, newline excluded (64 zeros for the first).
Lines are canonical JSON (sorted keys, no whitespace), so the bytes hashed are
the bytes stored and nothing has to be re-serialised to verify (in-toto ITE-5:
hash what is stored, do not depend on canonicalisation at verification time).

Crash and concurrency rules, which the tests exercise:

* An append is one `write()` of whole lines on an `O_APPEND` descriptor, under
  an exclusive `fcntl.flock`, then `fsync`: two processes (or threads, each
  append opens its own descriptor) never interleave or lose an entry.
* A crash can leave a torn last line (bytes not ending in a newline). It never
  blocks the next append: that append starts a fresh line, chains to the last
  whole entry, and names the torn bytes (offset, length, SHA-256) in its own
  `entry.torn`, so they stay on disk but outside the chain, and a verifier can
  tell those bytes from an edit. Torn bytes no later entry names are reported
  by `verify` as a torn tail.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gitops_ray.errors import RecordError
from gitops_ray.record import index
from gitops_ray.record.entries import (
    GENESIS,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    Draft,
    Entry,
    Scan,
    Segment,
    canonical_json,
    now_iso,
    parse_entry,
    scan_bytes,
    sha256_hex,
    uuid7,
)


class RecordStore:
    """One environment's log file.

    Appends keep the descriptor open (reopened after a fork, or when the file was
    replaced) and remember the head they wrote, so an append in a quiet log costs
    one write and one fsync; when another process appended in between, the head is
    read back from the file's tail instead.
    """

    def __init__(self, path: Path, *, environment: str) -> None:
        self.path = path
        self.environment = environment
        self._mutex = threading.Lock()  # flock is per open file description: threads need this too
        self._fd: int | None = None
        self._fd_pid = 0
        self._fd_ino = 0
        self._head: tuple[int, int, str] | None = None  # (file size after our write, seq, line hash)

    def __repr__(self) -> str:
        return f"RecordStore({str(self.path)!r}, environment={self.environment!r})"

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd, self._head = None, None

    def exists(self) -> bool:
        return self.path.exists()

    def scan(self) -> Scan:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Scan([])
        except OSError as err:
            raise RecordError(f"{self.path}: cannot read the record: {err.strerror}") from None
        return scan_bytes(data)

    def entries(self) -> Iterator[Entry]:
        yield from self.scan().entries

    def append(self, draft: Draft) -> Entry:
        return self.append_all([draft])[0]

    def _descriptor(self) -> tuple[int, bool]:
        """(descriptor, whether the file was just created)."""
        if self._fd is not None:
            if self._fd_pid != os.getpid():
                self._fd = None  # inherited across fork: never share a lock with the parent
            else:
                try:
                    if os.stat(self.path).st_ino == self._fd_ino:
                        return self._fd, False
                except FileNotFoundError:
                    pass
                self.close()
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        self._fd, self._fd_pid, self._fd_ino, self._head = fd, os.getpid(), os.fstat(fd).st_ino, None
        return fd, created

    def append_all(self, drafts: Sequence[Draft]) -> list[Entry]:
        """Append entries as one write + one fsync, under the file lock."""
        if not drafts:
            return []
        with self._mutex:
            try:
                fd, created = self._descriptor()
            except OSError as err:
                raise RecordError(f"{self.path}: cannot open the record for writing: {err.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    written = self._append_locked(fd, drafts)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            except OSError as err:
                self.close()
                raise RecordError(f"{self.path}: cannot append to the record: {err.strerror}") from None
            if created:
                _fsync_dir(self.path.parent)
            return written

    def _append_locked(self, fd: int, drafts: Sequence[Draft]) -> list[Entry]:
        size = os.fstat(fd).st_size
        torn: list[Segment] = []
        if self._head is not None and self._head[0] == size:
            seq, prev, ends_open = self._head[1], self._head[2], False
        else:
            last, torn, ends_open = _tail(fd, size)
            seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
        self._head = None
        out = bytearray(b"\n" if ends_open else b"")
        written: list[Entry] = []
        for n, draft in enumerate(drafts):
            seq += 1
            meta: dict[str, Any] = {**draft.entry, "kind": draft.kind.value, "id": uuid7(),
                                    "runId": draft.run_id, "seq": seq, "prev": prev, "time": now_iso()}
            if n == 0 and torn:
                meta["torn"] = [s.describe() for s in torn]
            statement = {"_type": STATEMENT_TYPE, "subject": draft.subjects, "predicateType": PREDICATE_TYPE,
                         "predicate": {**draft.predicate, "entry": meta}}
            raw = canonical_json(statement)
            written.append(Entry(0, size + len(out), raw, statement))  # line 0: not counted
            out += raw + b"\n"
            prev = sha256_hex(raw)
        _write_all(fd, bytes(out))
        os.fsync(fd)
        self._head = (size + len(out), seq, prev)
        index.extend(self, written, size)
        return written


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(path: Path) -> None:
    """A new file's directory entry must be durable too, or a crash can lose the whole file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _tail(fd: int, size: int, chunk: int = 1 << 16) -> tuple[Entry | None, list[Segment], bool]:
    """The last chain entry, the non-entry lines after it (oldest first), and whether the
    file ends without a newline. Reads backwards, so an append costs O(last lines), not
    O(file). Line numbers are not counted here (0)."""
    if size == 0:
        return None, [], False
    buf = b""
    buf_start = size

    def fill() -> bool:
        nonlocal buf, buf_start
        if buf_start == 0:
            return False
        start = max(0, buf_start - chunk)
        buf = os.pread(fd, buf_start - start, start) + buf
        buf_start = start
        return True

    fill()
    ends_open = not buf.endswith(b"\n")
    line_end = size if ends_open else size - 1  # exclusive end of the current line's content
    terminated = not ends_open
    torn: list[Segment] = []
    while True:
        nl = buf.rfind(b"\n", 0, line_end - buf_start)
        while nl == -1 and fill():
            nl = buf.rfind(b"\n", 0, line_end - buf_start)
        start = buf_start + nl + 1 if nl != -1 else 0
        raw = buf[start - buf_start:line_end - buf_start]
        statement = parse_entry(raw) if terminated else None
        if statement is not None:
            return Entry(0, start, raw, statement), torn[::-1], ends_open
        torn.append(Segment(0, start, raw, terminated))
        if start == 0:
            return None, torn[::-1], ends_open
        line_end = start - 1
        terminated = True
