"""Reading the record back: one row per action (and per observation worth a reviewer's eye).

`rows_from_index` (fields from recordindex, the fast path) and `rows(entries)`
join each outcome to its intent (commit, author, actor, reason) in one pass;
`select` filters by commit, resource and time; `render_*` turn the same rows
into text and JSON, and review.py into a Markdown review report that answers an
auditor's sample (record-anchors.md §5): who requested, who approved, who
applied, what changed with which governance facts, and what disappeared since,
with the cause.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from gitops_ray.errors import UsageError
from gitops_ray.record.entries import Entry


@dataclass(kw_only=True, eq=False)
class Run:
    """What the intent of a run says about the change (shared by all its rows); `full()`
    reads the whole intent (source, actor, target, facts) when a report needs it."""

    environment: str
    run_id: str
    intent_id: str
    time: str
    commit: str
    author: str
    actor: str
    actions_json: str = field(repr=False, default="")
    loader: Callable[[], Mapping[str, Any]] = field(repr=False, default=dict)
    _full: Mapping[str, Any] | None = field(default=None, repr=False)
    _actions: dict[str, Mapping[str, Any]] | None = field(default=None, repr=False)

    @property
    def actions(self) -> dict[str, Mapping[str, Any]]:
        """Planned actions by number: reason and changed paths (decoded on first use)."""
        if self._actions is None:
            self._actions = json.loads(self.actions_json) if self.actions_json else {}
        return self._actions

    def full(self) -> Mapping[str, Any]:
        if self._full is None:
            self._full = self.loader()
        return self._full

    def full_actions(self) -> dict[int, Mapping[str, Any]]:
        return {int(a.get("n", -1)): a for a in self.full().get("actions") or ()}


class Row(NamedTuple):
    time: str
    environment: str
    run_id: str
    entry_id: str
    kind: str  # outcome | disappearance | final-status | drift | health
    resource: str
    action: str
    outcome: str
    commit: str
    author: str
    actor: str
    http: int | None
    duration_s: float | None
    audit_ids: tuple[str, ...]
    message: str
    owner: str
    n: int
    detail_json: str
    run: Run | None

    @property
    def unexplained(self) -> bool:
        return self.kind == "disappearance" and self.outcome == "unexplained"

    @property
    def detail(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.detail_json) if self.detail_json else {}
        if self.kind == "outcome":
            value["n"] = self.n
            planned = self.run.actions.get(str(self.n), {}) if self.run else {}
            value.update({k: planned[k] for k in ("reason", "changedPaths") if planned.get(k)})
        return value

    def to_json(self) -> dict[str, Any]:
        out = {"time": self.time, "environment": self.environment, "runId": self.run_id, "entryId": self.entry_id,
               "kind": self.kind, "resource": self.resource, "action": self.action, "outcome": self.outcome,
               "commit": self.commit, "author": self.author, "actor": self.actor, "http": self.http,
               "durationS": self.duration_s, "auditIDs": list(self.audit_ids), "message": self.message,
               "detail": self.detail}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}


Fields = Sequence[str]


def rows_from_index(items: Iterable[Fields], environment: str = "",
                    load: Callable[[Fields], Mapping[str, Any]] | None = None, *,
                    resource: str | None = None, since: datetime | None = None) -> list[Row]:
    """Rows from index fields (recordindex.summarize), outcomes joined to their intent.
    `load(fields)` reads an intent's whole predicate for reports. `resource` and `since`
    filter before rows are built (the same rules as `select`), which is most of the cost."""
    from gitops_ray.record import index as ix

    want = resource.strip("/").lower() if resource else None
    after = since.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if since else None
    row_at, id_at, run_at, time_at, intent_at = ix.ROW, ix.ID, ix.RUN, ix.TIME, ix.INTENT
    resource_at, owner_at, commit_at = ix.RESOURCE, ix.OWNER, ix.COMMIT
    runs: dict[str, Run] = {}
    authors: dict[str, str] = {}  # commit -> author, for observations about what a commit made
    out: list[Row] = []
    append = out.append
    for f in items:
        kind = f[row_at]
        if not kind:
            continue
        if kind == "intent":
            if f[commit_at]:
                authors[f[commit_at]] = ix.unescape(f[ix.ACTION])
            runs[f[id_at]] = Run(environment=ix.unescape(f[resource_at]) or environment, run_id=f[run_at],
                                 intent_id=f[id_at], time=f[time_at], commit=f[commit_at],
                                 author=ix.unescape(f[ix.ACTION]), actor=ix.unescape(f[ix.OUTCOME]),
                                 actions_json=f[ix.DETAIL], loader=_loader(f, load))
            continue
        if want is not None and f[resource_at].lower() != want and f[owner_at].lower() != want:
            continue
        if after is not None and f[time_at] < after:
            continue
        run = runs.get(f[intent_at]) if kind == "outcome" else None
        http, duration, audit, n = f[ix.HTTP], f[ix.DURATION], f[ix.AUDIT_IDS], f[ix.N]
        append(Row(
            f[time_at], run.environment if run else environment, f[run_at], f[id_at], kind, f[resource_at],
            f[ix.ACTION], f[ix.OUTCOME], run.commit if run else f[commit_at],
            run.author if run else authors.get(f[commit_at], ""),
            run.actor if run else "", int(http) if http else None, float(duration) if duration else None,
            tuple(audit.split(",")) if audit else (), ix.unescape(f[ix.MESSAGE]), f[owner_at],
            int(n) if n else -1, f[ix.DETAIL], run))
    return out


def _loader(fields: Fields, load: Callable[[Fields], Mapping[str, Any]] | None) -> Callable[[], Mapping[str, Any]]:
    if load is None:
        return dict
    return lambda: load(fields)


def rows(entries: Iterable[Entry], environment: str = "") -> list[Row]:
    """Rows straight from record entries (no index)."""
    from gitops_ray.record import index as ix

    full: dict[str, Mapping[str, Any]] = {}
    items = []
    for entry in entries:
        if entry.kind == "intent":
            full[entry.id] = entry.predicate
        items.append(ix.summarize(entry))
    return rows_from_index(items, environment, load=lambda f: full.get(f[ix.ID], {}))


# --------------------------------------------------------------------------- filters


_RELATIVE = re.compile(r"^(\d+)([smhdw])$")


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """ISO date or date-time (UTC unless it says), or a relative age like 7d / 12h."""
    match = _RELATIVE.match(text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(**{unit: int(match.group(1))})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{text!r}: expected a date (2026-01-31), a date-time or an age (7d, 12h)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _time(row: Row) -> datetime:
    try:
        return datetime.fromisoformat(row.time.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def matches_resource(row: Row, resource: str) -> bool:
    """KIND/NS/NAME (kind case-insensitive); also rows about objects it owned (its cluster's
    disappearance)."""
    want = resource.strip("/").lower()
    return row.resource.lower() == want or row.owner.lower() == want


def select(all_rows: Sequence[Row], *, commit: str | None = None, resource: str | None = None,
           since: datetime | None = None) -> list[Row]:
    out = list(all_rows)
    if commit:
        prefix = commit.lower()
        runs = {r.run_id for r in out if r.commit.lower().startswith(prefix) and r.kind == "outcome"}
        out = [r for r in out if r.commit.lower().startswith(prefix) or r.run_id in runs]
    if resource:
        out = [r for r in out if matches_resource(r, resource)]
    if since:
        out = [r for r in out if _time(r) >= since]
    return out


# --------------------------------------------------------------------------- rendering


def _short_time(text: str) -> str:
    return text.replace("T", " ")[:19]


_WIDTH = {"AUTHOR": 28, "ACTOR": 28, "RESOURCE": 56, "ALLOWED BY": 28, "DETAIL": 110}


def _cell(text: str, limit: int | None) -> str:
    """A cell cut to its column's width, the cut shown with an ellipsis (never silently)."""
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"


def allowed_by(row: Row) -> str:
    """Who allowed the action: the approvers or the merger of the change the run applied, as
    its intent recorded them; approvals that only a commit trailer asserts are marked claimed."""
    if row.kind != "outcome" or row.run is None:
        return ""
    change = (row.run.full().get("source") or {}).get("change") or {}
    approvers = [str(a["id"]) + (" (claimed)" if "trailer" in str(a.get("from", "")) else "")
                 for a in change.get("approvers") or () if isinstance(a, dict) and a.get("id")]
    if approvers:
        return ", ".join(approvers)
    merger = change.get("mergedBy") or change.get("merger")
    return f"merged by {merger}" if merger else "none recorded"


def render_text(selected: Sequence[Row]) -> str:
    if not selected:
        return "no recorded actions match"
    header = ("TIME", "ENV", "COMMIT", "AUTHOR", "ACTOR", "RESOURCE", "ACTION", "OUTCOME", "ALLOWED BY")
    columns = [
        [_short_time(r.time) for r in selected], [r.environment for r in selected], [r.commit[:12] for r in selected],
        [r.author for r in selected], [r.actor for r in selected], [r.resource for r in selected],
        [r.action for r in selected], [f"! {r.outcome}" if r.unexplained else r.outcome for r in selected],
        [allowed_by(r) for r in selected],
    ]
    columns = [[_cell(c, _WIDTH.get(h)) for c in col] for h, col in zip(header, columns, strict=True)]
    details = [_cell((f"{r.http} {r.message}" if r.http else r.message).strip(), _WIDTH["DETAIL"]) for r in selected]
    widths = [max(len(h), *map(len, col)) for h, col in zip(header, columns, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    lines = [fmt.format(*header, "DETAIL").rstrip()]
    lines += [fmt.format(*cells).rstrip() for cells in zip(*columns, details, strict=True)]
    unexplained = sum(r.unexplained for r in selected)
    if unexplained:
        lines.append(f"\n! {unexplained} unexplained disappearance(s): deleted outside gitops-ray and Ray's rules")
    return "\n".join(lines)


def render_json(selected: Sequence[Row]) -> dict[str, Any]:
    return {"rows": [r.to_json() for r in selected],
            "unexplained": [r.to_json() for r in selected if r.unexplained]}

