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
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from gitops_ray.errors import RecordError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://gitops-ray.io/record/v1"
GENESIS = "0" * 64

# Fields the API server sets: a digest over them would change without any change of intent.
_SERVER_META = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp")


class EntryKind(StrEnum):
    INTENT = "intent"  # the plan, before the first write of a run
    OUTCOME = "outcome"  # one per action, after it
    OBSERVATION = "observation"  # disappearances, final statuses, drift, recovery notes
    CHECKPOINT = "checkpoint"  # end of run: size and head, also published as anchors


# --------------------------------------------------------------------------- canonical bytes and digests


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (RFC 8785-like; floats are Python's repr)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def strip_server_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        out["metadata"] = {k: v for k, v in meta.items() if k not in _SERVER_META}
    return out


def object_digest(body: Mapping[str, Any] | None) -> str | None:
    """SHA-256 hex of the canonical object without server-set fields.

    Secret values are left out of the digest (key names stay in): a digest of a
    short password is an offline guessing oracle, and the record must never help
    recover a value. A change of value still shows as a changed path in the diff.
    """
    if body is None:
        return None
    stripped = strip_server_fields(body)
    if body.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(stripped.get(key), Mapping):
                stripped[key] = {name: "" for name in stripped[key]}
    return sha256_hex(canonical_json(stripped))


def subject_name(api_version: str, kind: str, namespace: str, name: str) -> str:
    """`ray.io/v1/RayJob/team-a/train` (core: `v1/ConfigMap/ns/name`; cluster-scoped: no namespace)."""
    return "/".join(p for p in (api_version, kind, namespace, name) if p)


def subject(name: str, digest: str | None, **annotations: Any) -> dict[str, Any]:
    """An in-toto ResourceDescriptor. A subject MUST carry a digest: an object with no
    known body gets the digest of its name, marked so nobody mistakes it for content."""
    out: dict[str, Any] = {"name": name}
    if digest is None:
        out["digest"] = {"sha256": sha256_hex(name.encode())}
        annotations = {**annotations, "digestOf": "name"}
    else:
        out["digest"] = {"sha256": digest}
    extra = {k: v for k, v in annotations.items() if v not in (None, "", [], {})}
    if extra:
        out["annotations"] = extra
    return out


_uuid_lock = threading.Lock()
_uuid_last = 0


def uuid7() -> str:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, then random bits; ids sort by time.

    Within one process the timestamp never goes backwards, so ids written by one
    writer are strictly increasing.
    """
    global _uuid_last
    with _uuid_lock:
        ms = max(int(time.time() * 1000), _uuid_last)
        _uuid_last = ms
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def audit_id(entry_id: str, n: int) -> str:
    """The `Audit-ID` header of the n-th request (1-based) made under a record entry.

    The API server uses a client-sent Audit-ID verbatim as the audit event's
    auditID (kubernetes/apiserver pkg/endpoints/filters/audit_init.go), so the
    cluster's own audit log joins the record on this value.
    """
    return f"{entry_id}-{n}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, kw_only=True)
class Draft:
    """An entry before it has a place in the chain: the store fills in `predicate.entry`."""

    kind: EntryKind
    run_id: str
    predicate: dict[str, Any]
    subjects: list[dict[str, Any]] = field(default_factory=list)
    entry: dict[str, Any] = field(default_factory=dict)  # extra entry fields (intentId, ...)


@dataclass(frozen=True)
class Entry:
    """One chained line as stored. `line` is 1-based among the file's physical lines."""

    line: int
    offset: int
    raw: bytes
    statement: dict[str, Any]

    @property
    def predicate(self) -> dict[str, Any]:
        value: dict[str, Any] = self.statement["predicate"]
        return value

    @property
    def meta(self) -> dict[str, Any]:
        value: dict[str, Any] = self.statement["predicate"]["entry"]
        return value

    @property
    def kind(self) -> str:
        return str(self.meta.get("kind", ""))

    @property
    def id(self) -> str:
        return str(self.meta.get("id", ""))

    @property
    def run_id(self) -> str:
        return str(self.meta.get("runId", ""))

    @property
    def seq(self) -> int:
        return int(self.meta.get("seq", 0))

    @property
    def time(self) -> str:
        return str(self.meta.get("time", ""))

    @property
    def hash(self) -> str:
        return sha256_hex(self.raw)

    @property
    def subjects(self) -> list[dict[str, Any]]:
        return list(self.statement.get("subject") or [])


@dataclass(frozen=True)
class Segment:
    """A physical line that is not a chain entry: torn by a crash, or not ours."""

    line: int
    offset: int
    raw: bytes
    terminated: bool

    def describe(self) -> dict[str, Any]:
        return {"offset": self.offset, "length": len(self.raw), "sha256": sha256_hex(self.raw)}


@dataclass(frozen=True)
class Scan:
    """A whole file read in order: entries and non-entry segments, interleaved by line."""

    items: list[Entry | Segment]

    @property
    def entries(self) -> list[Entry]:
        return [i for i in self.items if isinstance(i, Entry)]

    @property
    def segments(self) -> list[Segment]:
        return [i for i in self.items if isinstance(i, Segment)]


def parse_entry(raw: bytes) -> dict[str, Any] | None:
    """The statement if `raw` is a chain entry, else None (never raises)."""
    if not raw.startswith(b"{") or not raw.endswith(b"}"):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    predicate = value.get("predicate")
    entry = predicate.get("entry") if isinstance(predicate, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
        return None
    return value


def scan_bytes(data: bytes) -> Scan:
    items: list[Entry | Segment] = []
    offset = 0
    pieces = data.split(b"\n")
    for n, piece in enumerate(pieces):
        terminated = n < len(pieces) - 1
        if not terminated and not piece:
            break
        statement = parse_entry(piece) if terminated else None
        if statement is not None:
            items.append(Entry(n + 1, offset, piece, statement))
        else:
            items.append(Segment(n + 1, offset, piece, terminated))
        offset += len(piece) + 1
    return Scan(items)


# --------------------------------------------------------------------------- the store


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
        from gitops_ray import recordindex

        recordindex.extend(self, written, size)
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
