"""The record's line format: in-toto Statement v1 entries, canonical bytes and digests.

Everything that reads or writes a line agrees on these definitions (the store
appends them, the index summarises them, the verifier re-hashes them), so they
live below all three and import nothing of the record.
"""


from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

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


