from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from record_world import CANARY_ENV, CANARY_SECRET, CM, JOB, NS, SECRET, SECRET_B64_DECODED, World
from test_audit_recorder import finish_job, operator_creates_cluster

from gitops_ray.cli.audit import audit as audit_cli
from gitops_ray.cli.history import history as history_cli
from gitops_ray.record import audit, history
from gitops_ray.source import Commit, Repository


@pytest.fixture
def world(tmp_path):
    return World(tmp_path / "records")


def run_cli(command, *args: str):
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def job_lifecycle(world):
    """Apply the job, the operator makes a cluster, the job ends, the TTL deletes the cluster,
    someone kubectl-deletes the ConfigMap, and a later run observes it all."""
    world.run(NS, CM, SECRET, JOB)
    operator_creates_cluster(world)
    world.recorder().observe(world.cluster.owned())
    finish_job(world)
    world.cluster.objects.pop(("RayCluster", "ray-dev", "job-raycluster-abcde"))
    world.cluster.objects.pop(("ConfigMap", "ray-dev", "cfg"))
    recorder = world.recorder()
    recorder.observe(world.cluster.owned())
    recorder.close()


def test_text_history_has_one_row_per_action(world):
    world.run(NS, CM, JOB)
    out = run_cli(history_cli, "--record-dir", str(world.store.path.parent))
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["TIME", "ENV", "COMMIT", "AUTHOR", "ACTOR", "RESOURCE", "ACTION", "OUTCOME",
                                 "ALLOWED", "BY", "DETAIL"]
    body = lines[1:]
    assert len(body) == 3
    assert all("aaaaaaaaaaaa" in line and "github-actions:deploy-bot" in line and " create " in line for line in body)
    assert [line.split()[6] for line in body] == ["Namespace//ray-dev", "ConfigMap/ray-dev/cfg",
                                                  "RayJob/ray-dev/job"] or \
        {line.split()[6] for line in body} == {"Namespace/ray-dev", "ConfigMap/ray-dev/cfg", "RayJob/ray-dev/job"}
    # who allowed it: only a Reviewed-by trailer names someone, which is a claim, not an approval
    assert all("Rita Reviewer (claimed)" in line for line in body)


def test_history_text_cuts_long_cells_with_an_ellipsis():
    from gitops_ray.record.history import Row, render_text

    long = "x" * 300
    row = Row(time="2026-12-01T10:00:00Z", environment="dev", run_id="r", entry_id="e", kind="drift",
              resource="ConfigMap/ray-dev/" + "n" * 80, action="drift", outcome="drifted", commit="a" * 40,
              author="someone@example.com", actor="ci", http=None, duration_s=None, audit_ids=(), message=long,
              owner="", n=0, detail_json="", run=None)
    line = render_text([row]).splitlines()[1]
    assert "…" in line and long not in line
    assert "ConfigMap/ray-dev/" + "n" * 37 + "…" in line  # the resource column is 56 wide, the cut is marked


def test_resource_history_keeps_final_status_and_the_cleanup_of_its_cluster(world):
    job_lifecycle(world)
    out = run_cli(history_cli, "--env", "dev", "--record-dir", str(world.store.path.parent),
                  "--resource", "rayjob/ray-dev/job", "-o", "json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)["rows"]
    assert [(r["kind"], r["resource"]) for r in rows] == [
        ("outcome", "RayJob/ray-dev/job"), ("final-status", "RayJob/ray-dev/job"),
        ("disappearance", "RayCluster/ray-dev/job-raycluster-abcde")]
    assert rows[0]["author"] == "ada@example.com" and rows[0]["commit"] == "a" * 40
    assert rows[1]["outcome"] == "Complete/SUCCEEDED"
    assert rows[1]["detail"]["status"]["dashboardURL"].endswith(":8265")
    assert rows[1]["detail"]["facts"]["images"] == ["rayproject/ray:2.46.0", "rayproject/ray:2.46.0-gpu"]
    assert rows[1]["detail"]["facts"]["accelerators"] == {"gpu": {"nvidia.com/gpu": 4}}
    assert rows[2]["outcome"] == "ray-cleanup-rule" and rows[2]["commit"] == "a" * 40
    assert rows[2]["detail"]["authorizedBy"]["rule"] == "shutdownAfterJobFinishes=true, ttlSecondsAfterFinished=60"


def test_check_fails_on_unexplained_disappearance(world):
    job_lifecycle(world)
    out = run_cli(history_cli, "--record-dir", str(world.store.path.parent), "--check")
    assert out.exit_code == 1
    assert "! unexplained" in out.output and "ConfigMap/ray-dev/cfg" in out.output
    assert "1 unexplained disappearance(s)" in out.output
    ok = run_cli(history_cli, "--record-dir", str(world.store.path.parent), "--check", "--resource",
                 "RayJob/ray-dev/job")
    assert ok.exit_code == 0  # the job's own history has only authorized disappearances


def test_commit_and_since_filters(world):
    world.run(NS, CM)
    other = Commit(sha="b" * 40, author="Bo", author_email="bo@example.com", authored_at="", committer="Bo",
                   committer_email="bo@example.com", committed_at="", message="bump", signed=False)
    world.run(NS, CM.replace("'1'", "'2'"), commit=other)
    rows = history.rows(world.store.entries(), "dev")
    assert {r.commit[:1] for r in history.select(rows, commit="bbbb")} == {"b"}
    assert len(history.select(rows, commit="aaaa")) == 2
    assert history.select(rows, since=datetime(2999, 1, 1, tzinfo=UTC)) == []
    assert len(history.select(rows, since=history.parse_since("1d"))) == 3
    assert history.parse_since("2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    out = run_cli(history_cli, "--record-dir", str(world.store.path.parent), "--since", "yesterday-ish")
    assert out.exit_code != 0


def test_markdown_review_report_for_a_commit(world):
    job_lifecycle(world)
    out = run_cli(history_cli, "--record-dir", str(world.store.path.parent), "--commit", "aaaaaaa", "-o", "markdown")
    assert out.exit_code == 0, out.output
    md = out.output
    assert md.startswith("# Change review: commit `aaaaaaaaaaaa`")
    assert "| Requested by (author) | Ada Author <ada@example.com>" in md
    assert "| Approvers | Rita Reviewer (Reviewed-by trailer) |" in md
    assert "| Pull request | #42 — from squash commit title |" in md
    assert "| Reason | nightly scoring (Change-Reason trailer) |" in md
    assert "Kubernetes user system:admin" in md
    assert "| Signature | unsigned |" in md
    assert "#### RayJob/ray-dev/job" in md
    assert "- **GPUs at max replicas:** nvidia.com/gpu: 4" in md
    assert "- **Secrets (names):** creds" in md
    assert "- **Cleanup:** shutdownAfterJobFinishes with ttlSecondsAfterFinished=60" in md
    assert "## Final statuses" in md and "job-raycluster-abcde" in md
    assert "| RayCluster/ray-dev/job-raycluster-abcde | ray-cleanup-rule |" in md
    assert "| ConfigMap/ray-dev/cfg | **unexplained** ⚠ |" not in md  # not authorized by this commit's runs


def test_secret_canaries_never_appear_in_history_or_export(world):
    job_lifecycle(world)
    record_dir = str(world.store.path.parent)
    outputs = [run_cli(history_cli, "--record-dir", record_dir, "-o", fmt).output for fmt in ("text", "json")]
    outputs.append(run_cli(history_cli, "--record-dir", record_dir, "--commit", "a", "-o", "markdown").output)
    exported = run_cli(audit_cli, "export", "--env", "dev", "--in-toto", "--record-dir", record_dir)
    assert exported.exit_code == 0
    outputs.append(exported.output)
    for text in outputs:
        for canary in (CANARY_SECRET, CANARY_ENV, SECRET_B64_DECODED):
            assert canary not in text


def test_export_is_the_stored_statements_byte_for_byte(world):
    world.run(NS, CM)
    with world.store.path.open("ab") as fh:
        fh.write(b'{"torn')
    out = CliRunner().invoke(audit_cli, ["export", "--env", "dev", "--in-toto", "--record-dir",
                                         str(world.store.path.parent)])
    assert out.exit_code == 0
    stored = world.store.path.read_bytes()
    assert out.stdout_bytes == stored[:stored.rindex(b"\n") + 1]
    for line in out.stdout_bytes.splitlines():
        assert json.loads(line)["_type"] == "https://in-toto.io/Statement/v1"


ENV_FILE = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  cluster: {sandbox: {stateDir: .no-such-sandbox}}
  namespaces: [ray-dev]
"""


def test_verify_cli_checks_the_git_note_of_the_repository_here(git_repo, tmp_path, monkeypatch):
    repo = git_repo({"environments/dev/environment.yaml": ENV_FILE}, message="env")
    commit = Repository.open(repo.path).resolve("HEAD")
    world = World(tmp_path / "records", notes=audit.RepositoryNotes(Repository.open(repo.path)))
    world.run(NS, CM, commit=commit)
    monkeypatch.chdir(repo.path)
    record_dir = str(tmp_path / "records")
    ok = run_cli(audit_cli, "verify", "--env", "dev", "--record-dir", record_dir)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("dev: intact — ")
    assert f"anchor checked: git note on {commit.sha[:12]}" in ok.output
    assert "notice: cluster anchor not checked" in ok.output

    repo.git("notes", "--ref", "refs/notes/gitops-ray", "remove", commit.sha)
    broken = run_cli(audit_cli, "verify", "--env", "dev", "--record-dir", record_dir, "-o", "json")
    assert broken.exit_code == 1
    problems = json.loads(broken.output)["environments"][0]["problems"]
    assert problems[0]["anchor"] == f"git note on {commit.sha[:12]}"
    assert problems[0]["message"].startswith("missing, but the checkpoint at entry")


def test_verify_cli_names_the_first_bad_entry(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not inside any repository: no git-note anchors to consult
    world.run(NS, CM, JOB)
    record_dir = str(world.store.path.parent)
    assert run_cli(audit_cli, "verify", "--record-dir", record_dir).exit_code == 0
    lines = world.store.path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"applied"', b'"skipped"', 1)
    world.store.path.write_bytes(b"\n".join(lines))
    out = run_cli(audit_cli, "verify", "--record-dir", record_dir)
    assert out.exit_code == 1
    entry_id = json.loads(lines[1])["predicate"]["entry"]["id"]
    assert out.output.startswith(f"dev: BROKEN — line 2, entry {entry_id}: does not match the hash")


def test_verify_cli_without_a_record_fails(tmp_path):
    out = run_cli(audit_cli, "verify", "--record-dir", str(tmp_path))
    assert out.exit_code == 1 and "no record found" in out.output


def test_history_index_is_derived_and_rebuilt_when_it_does_not_match_the_log(world):
    from gitops_ray.record import index

    job_lifecycle(world)
    index_file = index.index_path(world.store.path)
    assert index_file.exists()  # kept current by the writer
    direct = [r.to_json() for r in history.rows(world.store.entries(), "dev")]
    via_index = [r.to_json() for r in history.rows_from_index(index.load(world.store), "dev",
                                                              load=index.reader(world.store))]
    assert via_index == direct

    index_file.unlink()
    assert [r.to_json() for r in history.rows_from_index(index.load(world.store), "dev")] == direct
    assert index_file.exists()

    with world.store.path.open("ab") as fh:
        fh.write(b'{"torn')  # a crash mid-append: the writer's next append cannot extend the index
    world.run(NS, CM.replace("'1'", "'3'"))
    loaded = index.load(world.store)
    assert [int(i[index.SEQ]) for i in loaded] == [e.seq for e in world.store.entries()]

    lines = world.store.path.read_bytes().split(b"\n")
    world.store.path.write_bytes(b"\n".join(lines[:5]) + b"\n")  # truncated behind the index's back
    assert [int(i[index.SEQ]) for i in index.load(world.store)] == [1, 2, 3, 4, 5]


def test_markdown_report_reads_full_intents_through_the_index(world):
    job_lifecycle(world)
    out = run_cli(history_cli, "--env", "dev", "--record-dir", str(world.store.path.parent), "--commit", "aaaa",
                  "-o", "markdown")
    assert "- **Images:** rayproject/ray:2.46.0, rayproject/ray:2.46.0-gpu" in out.output
    assert "| Committer | Carl Committer <carl@example.com> |" in out.output
