"""Environment policy: the namespace rule and the cluster-scoped allow-list."""

from __future__ import annotations

from gitops_ray.checks.policy import check_namespace
from gitops_ray.environment import ClusterScopedRule
from gitops_ray.manifests import Manifest, load_text


def _manifest(text: str) -> Manifest:
    [manifest] = load_text("m.yaml", text).manifests
    return manifest


def test_objects_in_an_allowed_namespace_pass() -> None:
    cm = _manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: ray-dev\n")
    assert check_namespace(cm, ("ray-dev", "ray-qa")) is None


def test_objects_elsewhere_are_errors_at_their_namespace() -> None:
    cm = _manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: kube-system\n")
    finding = check_namespace(cm, ("ray-dev",))
    assert finding is not None and finding.is_error
    where = (finding.rule, finding.path, finding.line, finding.column)
    assert where == ("policy:namespace", "metadata.namespace", 5, 3)
    assert "kube-system" in finding.message and "ray-dev" in finding.message


def test_namespace_objects_must_be_one_of_the_environment_namespaces() -> None:
    assert check_namespace(_manifest("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ray-dev\n"),
                           ("ray-dev",)) is None
    finding = check_namespace(_manifest("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n"), ("ray-dev",))
    assert finding is not None and finding.path == "metadata.name"


def test_cluster_scoped_kinds_need_the_environments_clusterscoped_list() -> None:
    pc = _manifest("apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\nvalue: 10\n")
    finding = check_namespace(pc, ("ray-dev",))
    assert finding is not None and (finding.rule, finding.path, finding.line) == ("policy:cluster-scoped", "kind", 2)
    assert check_namespace(pc, ("ray-dev",), (ClusterScopedRule(kind="PriorityClass"),)) is None
    assert check_namespace(pc, ("ray-dev",), (ClusterScopedRule(kind="PriorityClass", names=("low",)),)) is not None


def test_a_missing_namespace_with_several_allowed_is_an_error() -> None:
    cm = _manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    finding = check_namespace(cm, ("a", "b"))
    assert finding is not None and "several" in finding.message and finding.line == 3
