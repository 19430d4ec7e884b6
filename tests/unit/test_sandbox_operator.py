"""The simulated KubeRay operator against a small in-memory API: RayCluster, autoscaler, RayCronJob, quantities.

`FakeClient` is a dict store with the semantics the operator relies on (status
only through update_status, resourceVersion conflicts, generation, finalizers
and deletionTimestamp, owner-reference garbage collection, CRD worker-group
defaults); every write is recorded with its field manager so the tests can
check *how* the operator writes, not only what. The RayJob and RayService
tests import it from here. The clock is injected: nothing sleeps.
"""

from __future__ import annotations

import copy
import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gitops_ray.sandbox._rayquantity import Quantity, pod_resources, sum_resources
from gitops_ray.sandbox.operator import AutoscalerError, OperatorTimings, SimulatedOperator

START = 1_700_000_000.0
RAND = re.compile(r"^[bcdfghjklmnpqrstvwxz2456789]{5}$")


class FakeStatusError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


@dataclass
class Write:
    verb: str  # create | update | update_status | delete
    plural: str
    name: str
    manager: str
    body: dict[str, Any]


class FakeClient:
    """The InternalClient calls, kept in a dict: enough API server for the operator's writes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, namespace, name)
        self.writes: list[Write] = []
        self._rv = itertools.count(1)
        self._uid = itertools.count(1)

    # -------------------------------------------------------------- reads
    def list(self, api_version: str, plural: str, namespace: str | None = None, *,
             label_selector: str | None = None) -> list[dict[str, Any]]:
        wanted = dict(part.split("=", 1) for part in label_selector.split(",")) if label_selector else {}
        found = []
        for (kind, ns, _), obj in sorted(self.objects.items()):
            labels = obj["metadata"].get("labels") or {}
            if kind == plural and namespace in (None, ns) and all(labels.get(k) == v for k, v in wanted.items()):
                found.append(copy.deepcopy(obj))
        return found

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        obj = self.objects.get((plural, namespace or "", name))
        return copy.deepcopy(obj) if obj is not None else None

    # -------------------------------------------------------------- writes
    def create(self, api_version: str, plural: str, namespace: str | None, body: dict[str, Any], *,
               field_manager: str) -> dict[str, Any]:
        meta = body.setdefault("metadata", {})
        key = (plural, namespace or "", meta["name"])
        if key in self.objects:
            raise FakeStatusError(409, "AlreadyExists", f'{plural} "{meta["name"]}" already exists')
        obj = copy.deepcopy(body)
        obj["metadata"].update(namespace=namespace, uid=f"uid-{next(self._uid)}", resourceVersion=str(next(self._rv)),
                               creationTimestamp="2023-11-14T22:13:20Z")
        if api_version.startswith("ray.io/"):
            obj["metadata"]["generation"] = 1
            obj.pop("status", None)
            _crd_defaults(plural, obj)
        self.objects[key] = obj
        self.writes.append(Write("create", plural, meta["name"], field_manager, copy.deepcopy(obj)))
        return copy.deepcopy(obj)

    def _current(self, plural: str, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        key = (plural, namespace or "", body["metadata"]["name"])
        live = self.objects.get(key)
        if live is None:
            raise FakeStatusError(404, "NotFound", f'{plural} "{body["metadata"]["name"]}" not found')
        if body["metadata"].get("resourceVersion") != live["metadata"]["resourceVersion"]:
            raise FakeStatusError(409, "Conflict", "the object has been modified")
        return live

    def update(self, api_version: str, plural: str, namespace: str | None, body: dict[str, Any], *,
               field_manager: str) -> dict[str, Any]:
        live = self._current(plural, namespace, body)
        new = copy.deepcopy(body)
        new["metadata"].update({k: live["metadata"][k] for k in ("uid", "creationTimestamp", "namespace")})
        for key in ("deletionTimestamp", "generation"):
            if key in live["metadata"]:
                new["metadata"][key] = live["metadata"][key]
        if "status" in live:
            new["status"] = live["status"]
        else:
            new.pop("status", None)
        if api_version.startswith("ray.io/"):
            _crd_defaults(plural, new)
            if new.get("spec") != live.get("spec"):
                new["metadata"]["generation"] = live["metadata"].get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        self.writes.append(Write("update", plural, body["metadata"]["name"], field_manager, copy.deepcopy(new)))
        self.objects[(plural, namespace or "", new["metadata"]["name"])] = new
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self._remove(plural, namespace or "", new["metadata"]["name"])
        return copy.deepcopy(new)

    def update_status(self, api_version: str, plural: str, namespace: str | None, body: dict[str, Any], *,
                      field_manager: str) -> dict[str, Any]:
        live = self._current(plural, namespace, body)
        live["status"] = copy.deepcopy(body.get("status"))
        live["metadata"]["resourceVersion"] = str(next(self._rv))
        self.writes.append(Write("update_status", plural, body["metadata"]["name"], field_manager,
                                 copy.deepcopy(live)))
        return copy.deepcopy(live)

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str, *,
               propagation: str = "Background") -> None:
        key = (plural, namespace or "", name)
        live = self.objects.get(key)
        if live is None:
            raise FakeStatusError(404, "NotFound", f'{plural} "{name}" not found')
        self.writes.append(Write("delete", plural, name, "", {}))
        if live["metadata"].get("finalizers"):
            live["metadata"].setdefault("deletionTimestamp", "2023-11-14T22:20:00Z")
            live["metadata"]["resourceVersion"] = str(next(self._rv))
        else:
            self._remove(*key)

    def _remove(self, plural: str, namespace: str, name: str) -> None:
        """Delete, then garbage-collect dependents (background propagation), honouring their finalizers."""
        uid = self.objects.pop((plural, namespace, name))["metadata"]["uid"]
        for key, obj in list(self.objects.items()):
            if key in self.objects and any(o.get("uid") == uid for o in obj["metadata"].get("ownerReferences") or ()):
                if obj["metadata"].get("finalizers"):
                    obj["metadata"].setdefault("deletionTimestamp", "2023-11-14T22:20:00Z")
                else:
                    self._remove(*key)

    # -------------------------------------------------------------- test helpers
    def ray(self, plural: str, name: str, namespace: str = "default") -> dict[str, Any]:
        obj = self.get("ray.io/v1", plural, namespace, name)
        assert obj is not None, f"{plural}/{name} does not exist"
        return obj

    def edit(self, plural: str, name: str, change: Any, namespace: str = "default") -> None:
        """A user edit: an Update with a fresh resourceVersion, as kubectl edit would do."""
        obj = self.ray(plural, name, namespace) if plural.startswith("ray") else self.get("v1", plural, namespace, name)
        assert obj is not None
        change(obj)
        self.update("ray.io/v1", plural, namespace, obj, field_manager="kubectl-edit")

    def writes_by(self, manager: str, verb: str | None = None, plural: str | None = None) -> list[Write]:
        return [w for w in self.writes if w.manager == manager and verb in (None, w.verb)
                and plural in (None, w.plural)]


def _crd_defaults(plural: str, obj: dict[str, Any]) -> None:
    """The CRD defaults the API server would apply (kuberay-facts.md §1.3), for the fields the operator reads."""
    specs = []
    spec = obj.get("spec") or {}
    if plural == "rayclusters":
        specs.append(spec)
    elif plural == "rayjobs":
        spec.setdefault("submissionMode", "K8sJobMode")
        spec.setdefault("backoffLimit", 0)
        spec.setdefault("ttlSecondsAfterFinished", 0)
        specs.append(spec.get("rayClusterSpec") or {})
    elif plural == "rayservices":
        specs.append(spec.get("rayClusterConfig") or {})
    for cluster_spec in specs:
        for group in cluster_spec.get("workerGroupSpecs") or ():
            group.setdefault("replicas", 0)
            group.setdefault("minReplicas", 0)
            group.setdefault("maxReplicas", 2147483647)
            group.setdefault("numOfHosts", 1)


class Clock:
    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Sim:
    client: FakeClient
    clock: Clock
    op: SimulatedOperator

    def step(self, seconds: float = 0.0) -> None:
        self.clock.now += seconds
        self.op.reconcile_once()

    def run(self, seconds: float, tick: float = 0.1) -> None:
        for _ in range(round(seconds / tick)):
            self.step(tick)

    def until(self, predicate: Any, limit: float = 30.0, tick: float = 0.1) -> None:
        waited = 0.0
        while not predicate():
            assert waited < limit, "condition not reached"
            self.step(tick)
            waited += tick


def make_sim(**kwargs: Any) -> Sim:
    client, clock = FakeClient(), Clock()
    kwargs.setdefault("timings", OperatorTimings(autoscaler_scale_up_after=None))
    op = SimulatedOperator(client, now=clock, rng=random.Random(7), **kwargs)
    return Sim(client, clock, op)


@pytest.fixture
def sim() -> Iterator[Sim]:
    world = make_sim()
    yield world
    assert not world.op.errors, list(world.op.errors)


def container(name: str, cpu: str = "1", memory: str = "2Gi", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "rayproject/ray:2.46.0",
            "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}},
            **extra}


def cluster_spec(replicas: int = 2, *, low: int = 0, high: int = 5, hosts: int = 1, **extra: Any) -> dict[str, Any]:
    return {"rayVersion": "2.46.0",
            "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [container("ray-head")]}}},
            "workerGroupSpecs": [{"groupName": "small", "replicas": replicas, "minReplicas": low, "maxReplicas": high,
                                  "numOfHosts": hosts, "rayStartParams": {},
                                  "template": {"spec": {"containers": [container("ray-worker", "500m", "1Gi")]}}}],
            **extra}


def create_cluster(sim: Sim, name: str = "demo", **spec: Any) -> dict[str, Any]:
    return sim.client.create("ray.io/v1", "rayclusters", "default", {
        "apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": name}, "spec": cluster_spec(**spec)},
        field_manager="gitops-ray")


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or ()}


# ====================================================================== RayCluster


def test_raycluster_reaches_ready_with_head_and_provisioned_conditions(sim: Sim) -> None:
    create_cluster(sim)
    sim.step()
    status = sim.client.ray("rayclusters", "demo")["status"]
    assert "state" not in status
    head = conditions(sim.client.ray("rayclusters", "demo"))["HeadPodReady"]
    assert (head["status"], head["reason"]) == ("False", "ContainerCreating")
    assert conditions(sim.client.ray("rayclusters", "demo"))["RayClusterProvisioned"]["reason"] == \
        "RayClusterPodsProvisioning"
    sim.run(0.6)
    cluster = sim.client.ray("rayclusters", "demo")
    status, conds = cluster["status"], conditions(cluster)
    assert status["state"] == "ready"
    assert (conds["HeadPodReady"]["status"], conds["HeadPodReady"]["reason"]) == ("True", "HeadPodRunningAndReady")
    assert (conds["RayClusterProvisioned"]["status"], conds["RayClusterProvisioned"]["reason"]) == (
        "True", "AllPodRunningAndReadyFirstTime")
    assert conds["RayClusterSuspended"]["status"] == conds["RayClusterSuspending"]["status"] == "False"
    assert (status["desiredWorkerReplicas"], status["readyWorkerReplicas"], status["availableWorkerReplicas"]) == \
        (2, 2, 2)
    assert ("minWorkerReplicas" not in status, status["maxWorkerReplicas"]) == (True, 5)  # Go omitempty
    assert (status["desiredCPU"], status["desiredMemory"], status["desiredGPU"]) == ("2", "4Gi", "0")
    assert status["head"]["serviceName"] == "demo-head-svc"
    assert status["head"]["podName"].startswith("demo-head-") and RAND.match(status["head"]["podName"][-5:])
    assert status["endpoints"]["dashboard"] == "8265"
    assert "ready" in status["stateTransitionTimes"]


def test_raycluster_desired_workers_are_clamped_and_multiplied_by_hosts(sim: Sim) -> None:
    create_cluster(sim, "big", replicas=9, low=1, high=3, hosts=2)
    create_cluster(sim, "tiny", replicas=0, low=2, high=4)
    sim.run(1.0)
    assert sim.client.ray("rayclusters", "big")["status"]["desiredWorkerReplicas"] == 6
    assert sim.client.ray("rayclusters", "big")["status"]["maxWorkerReplicas"] == 6
    assert sim.client.ray("rayclusters", "tiny")["status"]["desiredWorkerReplicas"] == 2
    # desired resources use the unclamped replicas, like CalculateDesiredResources
    assert sim.client.ray("rayclusters", "big")["status"]["desiredCPU"] == "10"
    # multi-host groups get the headless worker Service
    assert sim.client.get("v1", "services", "default", "big-headless") is not None
    assert sim.client.get("v1", "services", "default", "tiny-headless") is None


def test_raycluster_head_service_is_created_once_with_owner_and_labels_and_never_updated(sim: Sim) -> None:
    create_cluster(sim)
    sim.run(0.3)
    svc = sim.client.get("v1", "services", "default", "demo-head-svc")
    assert svc is not None
    assert svc["spec"]["clusterIP"] == "None"
    assert [p["name"] for p in svc["spec"]["ports"]] == ["client", "dashboard", "gcs-server", "metrics", "serve"]
    assert svc["metadata"]["labels"]["ray.io/cluster"] == "demo"
    assert svc["metadata"]["labels"]["ray.io/node-type"] == "head"
    owner = svc["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"], owner["blockOwnerDeletion"]) == (
        "RayCluster", "demo", True, True)
    sim.client.edit("rayclusters", "demo", lambda o: o["spec"]["headGroupSpec"].update(serviceType="NodePort"))
    sim.run(0.3)
    assert sim.client.get("v1", "services", "default", "demo-head-svc") == svc
    assert [w for w in sim.client.writes if w.plural == "services" and w.verb != "create"] == []


def test_raycluster_ready_state_is_sticky_when_workers_are_added(sim: Sim) -> None:
    create_cluster(sim)
    sim.run(1.0)
    sim.client.edit("rayclusters", "demo", lambda o: o["spec"]["workerGroupSpecs"][0].update(replicas=4))
    sim.step(0.1)
    status = sim.client.ray("rayclusters", "demo")["status"]
    assert status["state"] == "ready"
    assert (status["desiredWorkerReplicas"], status["readyWorkerReplicas"]) == (4, 2)
    assert conditions(sim.client.ray("rayclusters", "demo"))["RayClusterProvisioned"]["status"] == "True"
    sim.run(0.6)
    assert sim.client.ray("rayclusters", "demo")["status"]["readyWorkerReplicas"] == 4


def test_raycluster_status_goes_through_the_status_subresource_as_kuberay_operator(sim: Sim) -> None:
    create_cluster(sim)
    sim.run(1.0)
    own = [w for w in sim.client.writes if w.plural == "rayclusters" and w.manager != "gitops-ray"]
    assert own and {(w.verb, w.manager) for w in own} == {("update_status", "kuberay-operator")}
    services = [w for w in sim.client.writes if w.plural == "services"]
    assert {(w.verb, w.manager) for w in services} == {("create", "kuberay-operator")}


def test_raycluster_observed_generation_lags_when_only_the_spec_changes(sim: Sim) -> None:
    create_cluster(sim)
    sim.run(1.0)
    writes = len(sim.client.writes_by("kuberay-operator", "update_status"))
    sim.client.edit("rayclusters", "demo", lambda o: o["spec"]["workerGroupSpecs"][0]["template"]["spec"][
        "containers"][0].update(image="rayproject/ray:2.47.0"))
    sim.run(0.5)
    cluster = sim.client.ray("rayclusters", "demo")
    assert cluster["metadata"]["generation"] == 2
    assert cluster["status"]["observedGeneration"] == 1  # kuberay-facts.md §4.5: written only with other changes
    assert len(sim.client.writes_by("kuberay-operator", "update_status")) == writes


def test_raycluster_suspend_deletes_pods_then_reports_suspended_and_resumes(sim: Sim) -> None:
    create_cluster(sim)
    sim.run(1.0)
    sim.client.edit("rayclusters", "demo", lambda o: o["spec"].update(suspend=True))
    sim.step(0.1)
    assert conditions(sim.client.ray("rayclusters", "demo"))["RayClusterSuspending"]["status"] == "True"
    sim.step(0.1)
    cluster = sim.client.ray("rayclusters", "demo")
    conds = conditions(cluster)
    assert cluster["status"]["state"] == "suspended"
    assert (conds["RayClusterSuspended"]["status"], conds["RayClusterSuspending"]["status"]) == ("True", "False")
    assert conds["HeadPodReady"]["reason"] == "HeadPodNotFound"
    assert (conds["RayClusterProvisioned"]["status"], conds["RayClusterProvisioned"]["message"]) == (
        "False", "RayCluster has been suspended")
    sim.client.edit("rayclusters", "demo", lambda o: o["spec"].update(suspend=False))
    sim.run(1.0)
    cluster = sim.client.ray("rayclusters", "demo")
    assert conditions(cluster)["RayClusterSuspended"]["status"] == "False"
    assert conditions(cluster)["RayClusterProvisioned"]["status"] == "True"
    assert cluster["status"]["state"] == "ready"


def test_invalid_raycluster_gets_no_status_at_all(sim: Sim) -> None:
    create_cluster(sim, "broken", low=4, high=2)
    sim.run(1.0)
    assert "status" not in sim.client.ray("rayclusters", "broken")
    assert sim.client.get("v1", "services", "default", "broken-head-svc") is None


def test_raycluster_managed_by_multikueue_is_left_alone(sim: Sim) -> None:
    create_cluster(sim, "queued", managedBy="kueue.x-k8s.io/multikueue")
    sim.run(1.0)
    assert "status" not in sim.client.ray("rayclusters", "queued")


def test_gcs_ft_cluster_gets_the_redis_cleanup_finalizer_and_loses_it_on_delete(sim: Sim) -> None:
    create_cluster(sim, "ft", gcsFaultToleranceOptions={"redisAddress": "redis:6379"})
    sim.client.edit("rayclusters", "ft", lambda o: [g.pop("rayStartParams") for g in o["spec"]["workerGroupSpecs"]])
    sim.step()
    cluster = sim.client.ray("rayclusters", "ft")
    assert cluster["metadata"]["finalizers"] == ["ray.io/gcs-ft-redis-cleanup-finalizer"]
    assert cluster["spec"]["workerGroupSpecs"][0]["rayStartParams"] == {}  # setDefaults persisted by the Update
    assert sim.client.writes_by("kuberay-operator", "update", "rayclusters")
    sim.run(1.0)
    sim.client.delete("ray.io/v1", "rayclusters", "default", "ft")
    sim.step(0.1)
    assert sim.client.get("ray.io/v1", "rayclusters", "default", "ft") is not None
    sim.run(0.3)
    assert sim.client.get("ray.io/v1", "rayclusters", "default", "ft") is None
    assert sim.client.get("v1", "services", "default", "ft-head-svc") is None


# ====================================================================== autoscaler


def test_autoscaler_adds_one_worker_per_group_once_as_ray_autoscaler() -> None:
    sim = make_sim(timings=OperatorTimings(autoscaler_scale_up_after=0.2))
    create_cluster(sim, "auto", replicas=1, high=2, enableInTreeAutoscaling=True)
    sim.run(0.6)
    assert sim.client.ray("rayclusters", "auto")["spec"]["workerGroupSpecs"][0]["replicas"] == 1
    sim.run(0.5)
    writes = sim.client.writes_by("ray-autoscaler")
    assert [(w.verb, w.plural) for w in writes] == [("update", "rayclusters")]
    assert sim.client.ray("rayclusters", "auto")["spec"]["workerGroupSpecs"][0]["replicas"] == 2
    sim.run(2.0)
    assert len(sim.client.writes_by("ray-autoscaler")) == 1  # bounded by maxReplicas and only once
    assert sim.client.ray("rayclusters", "auto")["status"]["readyWorkerReplicas"] == 2
    assert not sim.op.errors


def test_autoscaler_leaves_clusters_without_in_tree_autoscaling_alone() -> None:
    sim = make_sim(timings=OperatorTimings(autoscaler_scale_up_after=0.0))
    create_cluster(sim, "fixed", replicas=1)
    sim.run(2.0)
    assert sim.client.writes_by("ray-autoscaler") == []


def test_autoscale_down_names_the_workers_to_delete_and_the_operator_deletes_only_those(sim: Sim) -> None:
    create_cluster(sim, "auto", replicas=3, enableInTreeAutoscaling=True)
    sim.run(1.0)
    before = {p.name for p in sim.op.env.world.find("default", "auto").worker_pods()}  # type: ignore[union-attr]
    updated = sim.op.autoscale("default", "auto", "small", 1)
    group = updated["spec"]["workerGroupSpecs"][0]
    assert group["replicas"] == 1
    doomed = group["scaleStrategy"]["workersToDelete"]
    assert len(doomed) == 2 and set(doomed) <= before
    sim.step(0.1)
    after = {p.name for p in sim.op.env.world.find("default", "auto").worker_pods()}  # type: ignore[union-attr]
    assert after == before - set(doomed)
    assert sim.client.ray("rayclusters", "auto")["status"]["readyWorkerReplicas"] == 1
    assert sim.client.writes_by("ray-autoscaler", "update", "rayclusters")


def test_autoscaled_down_without_workers_to_delete_keeps_extra_pods() -> None:
    sim = make_sim()
    create_cluster(sim, "auto", replicas=3, enableInTreeAutoscaling=True)
    sim.run(1.0)
    sim.client.edit("rayclusters", "auto", lambda o: o["spec"]["workerGroupSpecs"][0].update(replicas=1))
    sim.run(0.5)
    # with autoscaling on, only workersToDelete removes pods (random deletion is off)
    assert len(sim.op.env.world.find("default", "auto").worker_pods()) == 3  # type: ignore[union-attr]


def test_autoscale_rejects_an_unknown_group(sim: Sim) -> None:
    create_cluster(sim)
    with pytest.raises(AutoscalerError, match="no worker group 'gpu'"):
        sim.op.autoscale("default", "demo", "gpu", 3)


# ====================================================================== RayCronJob


def _cron(sim: Sim) -> None:
    sim.client.create("ray.io/v1", "raycronjobs", "default", {
        "apiVersion": "ray.io/v1", "kind": "RayCronJob", "metadata": {"name": "nightly"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {
            "entrypoint": "python job.py", "shutdownAfterJobFinishes": True, "rayClusterSpec": cluster_spec()}}},
        field_manager="gitops-ray")


def test_raycronjob_is_inert_without_its_feature_gate(sim: Sim) -> None:
    _cron(sim)
    sim.step(600)
    assert sim.client.list("ray.io/v1", "rayjobs") == []
    assert "status" not in sim.client.ray("raycronjobs", "nightly")


def test_raycronjob_with_its_gate_creates_one_rayjob_per_tick_named_by_the_minute() -> None:
    sim = make_sim(feature_gates={"RayCronJob": True})
    _cron(sim)
    sim.clock.now = 1_700_000_699.0  # created 22:13:20; ticks 22:15 and 22:20 are due, 22:25 is not yet
    sim.step()
    jobs = sim.client.list("ray.io/v1", "rayjobs")
    assert [j["metadata"]["name"] for j in jobs] == [f"nightly-{1_700_000_100 // 60}"]
    job = jobs[0]
    assert job["metadata"]["labels"] == {"ray.io/cronjob-name": "nightly"}
    assert job["metadata"]["annotations"]["ray.io/cronjob-scheduled-timestamp"] == "2023-11-14T22:15:00Z"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "RayCronJob"
    assert sim.client.ray("raycronjobs", "nightly")["status"]["lastScheduleTime"] == "2023-11-14T22:15:00Z"
    sim.step()
    sim.step()
    names = {j["metadata"]["name"] for j in sim.client.list("ray.io/v1", "rayjobs")}
    assert names == {f"nightly-{m}" for m in (28333335, 28333340)}  # caught up one tick per pass, 22:25 not due


# ====================================================================== quantities


@pytest.mark.parametrize(("values", "expected"), [
    (["1", "500m"], "1500m"),
    (["1Gi", "512Mi"], "1536Mi"),
    (["1G", "1G"], "2G"),
    (["2000"], "2k"),
    (["100Mi", "1000"], "104858600"),
    ([1, "250m"], "1250m"),
    (["0"], "0"),
    (["1e3"], "1e3"),
])
def test_quantities_add_up_and_print_like_kubernetes(values: list[Any], expected: str) -> None:
    total = Quantity()
    for value in values:
        parsed = Quantity.parse(value)
        assert parsed is not None
        total = total.add(parsed)
    assert str(total) == expected


def test_pod_resources_prefer_requests_and_fall_back_to_limits() -> None:
    pod = {"containers": [{"resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2", "memory": "1Gi"}}},
                          {"resources": {"limits": {"nvidia.com/gpu": 1}}}]}
    resources = sum_resources([pod_resources(pod), pod_resources(pod)])
    assert {k: str(v) for k, v in resources.items()} == {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "2"}


def _head_pod(sim: Sim, name: str) -> str:
    return str(sim.client.ray("rayclusters", name)["status"]["head"].get("podName", ""))


def test_pod_template_changes_reach_running_pods_only_with_the_recreate_upgrade_strategy(sim: Sim) -> None:
    create_cluster(sim, "plain")
    create_cluster(sim, "recreate", upgradeStrategy={"type": "Recreate"})
    sim.run(1.0)
    before = {name: _head_pod(sim, name) for name in ("plain", "recreate")}
    for name in before:
        sim.client.edit("rayclusters", name, lambda o: o["spec"]["headGroupSpec"]["template"]["spec"][
            "containers"][0].update(image="rayproject/ray:2.47.0"))
    sim.step(0.1)
    sim.step(0.1)
    assert _head_pod(sim, "plain") == before["plain"]
    assert _head_pod(sim, "recreate") not in ("", before["recreate"])
    assert conditions(sim.client.ray("rayclusters", "recreate"))["HeadPodReady"]["status"] == "False"
    assert sim.client.ray("rayclusters", "recreate")["status"]["state"] == "ready"  # sticky
    sim.run(1.0)
    assert conditions(sim.client.ray("rayclusters", "recreate"))["HeadPodReady"]["status"] == "True"


def test_upgrade_strategy_on_a_rayjob_cluster_is_refused_by_the_raycluster_controller(sim: Sim) -> None:
    sim.client.create("ray.io/v1", "rayclusters", "default", {
        "apiVersion": "ray.io/v1", "kind": "RayCluster",
        "metadata": {"name": "child", "labels": {"ray.io/originated-from-crd": "RayJob"}},
        "spec": cluster_spec(upgradeStrategy={"type": "Recreate"})}, field_manager="kuberay-operator")
    sim.run(0.5)
    assert "status" not in sim.client.ray("rayclusters", "child")
