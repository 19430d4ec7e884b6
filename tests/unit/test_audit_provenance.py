from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from gitops_ray.record import provenance
from gitops_ray.source import Repository


def test_merge_commit_message_gives_pr_branch_approvers_and_reason():
    message = ("Merge pull request #123 from team/scale-gpus\n\nScale the GPU group\n\n"
               "Change-Reason: more throughput for the nightly job\nReviewed-by: Rita <rita@example.com>\n"
               "Approved-by: Otto\nTicket: OPS-42")
    change = provenance.change_from_message(message)
    assert change == {"pr": 123, "prFrom": "merge commit message", "branch": "team/scale-gpus",
                      "approvers": [{"id": "Rita <rita@example.com>", "from": "Reviewed-by trailer"},
                                    {"id": "Otto", "from": "Approved-by trailer"}],
                      "reason": "more throughput for the nightly job", "reasonFrom": "Change-Reason trailer",
                      "ticket": "OPS-42"}


def test_squash_title_and_no_trailers_in_a_one_paragraph_message():
    assert provenance.change_from_message("Bump ray (#7)") == {"pr": 7, "prFrom": "squash commit title"}
    assert provenance.trailers("Reviewed-by: not a trailer, only a subject") == []
    assert provenance.trailers("subject\n\nbody text\nReviewed-by: x") == []  # mixed paragraph: not trailers


def test_github_actions_event_gives_pr_merger_requester_and_review(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 9, "title": "Add job", "user": {"login": "ada"},
                                                  "merged_by": {"login": "mo"}},
                                 "review": {"state": "approved", "user": {"login": "rita"},
                                            "submitted_at": "2026-01-01T10:00:00Z"}}))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(event), "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_REPOSITORY": "org/repo"}
    assert provenance.change_from_ci(env) == {
        "pr": 9, "prFrom": "GITHUB_EVENT_PATH", "requestedBy": "ada", "mergedBy": "mo", "title": "Add job",
        "approvers": [{"id": "rita", "at": "2026-01-01T10:00:00Z", "from": "GITHUB_EVENT_PATH review"}],
        "prUrl": "https://github.com/org/repo/pull/9"}
    assert provenance.change_from_ci({"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/pull/5/merge"})["pr"] == 5
    assert provenance.change_from_ci({"GITOPS_RAY_APPROVERS": "a, b"})["approvers"] == [
        {"id": "a", "from": "GITOPS_RAY_APPROVERS"}, {"id": "b", "from": "GITOPS_RAY_APPROVERS"}]


def test_actor_from_github_gitlab_or_os_user():
    gh = provenance.actor({"GITHUB_ACTOR": "bot", "GITHUB_TRIGGERING_ACTOR": "ada", "GITHUB_RUN_ID": "42",
                           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r"},
                          kube_user="system:serviceaccount:gitops:reconciler")
    assert gh["id"] == "github-actions:bot"
    assert gh["ci"] == {"system": "github-actions", "actor": "bot", "runId": "42", "triggeringActor": "ada",
                        "url": "https://github.com/o/r/actions/runs/42"}
    assert gh["kubeUser"] == "system:serviceaccount:gitops:reconciler" and gh["trigger"] == "ci"
    gl = provenance.actor({"GITLAB_USER_LOGIN": "gus", "CI_JOB_ID": "7", "CI_PIPELINE_ID": "3"})
    assert gl["id"] == "gitlab-ci:gus" and gl["ci"]["pipelineId"] == "3"
    local = provenance.actor({})
    assert local["id"].startswith("os:") and local["os"]["user"] and local["trigger"] == "manual"
    assert local["reconciler"]["name"] == "gitops-ray"


def test_source_prefers_ci_over_message_claims(git_repo):
    repo = git_repo({"a.yaml": "a: 1\n"}, message="Add a (#3)\n\nChange-Reason: because")
    commit = Repository.open(repo.path).resolve("HEAD")
    src = provenance.source(commit, repository="https://example.com/r.git", ref="main",
                            env={"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/pull/8/merge"})
    assert src["commit"] == {"gitCommit": commit.sha}
    assert src["author"]["name"] == "Ada Author" and src["committer"]["name"] == "Carl Committer"
    assert src["change"]["pr"] == 8 and src["change"]["prFrom"] == "GITHUB_REF"
    assert src["change"]["reason"] == "because"
    assert src["signature"] == {"signed": False}
    assert provenance.source(None, repository="r", ref="")["worktree"] is True


def test_unsigned_commit_is_not_verified(git_repo):
    repo = git_repo({"a.yaml": "a: 1\n"})
    commit = Repository.open(repo.path).resolve("HEAD")
    assert provenance.verify_signature(repo.path, commit) == {"signed": False}


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_ssh_signed_commit_verified_only_with_an_allowed_signer(git_repo, tmp_path):
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ada@example.com", "-f", str(key)],
                   check=True)
    repo = git_repo()
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingkey", str(key))
    repo.write({"a.yaml": "a: 1\n"})
    repo.git("add", "-A")
    repo.git("commit", "-q", "-S", "-m", "signed")
    commit = Repository.open(repo.path).resolve("HEAD")
    assert commit.signed
    untrusted = provenance.verify_signature(repo.path, commit)
    assert untrusted["signed"] is True and untrusted["verified"] is False and untrusted["detail"]
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ada@example.com {(tmp_path / 'key.pub').read_text()}")
    repo.git("config", "gpg.ssh.allowedSignersFile", str(allowed))
    trusted = provenance.verify_signature(repo.path, commit)
    assert trusted["verified"] is True and trusted["method"] == "ssh"
    assert trusted["signer"] == "ada@example.com" and trusted["key"].startswith("SHA256:")


def test_operator_version_from_image():
    assert provenance.operator_version_from_image("quay.io/kuberay/operator:v1.5.1") == "1.5.1"
    assert provenance.operator_version_from_image("kuberay/operator:latest") == ""
    assert provenance.operator_version_from_image("localhost:5000/kuberay/operator") == ""
