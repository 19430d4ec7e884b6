"""Plan and apply results as text (terminal), JSON (machines) and Markdown (PR comments).

All three render the same `Plan`/`ApplyResult` values. The JSON shape is
stable and documented in docs/plan.md; add fields, never rename them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from gitops_ray.changes import Action, ApplyResult, Change, ChangeResult, FieldChange, Impact, Outcome, Plan

SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.REPLACE: "±", Action.DELETE: "-",
          Action.NOOP: "=", Action.BLOCKED: "✗"}
COLOUR = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.REPLACE: "magenta", Action.DELETE: "red",
          Action.NOOP: "bright_black", Action.BLOCKED: "red"}
OUTCOME_COLOUR = {Outcome.APPLIED: "green", Outcome.FAILED: "red", Outcome.SKIPPED: "yellow",
                  Outcome.UNCHANGED: "bright_black", Outcome.REFUSED: "red"}

Style = Callable[..., str]


def _plain(text: str, **_: Any) -> str:
    return text


# --------------------------------------------------------------------------- JSON


def change_json(change: Change, result: ChangeResult | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "apiVersion": change.api_version,
        "kind": change.ref.kind,
        "namespace": change.ref.namespace,
        "name": change.ref.name,
        "action": change.action.value,
        "reason": change.reason,
        "diff": [d.to_json() for d in change.diff],
        "impact": change.impact.to_json(),
        "warnings": list(change.warnings),
        "wave": change.wave,
        "source": change.source,
        "result": None,
    }
    if result is not None:
        data["result"] = {
            "outcome": result.outcome.value,
            "message": result.message,
            "httpStatus": result.http_status,
            "error": result.error,
            "auditIds": list(result.audit_ids),
            "durationSeconds": round(result.duration_s, 3),
            "forced": result.forced,
        }
    return data


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "environment": plan.environment,
        "commit": plan.commit,
        "snapshot": plan.snapshot,
        "target": plan.target,
        "kuberayVersion": plan.kuberay_version,
        "inSync": plan.in_sync,
        "changes": [change_json(c) for c in plan.changes],
        "summary": plan.summary(),
    }


def apply_json(result: ApplyResult) -> dict[str, Any]:
    data = plan_json(result.plan)
    data["changes"] = [change_json(r.change, r) for r in result.results]
    data["runId"] = result.run_id
    data["dryRun"] = result.dry_run
    data["ok"] = result.ok
    data["outcomes"] = {o.value: len(result.by_outcome(o)) for o in Outcome}
    return data


def dumps(data: dict[str, Any]) -> str:
    """Indented for a person at a terminal, compact for a pipe (the same JSON either way)."""
    if sys.stdout.isatty():
        return json.dumps(data, indent=2, default=str)
    return json.dumps(data, separators=(",", ":"), default=str)


# --------------------------------------------------------------------------- text


def _value(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 100 else text[:97] + "..."


def _diff_lines(diff: tuple[FieldChange, ...], style: Style) -> list[str]:
    lines = []
    for d in diff:
        if d.path == "" and d.op == "add":
            continue  # a whole new object: the impact says what matters
        if d.op == "add":
            lines.append(style(f"      + {d.path}: {_value(d.after)}", fg="green"))
        elif d.op == "remove":
            lines.append(style(f"      - {d.path or '(object)'}" + ("" if d.path == "" else f": {_value(d.before)}"),
                               fg="red"))
        else:
            lines.append(style(f"      ~ {d.path}: {_value(d.before)} → {_value(d.after)}", fg="yellow"))
    return lines


def impact_lines(impact: Impact) -> list[str]:
    out = []
    if impact.gpus:
        out.append("GPUs: " + ", ".join(f"{k} ×{v}" for k, v in impact.gpus.items()))
    if impact.tpus:
        out.append("TPUs: " + ", ".join(f"{k} ×{v}" for k, v in impact.tpus.items()))
    if impact.images:
        out.append("images: " + ", ".join(impact.images))
    if impact.secrets:
        out.append("secrets: " + ", ".join(impact.secrets))
    if impact.config_maps:
        out.append("configmaps: " + ", ".join(impact.config_maps))
    if impact.service_accounts:
        out.append("service accounts: " + ", ".join(impact.service_accounts))
    out += [f"exposes {e}" for e in impact.exposed]
    out += [f"cleanup: {c}" for c in impact.cleanup]
    out += [f"remote code: {r}" for r in impact.remote_code]
    return out


def plan_text(plan: Plan, *, style: Style = _plain, show_noop: bool = False) -> str:
    lines = [style(f"Plan for environment {plan.environment}", bold=True)
             + f" — {plan.snapshot or plan.commit}" + (f" → {plan.target}" if plan.target else "")]
    width = max((len(str(c.ref)) for c in plan.changes), default=20)
    for change in plan.changes:
        if change.action is Action.NOOP and not show_noop:
            continue
        lines += _change_lines(change, width, style)
    lines.append(summary_line(plan))
    return "\n".join(lines)


def _change_lines(change: Change, width: int, style: Style, result: ChangeResult | None = None) -> list[str]:
    head = style(f"  {SYMBOL[change.action]} {change.action.value:<8}", fg=COLOUR[change.action])
    line = f"{head} {change.ref!s:<{width}}  {change.reason}"
    if result is not None:
        line += "  " + style(f"[{result.outcome.value}] {result.message}", fg=OUTCOME_COLOUR[result.outcome])
    out = [line]
    if change.action is not Action.NOOP:
        out += _diff_lines(change.diff, style)
        out += [style(f"      ! {w}", fg="yellow") for w in change.warnings]
        if change.action in (Action.CREATE, Action.REPLACE, Action.UPDATE):
            out += [style(f"      · {i}", fg="cyan") for i in impact_lines(change.impact)]
    return out


def summary_line(plan: Plan) -> str:
    counts = plan.summary()
    parts = [f"{counts[a.value]} to {a.value}" for a in (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)
             if counts[a.value]]
    if counts["blocked"]:
        parts.append(f"{counts['blocked']} blocked")
    parts.append(f"{counts['noop']} unchanged")
    return ("In sync: " if plan.in_sync else "Changes: ") + ", ".join(parts)


def apply_text(result: ApplyResult, *, style: Style = _plain) -> str:
    plan = result.plan
    title = "Dry run" if result.dry_run else "Applied"
    lines = [style(f"{title}: environment {plan.environment}", bold=True)
             + f" — {plan.snapshot or plan.commit} (run {result.run_id})"]
    width = max((len(str(r.change.ref)) for r in result.results), default=20)
    for res in result.results:
        if res.outcome is Outcome.UNCHANGED:
            continue
        lines += _change_lines(res.change, width, style, res)
    counts = {o: len(result.by_outcome(o)) for o in Outcome}
    verdict = style("OK", fg="green", bold=True) if result.ok else style("FAILED", fg="red", bold=True)
    lines.append(f"{verdict}: " + ", ".join(f"{n} {o.value}" for o, n in counts.items() if n))
    return "\n".join(lines)


# --------------------------------------------------------------------------- Markdown


def apply_markdown(result: ApplyResult) -> str:
    """The merge comment: what the apply did, change by change, with each outcome."""
    counts = {o: len(result.by_outcome(o)) for o in Outcome}
    verdict = "✅ applied" if result.ok else "❌ failed"
    title = "dry run" if result.dry_run else "apply"
    head = (f"**{verdict}** (run `{result.run_id}`): "
            + ", ".join(f"{n} {o.value}" for o, n in counts.items() if n))
    return plan_markdown(result.plan, result, title=title, preface=head)


def reconcile_markdown(plan: Plan, applied: ApplyResult | None) -> str:
    """The drift report, fit for an issue: what differs from Git and whether it was healed."""
    if plan.in_sync:
        preface = "✅ No drift: the cluster matches Git."
    elif applied is None:
        preface = "⚠️ Drift found and left in place (`sync.selfHeal: false`)."
    else:
        preface = "🩹 Drift found and healed." if applied.ok else "❌ Drift found; healing failed."
    return plan_markdown(plan, applied, title="reconcile", preface=preface)


def plan_markdown(plan: Plan, result: ApplyResult | None = None, *, title: str = "plan", preface: str = "") -> str:
    """A pull-request comment: summary table first, then each change with its impact."""
    counts = plan.summary()
    lines = [f"### gitops-ray {title}: `{plan.environment}`", "",
             f"Commit `{plan.commit[:12] or 'working tree'}` · KubeRay schemas {plan.kuberay_version or '-'}"
             + (f" · target {plan.target}" if plan.target else ""), "",
             "| create | update | replace | delete | blocked | unchanged |", "|---|---|---|---|---|---|",
             f"| {counts['create']} | {counts['update']} | {counts['replace']} | {counts['delete']} | "
             f"{counts['blocked']} | {counts['noop']} |", ""]
    if preface:
        lines += [preface, ""]
    if plan.in_sync:
        lines.append("✅ The cluster matches this commit.")
        return "\n".join(lines) + "\n"
    results = {id(r.change): r for r in result.results} if result else {}
    for change in plan.pending():
        res = results.get(id(change))
        lines.append(f"#### {SYMBOL[change.action]} `{change.action.value}` {change.ref.kind} "
                     f"`{change.ref.namespace + '/' if change.ref.namespace else ''}{change.ref.name}`")
        lines.append(f"{change.reason}" + (f" — source `{change.source}`" if change.source else ""))
        if res is not None:
            lines.append(f"Result: **{res.outcome.value}** {res.message}")
        for warning in change.warnings:
            lines.append(f"> ⚠️ {warning}")
        impact = impact_lines(change.impact)
        if impact and change.action is not Action.DELETE:
            lines.append("")
            lines += [f"- **{i.split(':', 1)[0]}**:{i.split(':', 1)[1]}" if ":" in i else f"- **{i}**"
                      for i in impact]
        shown = [d for d in change.diff if d.path]
        if shown:
            lines += ["", "<details><summary>diff</summary>", "", "```diff"]
            for d in shown:
                if d.op == "add":
                    lines.append(f"+ {d.path}: {_value(d.after)}")
                elif d.op == "remove":
                    lines.append(f"- {d.path}: {_value(d.before)}")
                else:
                    lines.append(f"- {d.path}: {_value(d.before)}")
                    lines.append(f"+ {d.path}: {_value(d.after)}")
            lines += ["```", "", "</details>"]
        lines.append("")
    return "\n".join(lines)
