"""The Markdown review report: what an auditor sampling one change needs on one page.

Who requested it (author), who approved and merged it, who applied it and as
which Kubernetes identity; what each object became, with its governance facts;
final statuses kept before Ray cleaned up; and every disappearance with its
cause. Segregation-of-duties gaps (no approver, approver = author, deployer =
author) are stated, not judged: the policy is the organisation's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gitops_ray.record.history import Row, Run


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _signature(sig: Mapping[str, Any]) -> str:
    if not sig.get("signed"):
        return "unsigned"
    if sig.get("verified") is True:
        who = f", signer {sig['signer']}" if sig.get("signer") else ""
        return f"verified ({sig.get('method', '?')}{who})"
    if sig.get("verified") is None:
        return f"signed, not checked ({sig.get('detail', 'no verifier')})"
    return f"signed, NOT verified: {sig.get('detail', '')}"


def _people(run: Run) -> list[tuple[str, str]]:
    full = run.full()
    src = full.get("source") or {}
    change = src.get("change") or {}
    author, committer = src.get("author") or {}, src.get("committer") or {}
    rows = [
        ("Requested by (author)", f"{author.get('name', '')} <{author.get('email', '')}>, {author.get('at', '')}"),
        ("Committer", f"{committer.get('name', '')} <{committer.get('email', '')}>"),
        ("Signature", _signature(src.get("signature") or {})),
    ]
    if change.get("pr"):
        rows.append(("Pull request", f"#{change['pr']}" + (f" ({change['prUrl']})" if change.get("prUrl") else "")
                     + f" — from {change.get('prFrom', '?')}"))
    if change.get("requestedBy"):
        rows.append(("PR opened by", str(change["requestedBy"])))
    approvers = change.get("approvers") or []
    rows.append(("Approvers", ", ".join(f"{a.get('id')} ({a.get('from')})" for a in approvers) or "none recorded"))
    if change.get("mergedBy"):
        rows.append(("Merged by", str(change["mergedBy"])))
    rows.append(("Reason", f"{change.get('reason', '')} ({change.get('reasonFrom', '')})"))
    if change.get("ticket"):
        rows.append(("Ticket", str(change["ticket"])))
    actor = full.get("actor") or {}
    ci = actor.get("ci") or {}
    applied = str(actor.get("id", ""))
    if ci.get("url"):
        applied += f" ({ci['url']})"
    if actor.get("kubeUser"):
        applied += f"; Kubernetes user {actor['kubeUser']}"
    rows.append(("Applied by", applied))
    target = full.get("target") or {}
    version = f"KubeRay {target['kuberayOperatorVersion']}" if target.get("kuberayOperatorVersion") else ""
    rows.append(("Target", ", ".join(p for p in (str(target.get("server", "")), str(target.get("context", "")),
                                                  version) if p)))
    return rows


def duties(run: Run) -> list[str]:
    """Segregation-of-duties observations (requester, approver, deployer), as facts."""
    full = run.full()
    source, actor = full.get("source") or {}, full.get("actor") or {}
    change = source.get("change") or {}
    author = source.get("author") or {}
    names = {str(author.get("name", "")).lower(), str(author.get("email", "")).lower()} - {""}
    approvers = [str(a.get("id", "")) for a in change.get("approvers") or ()]
    notes = []
    if not approvers:
        notes.append("no approval is recorded for this change")
    elif all(any(n in a.lower() for n in names) for a in approvers):
        notes.append("the only approver is the author")
    deployer = str((actor.get("ci") or {}).get("actor") or (actor.get("os") or {}).get("user", "")).lower()
    if deployer and any(deployer == n or deployer == n.split("@")[0] for n in names):
        notes.append("the author applied the change")
    if change.get("emergency"):
        notes.append("marked as an emergency change: needs review after the fact")
    return notes


Getter = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]

_FACT_LINES: tuple[tuple[str, Getter], ...] = (
    ("Ray version", lambda f, i: f.get("rayVersion")),
    ("Images", lambda f, i: ", ".join(f.get("images") or ())),
    ("GPUs at max replicas", lambda f, i: ", ".join(f"{k}: {v}" for k, v in (i.get("gpus") or {}).items())),
    ("TPUs at max replicas", lambda f, i: ", ".join(f"{k}: {v}" for k, v in (i.get("tpus") or {}).items())),
    ("Service accounts", lambda f, i: ", ".join(f.get("serviceAccounts") or ())),
    ("Secrets (names)", lambda f, i: ", ".join(f.get("secrets") or ())),
    ("ConfigMaps", lambda f, i: ", ".join(f.get("configMaps") or ())),
    ("Secret keys", lambda f, i: ", ".join(f.get("keys") or ()) if f.get("kind") == "Secret" else ""),
    ("Exposed", lambda f, i: "; ".join(i.get("exposed") or ())),
    ("Jobs API auth", lambda f, i: (f.get("exposure") or {}).get("authMode")),
    ("Submission mode", lambda f, i: (f.get("exposure") or {}).get("submissionMode")),
    ("Cleanup", lambda f, i: "; ".join(i.get("cleanup") or ())),
    ("Remote code", lambda f, i: ", ".join(i.get("remoteCode") or ())),
    ("Queueing", lambda f, i: ", ".join(f"{k}={v}" for k, v in (f.get("queueing") or {}).items())),
    ("Autoscaler", lambda f, i: "on" if (f.get("autoscaler") or {}).get("enabled") else ""),
    ("Network policy", lambda f, i: (f.get("networkPolicy") or {}).get("mode")),
    ("RBAC rules", lambda f, i: "; ".join(f.get("rules") or ())),
)


def _facts_block(resource: str, planned: Mapping[str, Any]) -> list[str]:
    facts, impact = planned.get("facts") or {}, planned.get("impact") or {}
    lines = [f"#### {resource}", ""]
    for label, get in _FACT_LINES:
        value = get(facts, impact)
        if value:
            lines.append(f"- **{label}:** {_md(value)}")
    return [*lines, ""] if len(lines) > 2 else []


def _run_section(run: Run, mine: Sequence[Row]) -> list[str]:
    lines = [f"## Run `{run.run_id}` — {run.environment}, {run.time}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {_md(v)} |" for k, v in _people(run)]
    notes = duties(run)
    if notes:
        lines += ["", "**Segregation of duties:** " + "; ".join(notes) + "."]
    lines += ["", "### What changed", "", "| Resource | Action | Outcome | HTTP | Changed paths | Audit IDs |",
              "|---|---|---|---|---|---|"]
    for row in mine:
        paths = ", ".join(row.detail.get("changedPaths") or ())
        lines.append(f"| {_md(row.resource)} | {row.action} | {_md(row.outcome)} | {row.http or ''} | "
                     f"{_md(paths[:200])} | {', '.join(row.audit_ids)} |")
    facts_lines: list[str] = []
    planned = run.full_actions()
    for row in mine:
        facts_lines += _facts_block(row.resource, planned.get(int(row.detail.get("n", -1)), {}))
    if facts_lines:
        lines += ["", "### Governance facts", "", *facts_lines]
    return lines


def render_markdown(selected: Sequence[Row], *, commit: str | None = None) -> str:
    if not selected:
        return "_No recorded actions match._\n"
    runs: dict[str, Run] = {}
    for row in selected:
        if row.run is not None:
            runs.setdefault(row.run.intent_id, row.run)
    applied = [r.commit for r in runs.values() if commit and r.commit.startswith(commit.lower())]
    title = f"commit `{(applied[0] if applied else commit or '')[:12]}`" if commit else "recorded actions"
    lines = [f"# Change review: {title}", ""]
    for run in runs.values():
        lines += _run_section(run, [r for r in selected if r.run is run])
    observed = [r for r in selected if r.kind != "outcome"]
    finals = [r for r in observed if r.kind == "final-status"]
    if finals:
        lines += ["", "## Final statuses", "", "| Resource | Status | Job | Times | Dashboard | Cluster |",
                  "|---|---|---|---|---|---|"]
        for row in finals:
            status = row.detail.get("status") or {}
            lines.append(f"| {_md(row.resource)} | {_md(row.outcome)} | {_md(status.get('jobId', ''))} | "
                         f"{status.get('startTime', '')} → {status.get('endTime', '')} | "
                         f"{_md(status.get('dashboardURL', ''))} | {_md(status.get('rayClusterName', ''))} |")
    gone = [r for r in observed if r.kind == "disappearance"]
    if gone:
        lines += ["", "## Disappearances", "", "| Resource | Cause | Authorized by | Commit | Recorded |",
                  "|---|---|---|---|---|"]
        for row in gone:
            cause = f"**{row.outcome}** ⚠" if row.unexplained else row.outcome
            lines.append(f"| {_md(row.resource)} | {cause} | {_md(row.message)} | {row.commit[:12]} | {row.time} |")
        unexplained = sum(r.unexplained for r in gone)
        if unexplained:
            lines += ["", f"⚠ {unexplained} object(s) disappeared without a recorded authorization."]
    drift = [r for r in observed if r.kind in ("drift", "health")]
    if drift:
        lines += ["", "## Drift and health", ""]
        lines += [f"- {r.time} {_md(r.resource)}: {r.action} {_md(r.outcome)} {_md(r.message)}".rstrip()
                  for r in drift]
    return "\n".join(lines).rstrip() + "\n"
