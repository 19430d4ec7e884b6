"""The real kubectl against the sandbox: get (Table and YAML), apply (client-side and
server-side), diff, patch/replace then a conflicting server-side apply and its force,
delete --wait, label selectors, wait --for."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.kubectl

RAYCLUSTER = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: {name}
  labels: {{app: demo}}
spec:
  headGroupSpec:
    rayStartParams: {{}}
    template:
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:2.9.0
  workerGroupSpecs:
  - groupName: small
    replicas: {replicas}
    minReplicas: 0
    maxReplicas: 5
    rayStartParams: {{}}
    template:
      spec:
        containers:
        - name: ray-worker
          image: rayproject/ray:2.9.0
"""


@pytest.fixture
def ns(kubectl: Any) -> str:
    name = f"k-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    return name


def _cm(name: str, **data: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name, "labels": {"app": "demo"}}, "data": data})


def test_get_namespaces_prints_the_server_table(kubectl: Any) -> None:
    out = kubectl("get", "ns").stdout.splitlines()
    assert out[0].split() == ["NAME", "STATUS", "AGE"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert rows["kube-system"][1] == "Active"
    assert rows["default"][2].endswith(("s", "m", "h", "d"))


def test_client_side_apply_creates_then_configures_then_is_unchanged(kubectl: Any, ns: str) -> None:
    assert "configmap/settings created" in kubectl("apply", "-n", ns, "-f", "-", input=_cm("settings", a="1")).stdout
    changed = kubectl("apply", "-n", ns, "-f", "-", input=_cm("settings", a="2", b="3")).stdout
    assert "configmap/settings configured" in changed
    same = kubectl("apply", "-n", ns, "-f", "-", input=_cm("settings", a="2", b="3")).stdout
    assert "configmap/settings unchanged" in same
    live = yaml.safe_load(kubectl("get", "-n", ns, "cm", "settings", "-o", "yaml").stdout)
    assert live["data"] == {"a": "2", "b": "3"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in live["metadata"]["annotations"]
    dropped = kubectl("apply", "-n", ns, "-f", "-", input=_cm("settings", a="2")).stdout
    assert "configured" in dropped
    assert yaml.safe_load(kubectl("get", "-n", ns, "cm", "settings", "-o", "yaml").stdout)["data"] == {"a": "2"}


def test_client_side_apply_of_a_custom_resource_uses_merge_patch(kubectl: Any, ns: str) -> None:
    kubectl("apply", "-n", ns, "-f", "-", input=RAYCLUSTER.format(name="csa", replicas=1))
    out = kubectl("apply", "-n", ns, "-f", "-", input=RAYCLUSTER.format(name="csa", replicas=2)).stdout
    assert "raycluster.ray.io/csa configured" in out
    live = yaml.safe_load(kubectl("get", "-n", ns, "raycluster", "csa", "-o", "yaml").stdout)
    assert live["spec"]["workerGroupSpecs"][0]["replicas"] == 2
    assert live["metadata"]["generation"] == 2


def test_server_side_apply_and_yaml_read_back(kubectl: Any, ns: str) -> None:
    out = kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=RAYCLUSTER.format(name="ssa", replicas=1))
    assert "raycluster.ray.io/ssa serverside-applied" in out.stdout
    live = yaml.safe_load(kubectl("get", "-n", ns, "raycluster", "ssa", "-o", "yaml", "--show-managed-fields").stdout)
    managers = {(e["manager"], e["operation"]) for e in live["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    assert live["spec"]["workerGroupSpecs"][0]["maxReplicas"] == 5
    assert live["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["name"] == "ray-head"


def test_get_custom_resources_shows_printer_columns(kubectl: Any, ns: str) -> None:
    kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=RAYCLUSTER.format(name="cols", replicas=1))
    kubectl("patch", "-n", ns, "raycluster", "cols", "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"state": "ready", "desiredWorkerReplicas": 1, "availableWorkerReplicas": 1,
                                   "desiredCPU": "2", "desiredMemory": "4G", "desiredGPU": "0",
                                   "desiredTPU": "0", "head": {"podIP": "10.1.2.3"}}}))
    lines = kubectl("get", "-n", ns, "rayclusters").stdout.splitlines()
    assert lines[0].split("  ")[0:1] == ["NAME"]
    header = [h.strip() for h in lines[0].split("   ") if h.strip()]
    assert header == ["NAME", "DESIRED WORKERS", "AVAILABLE WORKERS", "CPUS", "MEMORY", "GPUS", "STATUS", "AGE"]
    assert lines[1].split()[:7] == ["cols", "1", "1", "2", "4G", "0", "ready"]
    wide = kubectl("get", "-n", ns, "rayclusters", "-o", "wide").stdout.splitlines()
    assert "HEAD POD IP" in wide[0] and "10.1.2.3" in wide[1]


def test_diff_reports_changes_and_nothing_when_in_sync(kubectl: Any, ns: str) -> None:
    kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=RAYCLUSTER.format(name="diff", replicas=1))
    same = kubectl("diff", "--server-side", "-n", ns, "-f", "-", input=RAYCLUSTER.format(name="diff", replicas=1),
                   check=False)
    assert same.returncode == 0, same.stderr
    changed = kubectl("diff", "--server-side", "-n", ns, "-f", "-",
                      input=RAYCLUSTER.format(name="diff", replicas=3), check=False)
    assert changed.returncode == 1, changed.stderr
    assert "-    replicas: 1" in changed.stdout and "+    replicas: 3" in changed.stdout
    client_side = kubectl("diff", "-n", ns, "-f", "-", input=_cm("absent", a="1"), check=False)
    assert client_side.returncode == 1 and "+  a: \"1\"" in client_side.stdout
    live = yaml.safe_load(kubectl("get", "-n", ns, "raycluster", "diff", "-o", "yaml").stdout)
    assert live["spec"]["workerGroupSpecs"][0]["replicas"] == 1, "diff must not change anything"


def test_edit_then_conflicting_server_side_apply_then_force(kubectl: Any, ns: str) -> None:
    kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=_cm("owned", mode="a"))
    kubectl("patch", "-n", ns, "cm", "owned", "--type=merge", "-p", '{"data":{"mode":"b"}}',
            "--field-manager=kubectl-edit")
    conflict = kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=_cm("owned", mode="a"), check=False)
    assert conflict.returncode != 0
    assert 'conflict with "kubectl-edit"' in conflict.stderr and ".data.mode" in conflict.stderr
    forced = kubectl("apply", "--server-side", "--force-conflicts", "-n", ns, "-f", "-", input=_cm("owned", mode="a"))
    assert "serverside-applied" in forced.stdout
    assert yaml.safe_load(kubectl("get", "-n", ns, "cm", "owned", "-o", "yaml").stdout)["data"]["mode"] == "a"


def test_replace_updates_the_object(kubectl: Any, ns: str) -> None:
    kubectl("apply", "-n", ns, "-f", "-", input=_cm("rep", a="1"))
    live = yaml.safe_load(kubectl("get", "-n", ns, "cm", "rep", "-o", "yaml").stdout)
    live["data"] = {"a": "replaced"}
    assert "configmap/rep replaced" in kubectl("replace", "-f", "-", input=yaml.safe_dump(live)).stdout
    stale = kubectl("replace", "-f", "-", input=yaml.safe_dump(live), check=False)
    assert stale.returncode != 0 and "the object has been modified" in stale.stderr


def test_label_selectors(kubectl: Any, ns: str) -> None:
    for name, app in (("l1", "blue"), ("l2", "green")):
        kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": app}}}))
    out = kubectl("get", "-n", ns, "cm", "-l", "app=blue", "-o", "name").stdout.split()
    assert out == ["configmap/l1"]
    out = kubectl("get", "-n", ns, "cm", "-l", "app in (blue,green)", "-o", "name").stdout.split()
    assert out == ["configmap/l1", "configmap/l2"]


def test_delete_wait_returns_once_the_object_is_gone(kubectl: Any, ns: str) -> None:
    kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=RAYCLUSTER.format(name="gone", replicas=1))
    out = kubectl("delete", "-n", ns, "raycluster", "gone", "--wait=true", "--timeout=20s")
    assert 'raycluster.ray.io "gone" deleted' in out.stdout
    missing = kubectl("get", "-n", ns, "raycluster", "gone", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_delete_wait_blocks_on_a_finalizer(kubectl: Any, ns: str) -> None:
    kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fin", "finalizers": ["example.com/x"]}}))

    def release() -> None:
        time.sleep(1.0)
        kubectl("patch", "-n", ns, "cm", "fin", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')

    thread = threading.Thread(target=release)
    thread.start()
    started = time.monotonic()
    kubectl("delete", "-n", ns, "cm", "fin", "--wait=true", "--timeout=20s")
    thread.join()
    assert time.monotonic() - started >= 0.9


def test_wait_for_jsonpath_and_condition(kubectl: Any, ns: str) -> None:
    kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=RAYCLUSTER.format(name="waiter", replicas=1))

    def become_ready() -> None:
        time.sleep(1.0)
        kubectl("patch", "-n", ns, "raycluster", "waiter", "--subresource=status", "--type=merge", "-p",
                json.dumps({"status": {"state": "ready", "conditions": [
                    {"type": "HeadPodReady", "status": "True", "reason": "HeadPodRunningAndReady", "message": "",
                     "lastTransitionTime": "2025-01-01T00:00:00Z"}]}}))

    thread = threading.Thread(target=become_ready)
    thread.start()
    out = kubectl("wait", "-n", ns, "raycluster/waiter", "--for=jsonpath={.status.state}=ready", "--timeout=20s")
    thread.join()
    assert "condition met" in out.stdout
    cond = kubectl("wait", "-n", ns, "raycluster/waiter", "--for=condition=HeadPodReady", "--timeout=10s")
    assert "condition met" in cond.stdout
    crd = kubectl("wait", "--for=condition=established", "crd/rayclusters.ray.io", "--timeout=10s")
    assert "condition met" in crd.stdout


def test_wait_times_out_when_nothing_happens(kubectl: Any, ns: str) -> None:
    kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=RAYCLUSTER.format(name="never", replicas=1))
    result = kubectl("wait", "-n", ns, "raycluster/never", "--for=jsonpath={.status.state}=ready", "--timeout=2s",
                     check=False)
    assert result.returncode != 0 and "timed out" in result.stderr


def test_typed_create_commands_send_protobuf_the_server_decodes(kubectl: Any) -> None:
    name = f"pb-{uuid.uuid4().hex[:8]}"
    assert f"namespace/{name} created" in kubectl("create", "namespace", name).stdout
    kubectl("create", "configmap", "c", "-n", name, "--from-literal=a=b")
    kubectl("create", "secret", "generic", "s", "-n", name, "--from-literal=pw=hunter2")
    kubectl("create", "serviceaccount", "robot", "-n", name)
    config = json.loads(kubectl("get", "cm", "c", "-n", name, "-o", "json").stdout)
    assert config["data"] == {"a": "b"}
    secret = json.loads(kubectl("get", "secret", "s", "-n", name, "-o", "json").stdout)
    assert secret["type"] == "Opaque" and secret["data"] == {"pw": "aHVudGVyMg=="}
    assert kubectl("get", "sa", "robot", "-n", name, "-o", "name").stdout.strip() == "serviceaccount/robot"
    unsupported = kubectl("create", "priorityclass", "pc", "--value=5", check=False)
    assert unsupported.returncode != 0 and "unknown format" in unsupported.stderr


def test_get_watch_prints_server_columns_for_events(kubectl: Any, ns: str) -> None:
    def later() -> None:
        time.sleep(1.0)
        kubectl("apply", "-n", ns, "-f", "-", input=_cm("watched", a="1", b="2"))

    thread = threading.Thread(target=later)
    thread.start()
    out = kubectl("get", "-n", ns, "cm", "-w", "--request-timeout=3s").stdout.splitlines()
    thread.join()
    assert out[0].split() == ["NAME", "DATA", "AGE"]
    assert any(line.split()[:2] == ["watched", "2"] for line in out[1:]), out


def test_kubectl_edit_takes_ownership_and_a_later_apply_conflicts(kubectl: Any, ns: str) -> None:
    kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=_cm("edited", mode="a"))
    edit = kubectl("edit", "-n", ns, "cm", "edited", env={"KUBE_EDITOR": "sed -i -e s/mode:\\ a/mode:\\ b/"})
    assert "configmap/edited edited" in edit.stdout
    live = json.loads(kubectl("get", "-n", ns, "cm", "edited", "-o", "json", "--show-managed-fields").stdout)
    assert live["data"]["mode"] == "b"
    assert "kubectl-edit" in {e["manager"] for e in live["metadata"]["managedFields"]}
    conflict = kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=_cm("edited", mode="a"), check=False)
    assert conflict.returncode != 0 and 'conflict with "kubectl-edit"' in conflict.stderr
