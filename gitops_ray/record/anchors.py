"""Anchors and verification: what makes the record's tail and history trustworthy.

A hash chain alone detects edits, deletions and reordering only *given a
trusted head*, and never detects truncation of the tail or a full rewrite
(record-anchors.md §3). So at the end of every run the head is published where
the writer of the log cannot silently take it back:

* a ConfigMap `gitops-ray-record-<env>` in the target cluster (its writes land
  in the cluster's own audit log, which another party operates), and
* a git note under `refs/notes/gitops-ray` on the applied commit.

The published text is a C2SP-checkpoint-like block, one per environment::

    gitops-ray/<env>
    <size>            number of entries, the checkpoint entry included
    <head>            SHA-256 hex of the line of entry number <size>

`verify` checks the chain, then every anchor it can reach against it, then that
every anchor the log's checkpoints promised actually exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gitops_ray.errors import GitopsRayError
from gitops_ray.record.entries import GENESIS, PREDICATE_TYPE, STATEMENT_TYPE, Entry, EntryKind, Scan, Segment

ORIGIN_PREFIX = "gitops-ray/"
NOTES_REF = "refs/notes/gitops-ray"
CONFIGMAP_KEY = "checkpoint"

_HEX64 = re.compile(r"[0-9a-f]{64}")


def configmap_name(environment: str) -> str:
    return f"gitops-ray-record-{environment}"


# --------------------------------------------------------------------------- the checkpoint text


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    head: str

    @classmethod
    def of(cls, environment: str, size: int, head: str) -> Checkpoint:
        return cls(ORIGIN_PREFIX + environment, size, head)

    @property
    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{self.head}\n"


def parse_checkpoints(text: str) -> list[Checkpoint]:
    """Every well-formed block in `text` (a note may hold several environments'; blocks
    are separated by blank lines). Malformed blocks are skipped, not trusted."""
    found: list[Checkpoint] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [ln.strip() for ln in block.strip().splitlines()]
        if (len(lines) >= 3 and lines[0].startswith(ORIGIN_PREFIX) and lines[1].isdigit()
                and _HEX64.fullmatch(lines[2])):
            found.append(Checkpoint(lines[0], int(lines[1]), lines[2]))
    return found


def merge_note(existing: str | None, checkpoint: Checkpoint) -> str:
    """The note text with this environment's block replaced (others kept, sorted by origin)."""
    blocks = {c.origin: c for c in parse_checkpoints(existing or "")}
    blocks[checkpoint.origin] = checkpoint
    return "\n".join(blocks[k].text for k in sorted(blocks))


# --------------------------------------------------------------------------- where anchors live


class ConfigMapClient(Protocol):
    """The two calls the record needs from the cluster; cluster.Cluster provides them. The
    anchor's write carries an Audit-ID too (`<checkpoint entry id>-1`), so the cluster's
    audit log joins every request gitops-ray makes to an entry of the record."""

    def read_configmap(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def apply_configmap(self, body: dict[str, Any], *, audit_id: str | None = None) -> None: ...


class NoteStore(Protocol):
    """Git notes under NOTES_REF. `noted_commits` is None when the notes ref does not
    exist here at all (notes are not fetched by default), so absence is not evidence."""

    def read_note(self, sha: str) -> str | None: ...

    def add_note(self, sha: str, text: str) -> None: ...

    def noted_commits(self) -> list[str] | None: ...

    def has_commit(self, sha: str) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class ConfigMapAnchor:
    client: ConfigMapClient
    namespace: str
    environment: str

    @property
    def name(self) -> str:
        return configmap_name(self.environment)

    @property
    def where(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name}"

    def body(self, checkpoint: Checkpoint, updated: str) -> dict[str, Any]:
        # Deliberately without the environment ownership label: prune must never touch it.
        return {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": self.name, "namespace": self.namespace,
                         "labels": {"app.kubernetes.io/part-of": "gitops-ray",
                                    "gitops-ray.io/record": self.environment},
                         "annotations": {"gitops-ray.io/updated": updated}},
            "data": {CONFIGMAP_KEY: checkpoint.text},
        }

    def publish(self, checkpoint: Checkpoint, updated: str, audit_id: str | None = None) -> None:
        self.client.apply_configmap(self.body(checkpoint, updated), audit_id=audit_id)

    def read(self) -> Checkpoint | None:
        found = self.client.read_configmap(self.namespace, self.name)
        if found is None:
            return None
        mine = [c for c in parse_checkpoints(str((found.get("data") or {}).get(CONFIGMAP_KEY, "")))
                if c.origin == ORIGIN_PREFIX + self.environment]
        return mine[0] if mine else Checkpoint(ORIGIN_PREFIX + self.environment, -1, "")

    def describe(self) -> dict[str, Any]:
        return {"type": "configmap", "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, kw_only=True)
class GitNoteAnchor:
    notes: NoteStore
    commit: str
    environment: str

    @property
    def where(self) -> str:
        return f"git note on {self.commit[:12]}"

    def publish(self, checkpoint: Checkpoint, updated: str, audit_id: str | None = None) -> None:
        self.notes.add_note(self.commit, merge_note(self.notes.read_note(self.commit), checkpoint))

    def describe(self) -> dict[str, Any]:
        return {"type": "git-note", "ref": NOTES_REF, "commit": self.commit}


Anchor = ConfigMapAnchor | GitNoteAnchor


def publish(anchors: Sequence[Anchor], checkpoint: Checkpoint, updated: str,
            audit_id: str | None = None) -> list[tuple[Anchor, str]]:
    """Publish to every anchor; failures are returned (the caller records them), never raised:
    a run that applied its changes must not fail because an anchor was unreachable.
    `audit_id` goes with a cluster write (the checkpoint entry's id, record.audit_id)."""
    failed: list[tuple[Anchor, str]] = []
    for anchor in anchors:
        try:
            anchor.publish(checkpoint, updated, audit_id)
        except (GitopsRayError, OSError) as err:
            failed.append((anchor, getattr(err, "message", None) or str(err)))
    return failed


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    line: int | None = None
    entry_id: str | None = None
    anchor: str | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.entry_id:
            where.append(f"entry {self.entry_id}")
        if self.anchor:
            where.append(self.anchor)
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass(kw_only=True)
class VerifyResult:
    environment: str
    entries: int = 0
    head: str = GENESIS
    problems: list[Problem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    anchors_checked: list[str] = field(default_factory=list)
    torn_tail: list[Segment] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment, "ok": self.ok, "entries": self.entries, "head": self.head,
            "problems": [{"message": p.message, "line": p.line, "entryId": p.entry_id, "anchor": p.anchor}
                         for p in self.problems],
            "notices": list(self.notices), "anchorsChecked": list(self.anchors_checked),
            "tornTail": [{"line": s.line, **s.describe()} for s in self.torn_tail],
        }


def verify_chain(scan: Scan, environment: str) -> VerifyResult:
    """Edits, deletions, insertions and reordering, as far as the file itself can show."""
    result = VerifyResult(environment=environment)
    seq_lines = [(e.seq, e.line) for e in scan.entries]

    def later_seqs(line: int) -> set[int]:
        return {seq for seq, at in seq_lines if at > line}

    expected, prev_hash, prev_entry = 1, GENESIS, None
    pending: list[Segment] = []
    for item in scan.items:
        if isinstance(item, Segment):
            pending.append(item)
            continue
        entry, meta = item, item.meta
        declared = meta.get("torn") or []
        if [s.describe() for s in pending] != declared:
            first = pending[0] if pending else None
            result.problems.append(Problem(
                "bytes that are not a valid entry, and that no later entry declares as torn by a crash "
                "(edited, inserted or damaged)" if first else "declares torn bytes that are not there",
                line=first.line if first else entry.line, entry_id=None if first else entry.id))
        pending = []
        if entry.statement.get("_type") != STATEMENT_TYPE or entry.statement.get("predicateType") != PREDICATE_TYPE:
            result.problems.append(Problem("not a gitops-ray record statement", line=entry.line, entry_id=entry.id))
        if entry.seq != expected:
            if entry.seq > expected and expected not in later_seqs(entry.line):
                message = (f"entry {expected}" + (f"..{entry.seq - 1}" if entry.seq - 1 > expected else "")
                           + f" missing before this entry (seq {entry.seq})")
            else:
                message = f"out of order: seq {entry.seq} where {expected} was expected (reordered or duplicated)"
            result.problems.append(Problem(message, line=entry.line, entry_id=entry.id))
        elif meta.get("prev") != prev_hash:
            if prev_entry is None:
                result.problems.append(Problem("the first entry does not start the chain", line=entry.line,
                                               entry_id=entry.id))
            else:
                result.problems.append(Problem(
                    f"does not match the hash that line {entry.line} recorded for it (this entry, or the "
                    f"next one's prev, was changed)", line=prev_entry.line, entry_id=prev_entry.id))
        expected, prev_hash, prev_entry = entry.seq + 1, entry.hash, entry
    result.entries = expected - 1
    result.head = prev_hash
    result.torn_tail = pending
    if pending:
        result.notices.append(f"torn tail: {sum(len(s.raw) for s in pending)} byte(s) from line {pending[0].line} "
                              "are not a whole entry (a write interrupted by a crash); kept, outside the chain")
    return result


def check_anchor(result: VerifyResult, entries: Sequence[Entry], checkpoint: Checkpoint, where: str) -> None:
    result.anchors_checked.append(f"{where}: size {checkpoint.size}")
    if checkpoint.size < 0:
        result.problems.append(Problem("holds no checkpoint for this environment", anchor=where))
    elif checkpoint.size > len(entries):
        result.problems.append(Problem(
            f"anchors {checkpoint.size} entries but the log has {len(entries)}: the tail was truncated "
            f"(entries {len(entries) + 1}..{checkpoint.size} missing)", anchor=where))
    elif checkpoint.size > 0:
        entry = entries[checkpoint.size - 1]
        if entry.seq != checkpoint.size or entry.hash != checkpoint.head:
            result.problems.append(Problem(
                f"differs from the anchored head in {where} (entry {checkpoint.size} was changed or the log "
                "rewritten)", line=entry.line, entry_id=entry.id))


def promised_anchors(entries: Sequence[Entry]) -> tuple[dict[str, int], dict[str, int]]:
    """From the log's checkpoints: the largest size each ConfigMap and each commit's note
    must hold, minus publications the log itself records as failed."""
    configmaps: dict[str, int] = {}
    notes: dict[str, int] = {}
    failed: set[tuple[str, int]] = set()
    for entry in entries:
        observation = entry.predicate.get("observation") or {}
        if entry.kind == EntryKind.OBSERVATION and observation.get("type") == "anchor-failed":
            failed.add((str(observation.get("where")), int(observation.get("checkpointSeq", 0))))
    for entry in entries:
        if entry.kind != EntryKind.CHECKPOINT:
            continue
        for anchor in entry.predicate.get("anchors") or ():
            if anchor.get("type") == "configmap":
                key = f"{anchor.get('namespace')}/{anchor.get('name')}"
                if (f"ConfigMap {key}", entry.seq) not in failed:
                    configmaps[key] = max(configmaps.get(key, 0), entry.seq)
            elif anchor.get("type") == "git-note":
                commit = str(anchor.get("commit"))
                if (f"git note on {commit[:12]}", entry.seq) not in failed:
                    notes[commit] = max(notes.get(commit, 0), entry.seq)
    return configmaps, notes


def verify(
    scan: Scan,
    environment: str,
    *,
    configmap: ConfigMapAnchor | None = None,
    notes: NoteStore | None = None,
    notice: Callable[[str], None] | None = None,
) -> VerifyResult:
    """The chain, then each reachable anchor; `None` anchors are reported as not checked."""
    result = verify_chain(scan, environment)
    entries = scan.entries
    origin = ORIGIN_PREFIX + environment
    promised_cm, promised_notes = promised_anchors(entries)
    if configmap is None:
        result.notices.append("cluster anchor not checked: no cluster reachable")
    else:
        _verify_configmap(result, entries, configmap, promised_cm)
    if notes is None:
        result.notices.append("git-note anchors not checked: no repository")
    else:
        _verify_notes(result, entries, notes, origin, promised_notes)
    if notice is not None:
        for text in result.notices:
            notice(text)
    return result


def _verify_configmap(result: VerifyResult, entries: Sequence[Entry], anchor: ConfigMapAnchor,
                      promised: dict[str, int]) -> None:
    try:
        found = anchor.read()
    except GitopsRayError as err:
        result.notices.append(f"cluster anchor not checked: {anchor.where}: {err.message}")
        return
    want = promised.get(f"{anchor.namespace}/{anchor.name}", 0)
    if found is None:
        if want:
            result.problems.append(Problem(f"missing, but the checkpoint at entry {want} was published there "
                                           "(deleted?)", anchor=anchor.where))
        elif entries:
            result.notices.append(f"{anchor.where} not found (no checkpoint was published there)")
        return
    check_anchor(result, entries, found, anchor.where)
    if 0 <= found.size < want:
        result.problems.append(Problem(f"holds size {found.size} but the checkpoint at entry {want} was published "
                                       "there later (rolled back?)", anchor=anchor.where))


def _verify_notes(result: VerifyResult, entries: Sequence[Entry], notes: NoteStore, origin: str,
                  promised: dict[str, int]) -> None:
    commits = notes.noted_commits()
    if commits is None:
        if promised:
            result.notices.append(f"git-note anchors not checked: {NOTES_REF} not present in this repository "
                                  f"(fetch it with: git fetch origin {NOTES_REF}:{NOTES_REF})")
        return
    seen: set[str] = set()
    for commit in commits:
        text = notes.read_note(commit) or ""
        for checkpoint in parse_checkpoints(text):
            if checkpoint.origin == origin:
                seen.add(commit)
                check_anchor(result, entries, checkpoint, f"git note on {commit[:12]}")
                want = promised.get(commit, 0)
                if checkpoint.size < want:
                    result.problems.append(Problem(
                        f"holds size {checkpoint.size} but the checkpoint at entry {want} was published there",
                        anchor=f"git note on {commit[:12]}"))
    for commit, want in sorted(promised.items(), key=lambda kv: kv[1]):
        if commit in seen:
            continue
        if notes.has_commit(commit):
            result.problems.append(Problem(f"missing, but the checkpoint at entry {want} was published there",
                                           anchor=f"git note on {commit[:12]}"))
        else:
            result.notices.append(f"git note on {commit[:12]} not checked: commit not in this repository")
