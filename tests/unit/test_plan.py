from __future__ import annotations

import copy

import pytest

from gitops_ray.changes import Action, Impact, spec_digest
from gitops_ray.engine.plan import LiveState, PlanOptions, apply_body, build_plan, desired_object
from gitops_ray.environment import parse_environment
from gitops_ray.manifests import load_text
from gitops_ray.refs import ObjectRef

ENV = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  cluster: {sandbox: {}}
  namespaces: [ray-dev]
  sync: {prune: %s}
"""

NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ray-dev}\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: ray-dev}\ndata: {a: '1'}\n"
JOB = """apiVersion: ray.io/v1
kind: RayJob
metadata: {name: job, namespace: ray-dev}
spec:
  entrypoint: python run.py
  shutdownAfterJobFinishes: true
  ttlSecondsAfterFinished: 60
  rayClusterSpec:
    headGroupSpec:
      template: {spec: {containers: [{name: head, image: "ray:2.46.0"}]}}
"""
CLUSTER = """apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: rc, namespace: ray-dev}
spec:
  rayVersion: "2.46.0"
  enableInTreeAutoscaling: true
  headGroupSpec:
    template: {spec: {containers: [{name: head, image: "ray:2.46.0"}]}}
  workerGroupSpecs:
    - groupName: cpu
      replicas: 1
      minReplicas: 1
      maxReplicas: 4
      template: {spec: {containers: [{name: w, image: "ray:2.46.0"}]}}
"""


def env(prune: bool = True):
    return parse_environment("environments/dev/environment.yaml", (ENV % str(prune).lower()).encode())


def manifests(*docs: str):
    result = load_text("environments/dev/app.yaml", "---\n".join(docs))
    assert result.findings == []
    return result.manifests


def plan_for(docs, live_objects=(), *, prune=True, history=None, allow=False, unowned=()):
    environment = env(prune)
    owned = {ObjectRef.from_object(o): o for o in live_objects}
    others = {ObjectRef.from_object(o): o for o in unowned}
    options = PlanOptions(environment=environment, commit="abc", allow_replace_running=allow)
    return build_plan(manifests(*docs), LiveState(owned=owned, unowned=others), options, history=history,
                      impact_of=lambda body: Impact())


def live(doc: str, status=None, **meta):
    [m] = manifests(doc)
    obj = desired_object(m, env())
    obj["metadata"].update({"uid": "uid-" + m.ref.name, "resourceVersion": "1", **meta})
    if status is not None:
        obj["status"] = status
    return obj


def by_name(plan):
    return {c.ref.name: c for c in plan.changes}


def test_empty_cluster_creates_everything_in_dependency_order():
    plan = plan_for([JOB, CLUSTER, CM, NS])
    assert [c.ref.kind for c in plan.changes] == ["Namespace", "ConfigMap", "RayCluster", "RayJob"]
    assert {c.action for c in plan.changes} == {Action.CREATE}
    assert not plan.in_sync


def test_in_sync_objects_are_noop():
    plan = plan_for([NS, CM], [live(NS), live(CM)])
    assert plan.in_sync and plan.summary()["noop"] == 2


def test_rayjob_entrypoint_change_on_finished_job_plans_replace():
    old = live(JOB, status={"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"})
    plan = plan_for([JOB.replace("run.py", "run2.py")], [old])
    change = by_name(plan)["job"]
    assert change.action is Action.REPLACE and change.strategy == "replace"
    assert "/spec/entrypoint" in [d.path for d in change.diff]


def test_rayjob_entrypoint_change_while_running_is_blocked_unless_allowed():
    running = live(JOB, status={"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"})
    blocked = by_name(plan_for([JOB.replace("run.py", "run2.py")], [running]))["job"]
    assert blocked.action is Action.BLOCKED and "Running/RUNNING" in blocked.reason
    allowed = by_name(plan_for([JOB.replace("run.py", "run2.py")], [running], allow=True))["job"]
    assert allowed.action is Action.REPLACE and allowed.warnings


@pytest.mark.parametrize("field", ["ttlSecondsAfterFinished: 60", "shutdownAfterJobFinishes: true"])
def test_rayjob_fields_read_live_are_plain_updates(field):
    running = live(JOB, status={"jobDeploymentStatus": "Running"})
    changed = JOB.replace("ttlSecondsAfterFinished: 60", "ttlSecondsAfterFinished: 120") if "ttl" in field else \
        JOB.replace("  ttlSecondsAfterFinished: 60\n", "  ttlSecondsAfterFinished: 60\n  activeDeadlineSeconds: 30\n")
    change = by_name(plan_for([changed], [running]))["job"]
    assert change.action is Action.UPDATE


def test_finished_self_deleted_rayjob_is_not_rerun():
    class History:
        def finished(self, ref, digest):
            return "Complete/SUCCEEDED at 2026-11-25T10:00:00Z" if digest == expected else None

    [m] = manifests(JOB)
    expected = spec_digest(desired_object(m, env()))
    change = by_name(plan_for([JOB], [], history=History()))["job"]
    assert change.action is Action.NOOP and change.reason.startswith("completed")
    rerun = by_name(plan_for([JOB.replace("run.py", "other.py")], [], history=History()))["job"]
    assert rerun.action is Action.CREATE


def test_raycluster_template_change_warns_that_pods_keep_old_template():
    change = by_name(plan_for([CLUSTER.replace('image: "ray:2.46.0"}]}}\n  workerGroupSpecs',
                                               'image: "ray:2.47.0"}]}}\n  workerGroupSpecs')], [live(CLUSTER)]))["rc"]
    assert change.action is Action.UPDATE
    assert any("running pods keep the old template" in w for w in change.warnings)


def test_autoscaler_replicas_are_not_drift_and_are_carried():
    scaled = live(CLUSTER)
    scaled["spec"]["workerGroupSpecs"][0]["replicas"] = 3
    change = by_name(plan_for([CLUSTER], [scaled]))["rc"]
    assert change.action is Action.NOOP
    edited = CLUSTER.replace("maxReplicas: 4", "maxReplicas: 6")
    change = by_name(plan_for([edited], [scaled]))["rc"]
    assert change.action is Action.UPDATE
    assert [d.path for d in change.diff] == ["/spec/workerGroupSpecs/0/maxReplicas"]
    body = apply_body(change, env())
    assert body["spec"]["workerGroupSpecs"][0]["replicas"] == 3
    assert body["spec"]["workerGroupSpecs"][0]["maxReplicas"] == 6


def test_prune_respects_environment_annotation_and_system_objects():
    stale = live(CM.replace("cfg", "stale"))
    keep = live(CM.replace("cfg", "keep"))
    keep["metadata"]["annotations"] = {"gitops-ray.io/prune": "disabled"}
    child = live(CLUSTER.replace("name: rc", "name: job-abcde"))
    child["metadata"]["ownerReferences"] = [{"kind": "RayJob", "name": "job", "uid": "x", "controller": True}]
    namespace = live(NS.replace("ray-dev", "ray-dev"))
    plan = plan_for([CM], [live(CM), stale, keep, child, namespace])
    changes = by_name(plan)
    assert changes["stale"].action is Action.DELETE
    assert changes["keep"].action is Action.NOOP
    assert "job-abcde" not in changes
    assert changes["ray-dev"].action is Action.NOOP and "not pruned" in changes["ray-dev"].reason
    no_prune = by_name(plan_for([CM], [live(CM), stale], prune=False))
    assert no_prune["stale"].action is Action.BLOCKED


def test_existing_object_without_our_labels_is_adopted_not_created():
    existing = live(CM)
    del existing["metadata"]["labels"]
    change = by_name(plan_for([CM], [], unowned=[existing]))["cfg"]
    assert change.action is Action.UPDATE and change.reason == "adopt existing object"


def test_rayjob_with_cluster_selector_runs_a_wave_after_its_cluster():
    selector_job = """apiVersion: ray.io/v1
kind: RayJob
metadata: {name: use-rc, namespace: ray-dev}
spec:
  entrypoint: python x.py
  clusterSelector: {ray.io/cluster: rc}
"""
    plan = plan_for([selector_job, CLUSTER])
    changes = by_name(plan)
    assert changes["use-rc"].wave == changes["rc"].wave + 1
    assert [c.ref.name for c in plan.changes] == ["rc", "use-rc"]


def test_rayservice_serve_config_change_is_in_place():
    svc = """apiVersion: ray.io/v1
kind: RayService
metadata: {name: svc, namespace: ray-dev}
spec:
  serveConfigV2: "applications: []"
  rayClusterConfig:
    headGroupSpec:
      template: {spec: {containers: [{name: head, image: "ray:2.46.0"}]}}
    workerGroupSpecs:
      - {groupName: a, maxReplicas: 2, template: {spec: {containers: [{name: w, image: "ray:2.46.0"}]}}}
"""
    current = live(svc)
    serve = by_name(plan_for([svc.replace("applications: []", "applications: [{name: x}]")], [current]))["svc"]
    assert "in-place Serve config update" in serve.reason
    bounds = by_name(plan_for([svc.replace("maxReplicas: 2", "maxReplicas: 5")], [current]))["svc"]
    assert "no effect" in bounds.reason
    image = by_name(plan_for([svc.replace('image: "ray:2.46.0"}]}}\n    workerGroupSpecs',
                                          'image: "ray:2.47.0"}]}}\n    workerGroupSpecs')], [current]))["svc"]
    assert "zero-downtime upgrade" in image.reason
    appended = svc + "      - {groupName: b, maxReplicas: 1, template: {spec: {containers: [{name: w, image: x}]}}}\n"
    assert "in-place cluster update" in by_name(plan_for([appended], [current]))["svc"].reason
    none = copy.copy(svc).replace("spec:\n  serveConfigV2", "spec:\n  upgradeStrategy: {type: None}\n  serveConfigV2")
    none_live = live(none)
    head = 'image: "ray:2.46.0"}]}}\n    workerGroupSpecs'
    changed = none.replace(head, head.replace("2.46.0", "2.47.0"))
    assert "upgradeStrategy None" in by_name(plan_for([changed], [none_live]))["svc"].reason


def test_objects_verified_at_the_same_resource_version_skip_the_comparison():
    environment = env()
    current = live(CM)
    current["data"] = {"a": "changed behind Git's back"}
    [m] = manifests(CM)
    from gitops_ray.engine.plan import in_sync_marks, manifest_digest

    digest = manifest_digest(m, environment)
    state = LiveState(owned={ObjectRef.from_object(current): current})
    stale = PlanOptions(environment=environment, verified={"uid-cfg": ("1", digest)})
    # The memo says uid-cfg was in sync at resourceVersion 1 for this manifest: trusted.
    assert build_plan([m], state, stale, impact_of=lambda b: Impact()).in_sync
    current["metadata"]["resourceVersion"] = "2"  # any write moves the resourceVersion
    fresh = build_plan([m], state, stale, impact_of=lambda b: Impact())
    assert by_name(fresh)["cfg"].action is Action.UPDATE
    other_manifest = PlanOptions(environment=environment, verified={"uid-cfg": ("2", "other-digest")})
    assert not build_plan([m], state, other_manifest, impact_of=lambda b: Impact()).in_sync
    current["data"] = {"a": "1"}
    marks = in_sync_marks(build_plan([m], state, PlanOptions(environment=environment), impact_of=lambda b: Impact()))
    assert marks == {"uid-cfg": ("2", digest)}
