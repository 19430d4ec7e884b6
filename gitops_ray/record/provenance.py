"""Who and what: the source, actor and target parts of a record entry.

Everything here is a plain function over values (a `source.Commit`, a mapping of
environment variables) so it can be tested with no CI and no cluster. Identity
claims are recorded as claims with their origin (`"from": "GITHUB_ACTOR"`),
because CI variables, commit trailers and User-Agents can be set by whoever
runs the process; the signature check and the anchors are what an auditor can
actually verify.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gitops_ray import __version__
from gitops_ray.source import Commit

_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.+?)\s*$")
_MERGE_PR = re.compile(r"^Merge pull request #(\d+) from (\S+)")
_SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")
_GITLAB_MR = re.compile(r"See merge request (\S+)!(\d+)")
APPROVAL_TRAILERS = ("approved-by", "reviewed-by")

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


# --------------------------------------------------------------------------- commit messages


def trailers(message: str) -> list[tuple[str, str]]:
    """`Key: value` lines of the message's last paragraph (git interpret-trailers' rule, simplified)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return []
    found: list[tuple[str, str]] = []
    for line in paragraphs[-1].splitlines():
        match = _TRAILER.match(line.strip())
        if match is None:
            if line.startswith((" ", "\t")) and found:
                continue  # a folded continuation line
            return []
        found.append((match.group(1), match.group(2)))
    return found


def change_from_message(message: str) -> dict[str, Any]:
    """PR number, approvers and reason as far as the commit message states them."""
    out: dict[str, Any] = {}
    summary = message.splitlines()[0] if message else ""
    if match := _MERGE_PR.match(summary):
        out.update(pr=int(match.group(1)), prFrom="merge commit message", branch=match.group(2))
    elif match := _SQUASH_PR.search(summary):
        out.update(pr=int(match.group(1)), prFrom="squash commit title")
    elif match := _GITLAB_MR.search(message):
        out.update(pr=int(match.group(2)), prFrom="merge commit message", project=match.group(1))
    found = trailers(message)
    approvers = [{"id": value, "from": f"{key} trailer"} for key, value in found if key.lower() in APPROVAL_TRAILERS]
    if approvers:
        out["approvers"] = approvers
    reasons = [value for key, value in found if key.lower() == "change-reason"]
    if reasons:
        out["reason"] = reasons[0]
        out["reasonFrom"] = "Change-Reason trailer"
    tickets = [value for key, value in found if key.lower() in ("ticket", "change-ticket", "refs")]
    if tickets:
        out["ticket"] = tickets[0]
    if any(key.lower() == "emergency" and value.lower() in ("true", "yes", "1") for key, value in found):
        out["emergency"] = True
    return out


# --------------------------------------------------------------------------- CI


def _github_event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def change_from_ci(env: Mapping[str, str]) -> dict[str, Any]:
    """PR, merger and approvers from CI variables (GitHub Actions, GitLab CI), plus
    GITOPS_RAY_APPROVERS for pipelines that look approvals up themselves."""
    out: dict[str, Any] = {}
    if env.get("GITHUB_ACTIONS") == "true":
        event = _github_event(env)
        pr = event.get("pull_request") or {}
        if pr.get("number"):
            out["pr"] = int(pr["number"])
            out["prFrom"] = "GITHUB_EVENT_PATH"
            if pr.get("user", {}).get("login"):
                out["requestedBy"] = pr["user"]["login"]
            if pr.get("merged_by", {}) and pr["merged_by"].get("login"):
                out["mergedBy"] = pr["merged_by"]["login"]
            if pr.get("title"):
                out["title"] = pr["title"]
        elif match := re.match(r"refs/pull/(\d+)/", env.get("GITHUB_REF", "")):
            out.update(pr=int(match.group(1)), prFrom="GITHUB_REF")
        review = event.get("review") or {}
        if review.get("state") == "approved" and review.get("user", {}).get("login"):
            out["approvers"] = [{"id": review["user"]["login"], "at": review.get("submitted_at"),
                                 "from": "GITHUB_EVENT_PATH review"}]
        if out.get("pr") and env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY"):
            out["prUrl"] = f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/pull/{out['pr']}"
    if env.get("GITLAB_CI") == "true" and env.get("CI_MERGE_REQUEST_IID"):
        out.update(pr=int(env["CI_MERGE_REQUEST_IID"]), prFrom="CI_MERGE_REQUEST_IID")
        if env.get("CI_MERGE_REQUEST_APPROVED"):
            out["approved"] = env["CI_MERGE_REQUEST_APPROVED"] == "true"
    if env.get("GITOPS_RAY_APPROVERS"):
        out["approvers"] = [{"id": a.strip(), "from": "GITOPS_RAY_APPROVERS"}
                            for a in env["GITOPS_RAY_APPROVERS"].split(",") if a.strip()]
    return out


_CI_VARS = (
    # (system, identity variable, run id variable)
    ("github-actions", "GITHUB_ACTOR", "GITHUB_RUN_ID"),
    ("gitlab-ci", "GITLAB_USER_LOGIN", "CI_JOB_ID"),
    ("buildkite", "BUILDKITE_BUILD_CREATOR_EMAIL", "BUILDKITE_BUILD_ID"),
    ("jenkins", "BUILD_USER_ID", "BUILD_ID"),
    ("circleci", "CIRCLE_USERNAME", "CIRCLE_WORKFLOW_ID"),
)


def actor(env: Mapping[str, str] | None = None, *, kube_user: str = "", impersonated: str = "",
          trigger: str = "") -> dict[str, Any]:
    """Who ran gitops-ray: the CI identity if in CI, else the OS user; and as whom it spoke to Kubernetes."""
    env = os.environ if env is None else env
    out: dict[str, Any] = {"reconciler": {"name": "gitops-ray", "version": __version__}}
    for system, who, run in _CI_VARS:
        if env.get(who) or (env.get(run) and (system != "jenkins" or env.get("JENKINS_URL"))):
            ci: dict[str, Any] = {"system": system, "actor": env.get(who, ""), "runId": env.get(run, "")}
            if system == "github-actions":
                if env.get("GITHUB_TRIGGERING_ACTOR") and env["GITHUB_TRIGGERING_ACTOR"] != env.get(who):
                    ci["triggeringActor"] = env["GITHUB_TRIGGERING_ACTOR"]
                ci.update({k: env[v] for k, v in (("runAttempt", "GITHUB_RUN_ATTEMPT"), ("workflow", "GITHUB_WORKFLOW"),
                                                   ("event", "GITHUB_EVENT_NAME")) if env.get(v)})
                if env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY") and env.get(run):
                    ci["url"] = f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env[run]}"
            if system == "gitlab-ci":
                ci.update({k: env[v] for k, v in (("pipelineId", "CI_PIPELINE_ID"), ("url", "CI_JOB_URL"))
                           if env.get(v)})
            out["ci"] = ci
            out["id"] = f"{system}:{ci['actor'] or 'unknown'}"
            break
    else:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
        out["os"] = {"user": user, "host": socket.gethostname()}
        out["id"] = f"os:{user}"
    if kube_user:
        out["kubeUser"] = kube_user
    if impersonated:
        out["impersonated"] = impersonated
    out["trigger"] = trigger or ("ci" if "ci" in out else "manual")
    return out


# --------------------------------------------------------------------------- signature


def verify_signature(root: Path | str, commit: Commit, *, run: Runner = subprocess.run) -> dict[str, Any]:
    """`git verify-commit --raw`: whether the signature is good by the local trust config
    (gpg keyring, gpg.ssh.allowedSignersFile, gitsign)."""
    if not commit.signed:
        return {"signed": False}
    try:
        done = run(["git", "verify-commit", "--raw", commit.sha], cwd=str(root), capture_output=True, text=True,
                   timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        return {"signed": True, "verified": None, "detail": f"cannot run git verify-commit: {err}"}
    output = f"{done.stdout}\n{done.stderr}"
    out: dict[str, Any] = {"signed": True, "verified": done.returncode == 0}
    if "[GNUPG:]" in output:
        out["method"] = "gpg"
        if match := re.search(r"\[GNUPG:\] (?:GOODSIG|BADSIG|EXPSIG|EXPKEYSIG|REVKEYSIG|ERRSIG) (\S+) ?(.*)", output):
            out["key"] = match.group(1)
            if match.group(2):
                out["signer"] = match.group(2).strip()
    elif match := re.search(r'Good "git" signature (?:for (\S+) )?with (\S+) key (\S+)', output):
        out.update(method="ssh", key=match.group(3))
        if match.group(1):
            out["signer"] = match.group(1)
    elif "ssh" in output.lower() or "allowedSignersFile" in output:
        out["method"] = "ssh"
    if not out["verified"]:
        lines = [ln.strip() for ln in output.splitlines() if ln.strip() and not ln.startswith("[GNUPG:]")]
        out["detail"] = lines[-1][:300] if lines else f"git verify-commit exited {done.returncode}"
    return out


def source(
    commit: Commit | None,
    *,
    repository: str = "",
    ref: str = "",
    path: str = "",
    signature: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The `source` of a run: repository, ref, commit and its people, the change's PR,
    approvers, merger and reason (CI variables win over the message, which is only a claim)."""
    env = os.environ if env is None else env
    out: dict[str, Any] = {"repository": repository, "ref": ref}
    if path:
        out["path"] = path
    if commit is None:
        out["worktree"] = True
        return out
    out["commit"] = {"gitCommit": commit.sha}
    out["author"] = {"name": commit.author, "email": commit.author_email, "at": commit.authored_at}
    out["committer"] = {"name": commit.committer, "email": commit.committer_email, "at": commit.committed_at}
    out["message"] = commit.message[:4000]
    out["signature"] = dict(signature) if signature is not None else {"signed": commit.signed}
    change = change_from_message(commit.message)
    change.update({k: v for k, v in change_from_ci(env).items() if v})
    if "reason" not in change:
        from_title = bool(change.get("title"))
        change["reason"] = change["title"] if from_title else commit.summary
        change["reasonFrom"] = "pull request title" if from_title else "commit summary"
    out["change"] = change
    return out


def target(*, server: str = "", context: str = "", kuberay_version: str = "", crd_schema_version: str = "",
           crd_digests: Mapping[str, str] | None = None, namespaces: tuple[str, ...] = (),
           kubernetes_version: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"server": server, "context": context, "namespaces": list(namespaces)}
    if kubernetes_version:
        out["kubernetesVersion"] = kubernetes_version
    if kuberay_version:
        out["kuberayOperatorVersion"] = kuberay_version
    if crd_schema_version:
        out["crdSchemaVersion"] = crd_schema_version
    if crd_digests:
        out["crdDigests"] = dict(crd_digests)
    return out


def operator_version_from_image(image: str) -> str:
    """`quay.io/kuberay/operator:v1.5.1` -> `1.5.1` ('' for digests or latest)."""
    tag = image.rsplit("@", 1)[0].rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    return tag.removeprefix("v") if re.fullmatch(r"v?\d+\.\d+(\.\d+)?(-[\w.]+)?", tag) else ""
