from __future__ import annotations

import json

import pytest
from record_world import (
    CANARY_ENV,
    CANARY_SECRET,
    CM,
    JOB,
    NS,
    SECRET,
    SECRET_B64_DECODED,
    World,
    manifests,
)

from gitops_ray.changes import Action, Outcome, spec_digest
from gitops_ray.record import anchors, audit, evidence
from gitops_ray.record.entries import EntryKind
from gitops_ray.refs import ObjectRef

JOB_REF = ObjectRef("ray.io", "RayJob", "ray-dev", "job")


@pytest.fixture
def world(tmp_path):
    return World(tmp_path / "records")


def kinds(world):
    return [e.kind for e in world.store.entries()]


def test_a_run_records_intent_before_writes_one_outcome_per_write_and_a_checkpoint(world):
    result, recorder = world.run(NS, CM, SECRET, JOB)
    assert result.ok
    entries = list(world.store.entries())
    assert entries[0].kind == "intent"
    assert [e.kind for e in entries[1:5]] == ["outcome"] * 4
    intent = entries[0]
    assert [a["op"] for a in intent.predicate["actions"]] == ["create"] * 4
    assert intent.predicate["source"]["commit"]["gitCommit"] == "a" * 40
    assert intent.predicate["source"]["change"] == {"pr": 42, "prFrom": "squash commit title",
                                                    "approvers": [{"id": "Rita Reviewer",
                                                                   "from": "Reviewed-by trailer"}],
                                                    "reason": "nightly scoring", "reasonFrom": "Change-Reason trailer"}
    assert intent.predicate["actor"]["id"] == "github-actions:deploy-bot"
    assert intent.predicate["actor"]["kubeUser"] == "system:admin"
    job = next(a for a in intent.predicate["actions"] if a["ref"] == "RayJob/ray-dev/job")
    assert job["facts"]["accelerators"] == {"gpu": {"nvidia.com/gpu": 4}}
    assert job["impact"]["gpus"] == {"nvidia.com/gpu": 4}
    assert job["specDigest"].startswith("sha256:")
    assert {e.meta["intentId"] for e in entries[1:5]} == {intent.id}
    # every outcome carries the uid and the digests before/after
    outcome = next(e for e in entries if e.kind == "outcome" and e.predicate["action"]["ref"] == "RayJob/ray-dev/job")
    assert outcome.predicate["result"]["uidAfter"] == world.cluster.get("RayJob", "ray-dev", "job")["metadata"]["uid"]
    assert outcome.predicate["result"]["rvAfter"]
    assert outcome.predicate["result"]["liveAfterSha256"]
    assert entries[-1].kind == "checkpoint"
    assert recorder.checkpoint is not None and recorder.checkpoint.size == entries[-1].seq


def test_every_write_has_an_audit_id_in_the_record_and_in_the_cluster_requests(world):
    _, recorder = world.run(NS, CM, JOB)
    sent = {audit_id for _, _, audit_id in world.cluster.requests if audit_id}
    recorded = set()
    for entry in world.store.entries():
        if entry.kind == "outcome":
            ids = entry.predicate["result"]["auditIDs"]
            assert ids and all(i.startswith(recorder.intent_id + "-") for i in ids)
            recorded.update(ids)
    write_requests = [r for r in world.cluster.requests if r[0] in ("apply", "delete") and not r[1].startswith(
        "ConfigMap/ray-dev/gitops-ray-record")]
    assert len(write_requests) == 3
    assert recorded == sent and len(recorded) == 3


def test_anchors_are_published_and_verify_passes(world):
    world.run(NS, CM, JOB)
    cm = world.cluster.get("ConfigMap", "ray-dev", "gitops-ray-record-dev")
    assert cm is not None
    assert "gitops-ray.io/environment" not in cm["metadata"]["labels"]  # never pruned as ours
    last = list(world.store.entries())[-1]
    assert cm["data"]["checkpoint"] == f"gitops-ray/dev\n{last.seq}\n{last.hash}\n"
    assert anchors.parse_checkpoints(world.notes.notes["a" * 40]) == [anchors.Checkpoint("gitops-ray/dev", last.seq,
                                                                                         last.hash)]
    result = anchors.verify(world.store.scan(), "dev",
                            configmap=anchors.ConfigMapAnchor(client=world.cluster, namespace="ray-dev",
                                                              environment="dev"), notes=world.notes)
    assert result.ok, result.problems
    assert len(result.anchors_checked) == 2


def test_secret_canaries_never_reach_the_record(world):
    world.run(NS, SECRET, JOB)
    world.run(NS, SECRET.replace(CANARY_SECRET, CANARY_SECRET + "-v2"), JOB.replace(CANARY_ENV, CANARY_ENV + "x"))
    data = world.store.path.read_text()
    assert data.count('"kind":"intent"') == 2
    for canary in (CANARY_SECRET, CANARY_ENV, SECRET_B64_DECODED, "Y2FuYXJ5LXMzY3JldC1iYXNlNjQtdmFsdWU="):
        assert canary not in data


def test_outcome_messages_with_secret_values_are_redacted(world):
    recorder = world.recorder()
    plan = world.plan(SECRET, JOB)
    recorder.intent(plan, "run-x")
    from gitops_ray.changes import ChangeResult

    change = plan.changes[0]
    recorder.outcome(ChangeResult(change=change, outcome=Outcome.FAILED, http_status=422,
                                  message=f"Invalid value: \"{CANARY_SECRET}\" and {CANARY_ENV}", error="Invalid"))
    data = world.store.path.read_text()
    assert CANARY_SECRET not in data and CANARY_ENV not in data and "Invalid value" in data


def test_second_in_sync_run_writes_no_intent(world):
    world.run(NS, CM)
    before = kinds(world)
    world.run(NS, CM)
    assert kinds(world) == before  # nothing changed, nothing recorded


def test_kubectl_delete_of_an_owned_object_is_unexplained(world):
    world.run(NS, CM)
    world.cluster.objects.pop(("ConfigMap", "ray-dev", "cfg"))
    recorder = world.recorder()
    recorder.observe(world.cluster.owned())
    gone = [e.predicate["observation"] for e in world.store.entries()
            if e.predicate.get("observation", {}).get("type") == "disappearance"]
    assert gone == [{"type": "disappearance", "ref": "ConfigMap/ray-dev/cfg", "apiVersion": "v1",
                     "uid": gone[0]["uid"], "cause": "unexplained", "authorizedBy": {}}]


def test_prune_is_attributed_to_the_run_that_pruned(world):
    world.run(NS, CM)
    uid = world.cluster.get("ConfigMap", "ray-dev", "cfg")["metadata"]["uid"]
    result, recorder = world.run(NS)  # cfg removed from Git: pruned
    assert [r.change.action for r in result.results if r.change.ref.name == "cfg"] == [Action.DELETE]
    gone = [e.predicate["observation"] for e in world.store.entries()
            if e.predicate.get("observation", {}).get("type") == "disappearance"]
    assert len(gone) == 1
    assert gone[0]["uid"] == uid and gone[0]["cause"] == "pruned"
    assert gone[0]["authorizedBy"] == {"runId": recorder.run_id, "op": "delete",
                                       "entryId": gone[0]["authorizedBy"]["entryId"]}


def finish_job(world, status="SUCCEEDED"):
    job = world.cluster.objects[("RayJob", "ray-dev", "job")]
    job["status"] = {"jobDeploymentStatus": "Complete", "jobStatus": status, "jobId": "job-123",
                     "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T00:05:00Z",
                     "dashboardURL": "job-raycluster-abcde-head-svc.ray-dev.svc.cluster.local:8265",
                     "rayClusterName": "job-raycluster-abcde", "message": "Job finished successfully."}


def operator_creates_cluster(world):
    job = world.cluster.objects[("RayJob", "ray-dev", "job")]
    return world.cluster.put({
        "apiVersion": "ray.io/v1", "kind": "RayCluster",
        "metadata": {"name": "job-raycluster-abcde", "namespace": "ray-dev",
                     "labels": dict(job["metadata"]["labels"]),
                     "ownerReferences": [{"apiVersion": "ray.io/v1", "kind": "RayJob", "name": "job",
                                          "uid": job["metadata"]["uid"], "controller": True}]},
        "spec": {"rayVersion": "2.46.0"}})


def test_ray_cleanup_rule_deleting_the_cluster_is_attributed_to_the_rule_and_commit(world):
    world.run(NS, JOB)
    cluster = operator_creates_cluster(world)
    world.recorder().observe(world.cluster.owned())  # inventory sees the operator's RayCluster
    finish_job(world)
    world.cluster.objects.pop(("RayCluster", "ray-dev", "job-raycluster-abcde"))  # the TTL fires
    recorder = world.recorder()
    recorder.observe(world.cluster.owned())
    observations = [e.predicate["observation"] for e in world.store.entries() if e.kind == "observation"]
    final = [o for o in observations if o["type"] == "final-status"]
    assert len(final) == 1
    assert final[0]["status"]["jobStatus"] == "SUCCEEDED" and final[0]["status"]["jobId"] == "job-123"
    assert final[0]["status"]["rayClusterName"] == "job-raycluster-abcde"
    assert final[0]["commit"] == "a" * 40 and final[0]["terminal"] is True
    assert final[0]["facts"]["images"] == ["rayproject/ray:2.46.0", "rayproject/ray:2.46.0-gpu"]
    gone = [o for o in observations if o["type"] == "disappearance"]
    assert len(gone) == 1
    assert gone[0]["uid"] == cluster["metadata"]["uid"]
    assert gone[0]["cause"] == "ray-cleanup-rule"
    assert gone[0]["authorizedBy"]["rule"] == "shutdownAfterJobFinishes=true, ttlSecondsAfterFinished=60"
    assert gone[0]["authorizedBy"]["commit"] == "a" * 40
    assert gone[0]["authorizedBy"]["owner"] == "RayJob/ray-dev/job"
    recorder.observe(world.cluster.owned())  # seen again: nothing new
    assert len([e for e in world.store.entries() if e.kind == "observation"]) == len(observations)


def test_self_deleting_job_is_a_cleanup_rule_its_cluster_owner_gc_and_it_is_not_rerun(world):
    job_doc = JOB.replace("  shutdownAfterJobFinishes: true\n  ttlSecondsAfterFinished: 60\n",
                          "  deletionStrategy:\n    deletionRules:\n      - {condition: {jobStatus: SUCCEEDED, "
                          "ttlSeconds: 30}, policy: DeleteSelf}\n")
    world.run(NS, job_doc)
    operator_creates_cluster(world)
    finish_job(world)
    world.recorder().observe(world.cluster.owned())  # sees the cluster and the final status
    world.cluster.objects.pop(("RayCluster", "ray-dev", "job-raycluster-abcde"))
    world.cluster.objects.pop(("RayJob", "ray-dev", "job"))
    result, _ = world.run(NS, job_doc)
    causes = {o["ref"]: (o["cause"], o["authorizedBy"]) for e in world.store.entries()
              if (o := e.predicate.get("observation", {})).get("type") == "disappearance"}
    assert causes["RayJob/ray-dev/job"][0] == "ray-cleanup-rule"
    assert causes["RayJob/ray-dev/job"][1]["rule"] == "deletionRules: DeleteSelf after 30s (jobStatus=SUCCEEDED)"
    assert causes["RayJob/ray-dev/job"][1]["finalStatusRecorded"] is True
    assert causes["RayCluster/ray-dev/job-raycluster-abcde"][0] == "owner-gc"
    job_result = next(r for r in result.results if r.change.ref == JOB_REF)
    assert job_result.change.action is Action.NOOP
    assert job_result.change.reason.startswith("completed: Complete/SUCCEEDED at 2026-01-01T00:05:00Z")
    assert [r for v, r, _ in world.cluster.requests if r == "RayJob/ray-dev/job"] == ["RayJob/ray-dev/job"]  # once


def test_completed_job_matches_the_spec_digest_only(world):
    world.run(NS, JOB)
    finish_job(world)
    recorder = world.recorder()
    recorder.observe(world.cluster.owned())
    [job_manifest] = [m for m in manifests(JOB)]
    from gitops_ray.engine.plan import desired_object

    digest = spec_digest(desired_object(job_manifest, world.env))
    found = evidence.completed_job(recorder.index, JOB_REF, digest)
    assert found is not None and found.succeeded and found.job_status == "SUCCEEDED"
    assert evidence.completed_job(recorder.index, JOB_REF, "sha256:other") is None


def test_final_status_is_recorded_before_a_replace(world):
    world.run(NS, JOB)
    finish_job(world, status="FAILED")
    world.run(NS, JOB.replace("run.py", "run2.py"))
    statuses = [(o["when"], o["status"]["jobStatus"]) for e in world.store.entries()
                if (o := e.predicate.get("observation", {})).get("type") == "final-status"]
    # observed as terminal at the start of the run; not recorded twice before the replace
    assert statuses == [("terminal", "FAILED")]
    outcome = [e for e in world.store.entries() if e.kind == "outcome" and e.predicate["action"]["op"] == "replace"]
    assert outcome and outcome[0].predicate["result"]["uidBefore"] != outcome[0].predicate["result"]["uidAfter"]


def test_anchor_failure_is_recorded_not_raised(world):
    world.cluster.fail_configmap = True
    _, recorder = world.run(NS, CM)
    assert recorder.notices == ["anchor not written: ConfigMap ray-dev/gitops-ray-record-dev: connection refused"]
    failed = [e.predicate["observation"] for e in world.store.entries()
              if e.predicate.get("observation", {}).get("type") == "anchor-failed"]
    assert failed and failed[0]["where"] == "ConfigMap ray-dev/gitops-ray-record-dev"
    world.cluster.fail_configmap = False
    result = anchors.verify(world.store.scan(), "dev",
                            configmap=anchors.ConfigMapAnchor(client=world.cluster, namespace="ray-dev",
                                                              environment="dev"), notes=world.notes)
    assert result.ok, result.problems  # the log says why the ConfigMap is missing


def test_record_path_precedence(tmp_path):
    import dataclasses
    from pathlib import Path

    from record_world import environment

    from gitops_ray.environment import RecordOptions

    env = environment()
    assert audit.record_path(env, base=tmp_path) == tmp_path / ".gitops-ray/records/dev.jsonl"
    assert audit.record_path(env, "elsewhere", base=tmp_path) == tmp_path / "elsewhere/dev.jsonl"
    custom = dataclasses.replace(env, record=RecordOptions(dir="/var/lib/gitops-ray"))
    assert audit.record_path(custom, base=tmp_path) == Path("/var/lib/gitops-ray/dev.jsonl")
    assert audit.record_path(custom, "/x", base=tmp_path) == Path("/x/dev.jsonl")  # --record-dir wins


def test_statements_are_valid_in_toto_with_digests(world):
    world.run(NS, CM, JOB)
    for line in world.store.path.read_text().splitlines():
        statement = json.loads(line)
        assert statement["_type"] == "https://in-toto.io/Statement/v1"
        assert statement["subject"], statement["predicate"]["entry"]["kind"]
        for subject in statement["subject"]:
            assert len(subject["digest"]["sha256"]) == 64
    assert EntryKind.CHECKPOINT.value in kinds(world)


def test_runtime_env_var_values_in_a_changed_runtime_env_yaml_are_redacted(world):
    token = "canary-runtime-env-token-42"
    runtime_env = f"  runtimeEnvYAML: |\n    env_vars:\n      TOKEN: \"{token}\"\n"
    with_env = JOB.replace("  entrypoint: python run.py\n", "  entrypoint: python run.py\n" + runtime_env)
    world.run(NS, with_env)
    finish_job(world)  # a finished job is replaced: the diff carries the old and new YAML strings
    result, _ = world.run(NS, with_env.replace(token, token + "-rotated"))
    assert {r.change.action for r in result.results if r.change.ref == JOB_REF} == {Action.REPLACE}
    data = world.store.path.read_text()
    assert 'TOKEN: (hidden)' in data  # the YAML string is recorded, its env var value is not
    assert token not in data


DELETE_SELF = ("  deletionStrategy:\n    deletionRules:\n      - {condition: {jobStatus: SUCCEEDED, ttlSeconds: 0}, "
               "policy: DeleteSelf}\n")


def test_job_deleted_by_its_rule_before_any_run_saw_it_finish_is_completed_for_that_spec_only(world):
    job_doc = JOB.replace("  shutdownAfterJobFinishes: true\n  ttlSecondsAfterFinished: 60\n", DELETE_SELF)
    world.run(NS, job_doc)
    world.cluster.objects.pop(("RayJob", "ray-dev", "job"))  # ran and deleted itself between two runs
    result, recorder = world.run(NS, job_doc)
    [gone] = [e.predicate["observation"] for e in world.store.entries()
              if e.predicate.get("observation", {}).get("type") == "disappearance"]
    assert gone["cause"] == "ray-cleanup-rule" and gone["authorizedBy"]["finalStatusRecorded"] is False
    assert gone["specDigest"].startswith("sha256:")
    gone_id = next(e.id for e in world.store.entries() if e.predicate.get("observation", {}).get("type")
                   == "disappearance")
    [job] = [r for r in result.results if r.change.ref == JOB_REF]
    assert job.change.action is Action.NOOP
    assert job.change.reason == ("completed: finished and was deleted by its cleanup rule (deletionRules: DeleteSelf "
                                 f"after 0s (jobStatus=SUCCEEDED)) of commit {'a' * 12} (record entry {gone_id}); "
                                 "not re-run")
    assert [r for _, r, _ in world.cluster.requests if r == "RayJob/ray-dev/job"] == ["RayJob/ray-dev/job"]  # once
    changed = world.plan(NS, job_doc.replace("run.py", "run2.py"), recorder=recorder)
    assert {c.action for c in changed.changes if c.ref == JOB_REF} == {Action.CREATE}


def test_a_job_that_was_only_deleted_by_hand_is_not_completed(world):
    world.run(NS, JOB)  # shutdownAfterJobFinishes deletes the cluster, never the RayJob
    world.cluster.objects.pop(("RayJob", "ray-dev", "job"))
    result, _ = world.run(NS, JOB)
    [job] = [r for r in result.results if r.change.ref == JOB_REF]
    assert job.change.action is Action.CREATE


def test_cluster_gone_before_any_listing_is_attributed_from_the_jobs_final_status(world):
    world.run(NS, JOB)
    finish_job(world)  # its cluster job-raycluster-abcde came and went between two runs (a short TTL)
    recorder = world.recorder()
    recorder.observe(world.cluster.owned())
    recorder.observe(world.cluster.owned())  # once only
    [gone] = [e.predicate["observation"] for e in world.store.entries()
              if e.predicate.get("observation", {}).get("type") == "disappearance"]
    assert gone["ref"] == "RayCluster/ray-dev/job-raycluster-abcde" and gone["cause"] == "ray-cleanup-rule"
    why = gone["authorizedBy"]
    assert why["neverListed"] is True and why["owner"] == "RayJob/ray-dev/job" and why["commit"] == "a" * 40
    assert why["rule"] == "shutdownAfterJobFinishes=true, ttlSecondsAfterFinished=60"
    assert why["ownerStatus"]["jobId"] == "job-123"


def test_a_cluster_listed_before_is_not_attributed_twice_and_a_selected_cluster_is_not_the_jobs(world):
    world.run(NS, JOB)
    operator_creates_cluster(world)
    world.recorder().observe(world.cluster.owned())  # listed: inventoried by uid
    finish_job(world)
    recorder = world.recorder()
    recorder.observe(world.cluster.owned())  # still there: final status only
    assert not [e for e in world.store.entries() if e.predicate.get("observation", {}).get("type") == "disappearance"]
    job = world.cluster.objects[("RayJob", "ray-dev", "job")]
    job["spec"]["clusterSelector"] = {"ray.io/cluster": "shared"}
    assert evidence.unlisted_cluster(job, {}, recorder.index) is None


def test_a_deletion_rule_whose_condition_did_not_hold_does_not_explain_the_cluster(world):
    on_failure = JOB.replace("  shutdownAfterJobFinishes: true\n  ttlSecondsAfterFinished: 60\n",
                             "  deletionStrategy:\n    deletionRules:\n      - {condition: {jobStatus: FAILED, "
                             "ttlSeconds: 0}, policy: DeleteCluster}\n")
    world.run(NS, on_failure)
    operator_creates_cluster(world)
    world.recorder().observe(world.cluster.owned())
    finish_job(world, status="SUCCEEDED")
    world.cluster.objects.pop(("RayCluster", "ray-dev", "job-raycluster-abcde"))  # someone else deleted it
    world.recorder().observe(world.cluster.owned())
    [gone] = [e.predicate["observation"] for e in world.store.entries()
              if e.predicate.get("observation", {}).get("type") == "disappearance"]
    assert gone["cause"] == "unexplained"
