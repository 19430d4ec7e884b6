"""Reading the record back: one row per action (and per observation worth a reviewer's eye).

`rows(entries)` joins each outcome to its intent (commit, author, actor, reason,
facts) in one pass; `select` filters by commit, resource and time; `render_*`
turn the same rows into text, JSON and a Markdown review report. The report for
one commit answers an auditor's sample (record-anchors.md §5): who requested,
who approved, who applied, what changed with which governance facts, and what
disappeared since, with the cause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gitops_ray.errors import GitopsRayError
from gitops_ray.record import Entry

ROW_OBSERVATIONS = frozenset({"disappearance", "final-status", "drift", "health"})


@dataclass(frozen=True, kw_only=True)
class Run:
    """What the intent of a run says about the change (shared by all its rows)."""

    environment: str
    run_id: str
    intent_id: str
    time: str
    commit: str
    source: Mapping[str, Any]
    actor: Mapping[str, Any]
    target: Mapping[str, Any]
    actions: Mapping[int, Mapping[str, Any]]


@dataclass(frozen=True, kw_only=True)
class Row:
    time: str
    environment: str
    run_id: str
    entry_id: str
    kind: str  # outcome | disappearance | final-status | drift | health
    resource: str
    action: str
    outcome: str
    commit: str = ""
    author: str = ""
    actor: str = ""
    http: int | None = None
    duration_s: float | None = None
    audit_ids: tuple[str, ...] = ()
    message: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    run: Run | None = field(default=None, repr=False, compare=False)

    @property
    def unexplained(self) -> bool:
        return self.kind == "disappearance" and self.outcome == "unexplained"

    def to_json(self) -> dict[str, Any]:
        out = {"time": self.time, "environment": self.environment, "runId": self.run_id, "entryId": self.entry_id,
               "kind": self.kind, "resource": self.resource, "action": self.action, "outcome": self.outcome,
               "commit": self.commit, "author": self.author, "actor": self.actor, "http": self.http,
               "durationS": self.duration_s, "auditIDs": list(self.audit_ids), "message": self.message,
               "detail": dict(self.detail)}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}


def _author(source: Mapping[str, Any]) -> str:
    author = source.get("author") or {}
    return str(author.get("email") or author.get("name") or "")


def rows(entries: Iterable[Entry], environment: str = "") -> list[Row]:
    runs: dict[str, Run] = {}
    out: list[Row] = []
    for entry in entries:
        kind, pred = entry.kind, entry.predicate
        if kind == "intent":
            source = pred.get("source") or {}
            runs[entry.id] = Run(
                environment=str(pred.get("environment") or environment), run_id=entry.run_id, intent_id=entry.id,
                time=entry.time, commit=str((source.get("commit") or {}).get("gitCommit", "")), source=source,
                actor=pred.get("actor") or {}, target=pred.get("target") or {},
                actions={int(a.get("n", -1)): a for a in pred.get("actions") or ()})
        elif kind == "outcome":
            run = runs.get(str(entry.meta.get("intentId", "")))
            action, result = pred.get("action") or {}, pred.get("result") or {}
            planned = run.actions.get(int(action.get("n", -1)), {}) if run else {}
            outcome = str(result.get("outcome", ""))
            if entry.meta.get("recovery"):
                outcome = f"recovered: {result.get('state', '')}"
            out.append(Row(
                time=entry.time, environment=run.environment if run else environment, run_id=entry.run_id,
                entry_id=entry.id, kind="outcome", resource=str(action.get("ref", "")), action=str(action.get("op")),
                outcome=outcome, commit=run.commit if run else "", author=_author(run.source) if run else "",
                actor=str(run.actor.get("id", "")) if run else "", http=result.get("http"),
                duration_s=result.get("durationS"), audit_ids=tuple(result.get("auditIDs") or ()),
                message=str(result.get("message") or result.get("error") or ""),
                detail={"n": action.get("n"), "reason": planned.get("reason"),
                        "changedPaths": planned.get("changedPaths"),
                        "uidBefore": result.get("uidBefore"), "uidAfter": result.get("uidAfter"),
                        "strategy": action.get("strategy")},
                run=run))
        elif kind == "observation":
            obs = pred.get("observation") or {}
            if obs.get("type") in ROW_OBSERVATIONS:
                out.append(_observation_row(entry, obs, environment))
    return out


def _observation_row(entry: Entry, obs: Mapping[str, Any], environment: str) -> Row:
    kind = str(obs.get("type"))
    base: dict[str, Any] = {"time": entry.time, "environment": environment, "run_id": entry.run_id,
                            "entry_id": entry.id, "kind": kind, "resource": str(obs.get("ref", ""))}
    if kind == "disappearance":
        why = obs.get("authorizedBy") or {}
        text = ", ".join(f"{k} {v}" for k, v in why.items() if k in ("runId", "rule", "owner", "via"))
        return Row(**base, action="vanished", outcome=str(obs.get("cause")), commit=str(why.get("commit", "")),
                   message=text, detail={"uid": obs.get("uid"), "authorizedBy": why})
    if kind == "final-status":
        status = obs.get("status") or {}
        state = "/".join(str(s) for s in (status.get("jobDeploymentStatus") or status.get("state"),
                                          status.get("jobStatus")) if s)
        return Row(**base, action="final-status", outcome=state, commit=str(obs.get("commit", "")),
                   message=str(status.get("message") or ""),
                   detail={"uid": obs.get("uid"), "status": status, "when": obs.get("when"), "facts": obs.get("facts"),
                           "specDigest": obs.get("specDigest")})
    if kind == "drift":
        return Row(**base, action="drift", outcome=f"would {obs.get('would')}", message=str(obs.get("reason", "")),
                   detail={"changedPaths": obs.get("changedPaths")})
    return Row(**base, action="health", outcome=str(obs.get("outcome", "")), message=str(obs.get("message", "")))


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
        raise GitopsRayError(f"--since {text!r}: expected a date (2026-01-31), a date-time or an age (7d, 12h)",
                             exit_code=2) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _time(row: Row) -> datetime:
    try:
        return datetime.fromisoformat(row.time.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def matches_resource(row: Row, resource: str) -> bool:
    """KIND/NS/NAME (kind case-insensitive); also rows about objects it owned (its cluster's
    disappearance or final status)."""
    want = resource.strip("/").lower()
    if row.resource.lower() == want:
        return True
    owner = str(((row.detail.get("authorizedBy") or {}) if isinstance(row.detail, Mapping) else {}).get("owner", ""))
    return owner.lower() == want


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


def render_text(selected: Sequence[Row]) -> str:
    if not selected:
        return "no recorded actions match"
    header = ("TIME", "ENV", "COMMIT", "ACTOR", "RESOURCE", "ACTION", "OUTCOME", "DETAIL")
    table = [header]
    for row in selected:
        detail = row.message
        if row.http:
            detail = f"{row.http} {detail}".strip()
        outcome = f"! {row.outcome}" if row.unexplained else row.outcome
        table.append((_short_time(row.time), row.environment, row.commit[:12], row.actor, row.resource, row.action,
                      outcome, detail[:100]))
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in table]
    unexplained = sum(r.unexplained for r in selected)
    if unexplained:
        lines.append(f"\n! {unexplained} unexplained disappearance(s): deleted outside gitops-ray and Ray's rules")
    return "\n".join(line.rstrip() for line in lines)


def render_json(selected: Sequence[Row]) -> dict[str, Any]:
    return {"rows": [r.to_json() for r in selected],
            "unexplained": [r.to_json() for r in selected if r.unexplained]}

