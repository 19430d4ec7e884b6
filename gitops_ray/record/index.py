"""A derived, rebuildable index of a record log, so `history` does not parse every intent.

Intents carry the governance facts and diffs of every object, so a log is mostly
intent bytes, and `json.loads` of 100,000 entries costs seconds. The index
(`<env>.jsonl.idx`, beside the log) keeps one tab-separated line per entry with
exactly what a history row shows (offset, length, short hash, seq, kind, ids,
time, resource, action, outcome, commit, HTTP, duration, Audit-IDs, message),
plus a small JSON detail; splitting text is an order of magnitude cheaper than
decoding JSON. Full entries are read by offset when a report needs them.

The index is *derived*, never evidence: `audit verify` ignores it, it is not
fsynced, and it is rebuilt whenever it does not match the log (the log is
shorter than the index says, or the last indexed line's hash differs). The
writer extends it under the log's lock when it is current; otherwise the next
reader catches it up from where it stops.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from gitops_ray.record.entries import Entry, canonical_json, parse_entry, scan_bytes, sha256_hex


class Log(Protocol):
    """What the index needs of a store: where its log is. The store keeps the index current
    as it appends, so the store imports the index and never the other way round."""

    path: Path


SUFFIX = ".idx"
HEADER = "gitops-ray-record-index\t4"
ROW_OBSERVATIONS = frozenset({"disappearance", "final-status", "drift", "health"})
_MAX_PATHS = 20
_MESSAGE = 300

# Field positions of an index line.
OFFSET, LENGTH, HASH, SEQ, KIND, ID, RUN, TIME, INTENT, N, ROW, RESOURCE, ACTION, OUTCOME, COMMIT, HTTP, DURATION, \
    AUDIT_IDS, MESSAGE, OWNER, DETAIL = range(21)


def index_path(log: Path) -> Path:
    return log.with_name(log.name + SUFFIX)


def _escape(text: Any) -> str:
    return str(text or "")[:_MESSAGE].replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append({"t": "\t", "n": "\n"}.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _json(value: Mapping[str, Any]) -> str:
    clean = {k: v for k, v in value.items() if v not in (None, "", [], {})}
    return canonical_json(clean).decode() if clean else ""


def _short_hash(raw: bytes) -> str:
    """Enough to notice that the log changed under the index (verify is the integrity check)."""
    return sha256_hex(raw)[:16]


def summarize(entry: Entry) -> list[str]:
    """The row-ready fields of one entry: the one place that reads predicates for history."""
    meta, pred = entry.meta, entry.predicate
    fields = [str(entry.offset), str(len(entry.raw)), _short_hash(entry.raw), str(meta.get("seq", 0)), entry.kind,
              entry.id, entry.run_id, entry.time, str(meta.get("intentId", "")), ""] + [""] * 11
    kind = entry.kind
    if kind == "intent":
        source = pred.get("source") or {}
        author = source.get("author") or {}
        # An intent line reuses the row columns for what its outcomes show: environment,
        # author and actor as plain text (no JSON to decode), the planned actions as JSON.
        fields[ROW] = "intent"
        fields[COMMIT] = str((source.get("commit") or {}).get("gitCommit", ""))
        fields[RESOURCE] = _escape(pred.get("environment"))
        fields[ACTION] = _escape(author.get("email") or author.get("name"))
        fields[OUTCOME] = _escape((pred.get("actor") or {}).get("id"))
        fields[DETAIL] = _json({str(a.get("n")): {"reason": a.get("reason"),
                                                  "changedPaths": list(a.get("changedPaths") or ())[:_MAX_PATHS]}
                                for a in pred.get("actions") or ()})
    elif kind == "outcome":
        action, result = pred.get("action") or {}, pred.get("result") or {}
        outcome = str(result.get("outcome", ""))
        if meta.get("recovery"):
            outcome = f"recovered: {result.get('state', '')}"
        fields[N] = str(action.get("n", ""))
        fields[ROW], fields[RESOURCE], fields[ACTION], fields[OUTCOME] = "outcome", str(action.get("ref", "")), \
            str(action.get("op", "")), outcome
        fields[HTTP] = str(result.get("http") or "")
        fields[DURATION] = str(result.get("durationS", ""))
        fields[AUDIT_IDS] = ",".join(result.get("auditIDs") or ())
        fields[MESSAGE] = _escape(result.get("message") or result.get("error"))
        fields[DETAIL] = _json({"uidBefore": result.get("uidBefore"), "uidAfter": result.get("uidAfter"),
                                "strategy": action.get("strategy")})
    elif kind == "observation":
        _observation(fields, pred.get("observation") or {})
    return fields


def _observation(fields: list[str], obs: Mapping[str, Any]) -> None:
    kind = str(obs.get("type", ""))
    if kind not in ROW_OBSERVATIONS:
        return
    fields[ROW], fields[RESOURCE] = kind, str(obs.get("ref", ""))
    if kind == "disappearance":
        why = obs.get("authorizedBy") or {}
        fields[ACTION], fields[OUTCOME], fields[COMMIT] = "vanished", str(obs.get("cause")), str(why.get("commit", ""))
        said = ", ".join(f"{k} {why[k]}" for k in ("runId", "rule", "owner", "via") if why.get(k))
        fields[MESSAGE] = _escape(said)
        fields[OWNER] = str(why.get("owner", ""))
        fields[DETAIL] = _json({"uid": obs.get("uid"), "authorizedBy": why})
    elif kind == "final-status":
        status = obs.get("status") or {}
        fields[ACTION] = "final-status"
        fields[OUTCOME] = "/".join(str(s) for s in (status.get("jobDeploymentStatus") or status.get("state"),
                                                    status.get("jobStatus")) if s)
        fields[COMMIT], fields[MESSAGE] = str(obs.get("commit", "")), _escape(_final_words(status, obs))
        fields[DETAIL] = _json({"uid": obs.get("uid"), "status": status, "when": obs.get("when"),
                                "facts": obs.get("facts"), "specDigest": obs.get("specDigest")})
    elif kind == "drift":
        fields[ACTION], fields[OUTCOME] = "drift", f"would {obs.get('would')}"
        fields[MESSAGE] = _escape(obs.get("reason"))
        fields[DETAIL] = _json({"changedPaths": obs.get("changedPaths")})
    else:
        fields[ACTION], fields[OUTCOME], fields[MESSAGE] = "health", str(obs.get("outcome", "")), \
            _escape(obs.get("message"))


def _final_words(status: Mapping[str, Any], obs: Mapping[str, Any]) -> str:
    """One line for a final status: what an auditor asks of a run Ray may since have cleaned up."""
    facts = obs.get("facts") or {}
    gpus = ", ".join(f"{k}: {v}" for kind in ("gpu", "tpu")
                     for k, v in ((facts.get("accelerators") or {}).get(kind) or {}).items())
    parts = [f"job {status['jobId']}" if status.get("jobId") else "",
             f"ended {status['endTime']}" if status.get("endTime") else "",
             f"images {', '.join(facts.get('images') or ())}" if facts.get("images") else "",
             f"GPUs {gpus}" if gpus else "", str(status.get("message") or "")]
    return "; ".join(p for p in parts if p)


def _lines(entries: Sequence[Entry]) -> bytes:
    return "".join("\t".join(summarize(e)) + "\n" for e in entries).encode()


_known: dict[Path, tuple[int, int]] = {}  # index path -> (index size, log offset covered) after our write


def extend(store: Log, entries: Sequence[Entry], log_size_before: int) -> None:
    """Writer side, called with the log locked: append when the index is exactly current.
    Best effort; a skipped or failed update is caught up by the next reader."""
    path = index_path(store.path)
    with contextlib.suppress(OSError):
        data = _lines(entries)
        end = entries[-1].offset + len(entries[-1].raw) + 1 if entries else 0
        if log_size_before == 0:
            data = HEADER.encode() + b"\n" + data
            path.write_bytes(data)
            _known[path] = (len(data), end)
            return
        if not entries:
            return
        size = os.stat(path).st_size
        cached = _known.get(path)
        covered = cached[1] if cached is not None and cached[0] == size else _covered_end(path)
        if covered == entries[0].offset:
            with path.open("ab") as fh:
                fh.write(data)
            _known[path] = (size + len(data), end)


def _covered_end(path: Path) -> int | None:
    """The log offset the index covers up to, from its last line (read backwards)."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            chunk = 4096
            while True:
                fh.seek(max(0, size - chunk))
                tail = fh.read()
                if tail.count(b"\n") >= 2 or chunk >= size:
                    break
                chunk *= 4
    except OSError:
        return None
    if not tail.endswith(b"\n"):
        return None
    last = tail[:-1].rsplit(b"\n", 1)[-1].decode(errors="replace")
    if last == HEADER:
        return 0
    parts = last.split("\t")
    if len(parts) != 21 or not parts[OFFSET].isdigit() or not parts[LENGTH].isdigit():
        return None
    return int(parts[OFFSET]) + int(parts[LENGTH]) + 1


def _read(path: Path) -> list[list[str]] | None:
    try:
        text = path.read_bytes().decode()
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.split("\n")
    if lines[0] != HEADER or lines[-1] != "":
        return None
    items = [line.split("\t") for line in lines[1:-1]]
    if any(len(item) != 21 for item in items[-1:]) or any(len(item) != 21 for item in items[:1]):
        return None
    return items


def load(store: Log) -> list[list[str]]:
    """The index fields of every chain entry, catching the index up (or rebuilding it) first."""
    log, path = store.path, index_path(store.path)
    if not log.exists():
        return []
    items = _read(path)
    fd = os.open(log, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if items:
            last = items[-1]
            offset, length = int(last[OFFSET]), int(last[LENGTH])
            if offset + length + 1 > size or _short_hash(os.pread(fd, length, offset)) != last[HASH]:
                items = None
        covered = (int(items[-1][OFFSET]) + int(items[-1][LENGTH]) + 1) if items else 0
        if items is not None and covered == size:
            return items
        fcntl.flock(fd, fcntl.LOCK_SH)  # a consistent tail: no writer mid-append
        try:
            start = covered if items is not None else 0
            tail = os.pread(fd, os.fstat(fd).st_size - start, start)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    new = [summarize(e) for e in _entries_from(tail, start)]
    fresh = items is None
    with contextlib.suppress(OSError):
        text = "".join("\t".join(f) + "\n" for f in new).encode()
        if fresh:
            path.write_bytes(HEADER.encode() + b"\n" + text)
        elif new:
            with path.open("ab") as fh:
                fh.write(text)
    return (items or []) + new


def _entries_from(data: bytes, base: int) -> Iterator[Entry]:
    for item in scan_bytes(data).entries:
        yield Entry(item.line, base + item.offset, item.raw, item.statement)


def reader(store: Log) -> Callable[[Sequence[str]], dict[str, Any]]:
    return lambda fields: read_full(store, fields)


def read_full(store: Log, fields: Sequence[str]) -> dict[str, Any]:
    """The whole predicate of an indexed entry (for reports), read by offset and checked."""
    with store.path.open("rb") as fh:
        fh.seek(int(fields[OFFSET]))
        raw = fh.read(int(fields[LENGTH]))
    statement = parse_entry(raw) if _short_hash(raw) == fields[HASH] else None
    if statement is None:
        return {}
    predicate: dict[str, Any] = statement["predicate"]
    return predicate


def detail(fields: Sequence[str]) -> dict[str, Any]:
    text = fields[DETAIL]
    value: dict[str, Any] = json.loads(text) if text else {}
    return value
