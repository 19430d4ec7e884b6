"""Built-in kinds of every bundled Kubernetes minor, the platform CRDs bundled beside KubeRay's, and importing
other CRDs from files or from a cluster."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gitops_ray.checks import crd_catalogue, schemas
from gitops_ray.checks.validate import SourceBlob, ValidateOptions, validate_blobs
from gitops_ray.findings import Finding, Severity

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "schemas"


@pytest.fixture(autouse=True)
def isolated_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("GITOPS_RAY_SCHEMA_DIR", str(tmp_path / "user-schemas"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    schemas.clear_caches()
    yield tmp_path / "user-schemas"
    schemas.clear_caches()


def validate(text: str, **options: Any) -> list[Finding]:
    opts = ValidateOptions(kuberay_version=options.pop("version", "1.7.0"), jobs=1, **options)
    return validate_blobs([SourceBlob("m.yaml", text.encode())], opts).findings


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
spec:
  selector:
    matchLabels: {app: redis}
  template:
    metadata:
      labels: {app: redis}
    spec:
      containers:
      - name: redis
        image: redis:7
        ports:
        - containerPort: 6379
"""


# --------------------------------------------------------------------------- built-in kinds


@pytest.mark.parametrize("k8s", ["1.35", "1.36", "1.37"])
def test_builtin_workloads_validate_in_every_bundled_minor(k8s: str) -> None:
    assert validate(DEPLOYMENT, kubernetes_version=k8s) == []
    unknown, required = validate(DEPLOYMENT.replace("containerPort", "containerPrt"), kubernetes_version=k8s)
    assert (unknown.rule, unknown.path, unknown.line) == (
        "schema:additionalProperties", "spec.template.spec.containers[0].ports[0].containerPrt", 16)
    assert (required.rule, required.path) == ("schema:required", "spec.template.spec.containers[0].ports[0]"
                                                                 ".containerPort")


@pytest.mark.parametrize(("api_version", "kind", "message", "where"), [
    ("apps/v1beta1", "Deployment",
     "apps/v1beta1 Deployment is not served by Kubernetes 1.37; served: apps/v1", "apiVersion"),
    ("v2", "Service", "v2 Service is not served by Kubernetes 1.37; served: v1", "apiVersion"),
    ("apps/v1", "Deploymnet", "did you mean Deployment?", "kind"),
    ("extensions/v1beta1", "Ingress", "does not serve the API group 'extensions'", "apiVersion"),
    ("policy/v1beta1", "PodSecurityPolicy", "has no kind PodSecurityPolicy in group policy", "kind"),
])
def test_a_missing_builtin_kind_is_named_precisely_and_never_import_a_crd(
        api_version: str, kind: str, message: str, where: str) -> None:
    text = f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: x\n"
    for findings in (validate(text), validate(text, ignore_missing_schemas=True)):
        [finding] = findings
        assert finding.rule == "schema:unserved-version" and message in finding.message
        assert "import" not in finding.message
        assert finding.line == (1 if where == "apiVersion" else 2)


def test_a_kind_of_a_newer_minor_names_the_minors_that_have_it() -> None:
    text = "apiVersion: resource.k8s.io/v1alpha3\nkind: ResourcePoolStatusRequest\nmetadata:\n  name: x\n"
    [finding] = validate(text, kubernetes_version="1.35")
    assert "not served by Kubernetes 1.35; it is in Kubernetes 1.36, 1.37" in finding.message


def test_the_environment_picks_the_kubernetes_version_and_the_flag_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitops_ray.cli.main import cli

    env = tmp_path / "environments" / "dev"
    (env / "k8s").mkdir(parents=True)
    (env / "environment.yaml").write_text(
        "apiVersion: gitops-ray.io/v1alpha1\nkind: Environment\nmetadata:\n  name: dev\nspec:\n"
        "  kubernetesVersion: '1.35'\n  namespaces: [ray]\n  paths: [k8s]\n  cluster:\n    inCluster: true\n")
    (env / "k8s" / "x.yaml").write_text(
        "apiVersion: resource.k8s.io/v1alpha3\nkind: ResourcePoolStatusRequest\nmetadata:\n  name: x\n"
        "spec: {driver: d}\n")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", "--env", "dev", "-o", "json"])
    data = json.loads(result.output)
    assert data["kubernetesVersion"] == "1.35.0"
    assert [e["rule"] for e in data["errors"]] == ["schema:unserved-version"]
    result = runner.invoke(cli, ["validate", "--env", "dev", "--kubernetes-version", "1.37", "-o", "json"])
    data = json.loads(result.output)
    assert data["kubernetesVersion"] == "1.37.0" and "schema:unserved-version" not in result.output
    result = runner.invoke(cli, ["validate", "--env", "dev", "--kubernetes-version", "1.20"])
    assert result.exit_code == 64 and "no schemas for Kubernetes 1.20" in result.output


# --------------------------------------------------------------------------- platform CRDs


PLATFORM = [
    ("kueue.x-k8s.io/v1beta2", "LocalQueue", "spec:\n  clusterQueue: cq\n"),
    ("kueue.x-k8s.io/v1beta2", "ResourceFlavor", "spec:\n  nodeLabels: {pool: gpu}\n"),
    ("kueue.x-k8s.io/v1beta2", "ClusterQueue", "spec:\n  namespaceSelector: {}\n"),
    ("monitoring.coreos.com/v1", "ServiceMonitor",
     "spec:\n  selector: {}\n  endpoints:\n  - port: metrics\n"),
    ("monitoring.coreos.com/v1", "PodMonitor", "spec:\n  selector: {}\n  podMetricsEndpoints:\n  - port: metrics\n"),
    ("monitoring.coreos.com/v1", "PrometheusRule",
     "spec:\n  groups:\n  - name: ray\n    rules:\n    - alert: Down\n      expr: up == 0\n"),
    ("gateway.networking.k8s.io/v1", "Gateway",
     "spec:\n  gatewayClassName: istio\n  listeners:\n  - name: http\n    port: 80\n    protocol: HTTP\n"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute", "spec:\n  parentRefs:\n  - name: gw\n"),
    ("gateway.networking.k8s.io/v1", "GRPCRoute", "spec:\n  parentRefs:\n  - name: gw\n"),
]


@pytest.mark.parametrize(("api_version", "kind", "spec"), PLATFORM)
def test_platform_crds_are_bundled_and_strict(api_version: str, kind: str, spec: str) -> None:
    text = f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: x\n{spec}"
    assert validate(text) == []
    [finding] = validate(text + "  unknownField: 1\n")
    assert finding.rule == "schema:additionalProperties" and finding.path == "spec.unknownField"


def test_deprecated_platform_versions_warn() -> None:
    [finding] = validate("apiVersion: kueue.x-k8s.io/v1beta1\nkind: LocalQueue\nmetadata:\n  name: q\n"
                         "spec:\n  clusterQueue: cq\n")
    assert finding.severity is Severity.WARNING and finding.rule == "schema:deprecated-version"
    assert "v1beta2" in finding.message


def test_bundled_platform_crds_record_their_inputs() -> None:
    sets = crd_catalogue.bundled_sets(BUNDLED)
    assert {s.name for s in sets} == {"kueue", "prometheus-operator", "gateway-api"}
    for crd_set in sets:
        index = json.loads((crd_set.directory / "index.json").read_text())
        assert "Go module proxy" in index["module"] and (crd_set.directory / "LICENSE").is_file()
        assert "Apache License" in (crd_set.directory / "LICENSE").read_text()
        for item in index["schemas"]:
            data = gzip.decompress((crd_set.directory / item["source"]).read_bytes())
            assert hashlib.sha256(data).hexdigest() == item["sha256"]


def test_bundled_platform_schemas_are_what_their_crds_convert_to(tmp_path: Path) -> None:
    """The script's conversion, without the module download: the committed CRDs converted again."""
    for crd_set in crd_catalogue.bundled_sets(BUNDLED):
        for item in json.loads((crd_set.directory / "index.json").read_text())["schemas"]:
            data = gzip.decompress((crd_set.directory / item["source"]).read_bytes())
            converted = {(s.api_version, s.kind): s.schema for s in crd_catalogue.convert_all(data, item["source"])}
            committed = json.loads(gzip.decompress((crd_set.directory / item["file"]).read_bytes()))
            assert converted[(item["apiVersion"], item["kind"])] == committed, item["file"]


# --------------------------------------------------------------------------- importing other CRDs

WIDGET_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: queues.scheduling.volcano.sh
spec:
  group: scheduling.volcano.sh
  names: {kind: Queue, plural: queues, singular: queue}
  scope: Cluster
  versions:
  - name: v1beta1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              weight: {type: integer, minimum: 1}
              reclaimable: {type: boolean}
"""
QUEUE = "apiVersion: scheduling.volcano.sh/v1beta1\nkind: Queue\nmetadata:\n  name: q\nspec:\n  weight: 1\n"


def test_importing_a_non_ray_crd_file_adds_its_kinds_for_every_kuberay_version(
        tmp_path: Path, isolated_catalogue: Path) -> None:
    from gitops_ray.cli.main import cli

    [missing] = validate(QUEUE)
    assert missing.rule == "schema:missing" and "schemas import --crd FILE" in missing.message
    crd = tmp_path / "volcano-queue.yaml"
    crd.write_text(WIDGET_CRD)
    result = CliRunner().invoke(cli, ["schemas", "import", "--crd", str(crd)])
    assert result.exit_code == 0, result.output
    assert "imported 1 custom resource schemas" in result.output
    assert "Queue scheduling.volcano.sh/v1beta1" in result.output
    for version in ("1.3.2", "1.7.0"):
        assert validate(QUEUE, version=version) == []
        [finding] = validate(QUEUE.replace("weight: 1", "weight: 0"), version=version)
        assert finding.rule == "schema:minimum"
    listed = CliRunner().invoke(cli, ["schemas", "list"]).output
    assert "imported (imported, from gitops-ray schemas import)" in listed
    assert "scheduling.volcano.sh/v1beta1: Queue" in listed


def test_import_with_neither_files_nor_cluster_is_a_usage_error() -> None:
    from gitops_ray.cli.main import cli

    result = CliRunner().invoke(cli, ["schemas", "import"])
    assert result.exit_code == 64 and "--from-cluster" in result.output


def test_import_from_cluster_reads_crds_through_the_engine(monkeypatch: pytest.MonkeyPatch,
                                                           isolated_catalogue: Path) -> None:
    """checks/ never talks to a cluster: the engine LISTs the CRDs and hands them over as dicts."""
    import yaml

    from gitops_ray.cli.main import cli
    from gitops_ray.engine import schema_import

    ray_crd = yaml.safe_load(gzip.decompress(
        (BUNDLED / "kuberay" / "1.7.0" / "crds" / "ray.io_raycronjobs.yaml.gz").read_bytes()))
    listed: list[tuple[str, str]] = []

    class FakeCluster:
        def list_objects(self, api_version: str, kind: str) -> list[dict[str, Any]]:
            listed.append((api_version, kind))
            crd = yaml.safe_load(WIDGET_CRD)
            crd["metadata"]["managedFields"] = [{"manager": "kubectl"}]
            crd["status"] = {"acceptedNames": {}}
            return [crd, ray_crd]

    seen: dict[str, Any] = {}

    @contextmanager
    def fake_open(target: Any, **kwargs: Any) -> Iterator[FakeCluster]:
        seen.update(kwargs, target=target)
        yield FakeCluster()

    monkeypatch.setattr(schema_import, "open_cluster", fake_open)
    result = CliRunner().invoke(cli, ["schemas", "import", "--from-cluster", "--context", "prod"])
    assert result.exit_code == 0, result.output
    assert listed == [("apiextensions.k8s.io/v1", "CustomResourceDefinition")]
    assert seen["context"] == "prod" and seen["start_sandbox"] is False
    assert "pass --version X.Y.Z" in result.output  # ray.io CRDs need to know their KubeRay version
    assert validate(QUEUE) == []
    stored = gzip.decompress((isolated_catalogue / "crds" / "imported" / "crds" /
                              "scheduling.volcano.sh_queues.yaml.gz").read_bytes())
    assert b"managedFields" not in stored and b"status" not in stored
    result = CliRunner().invoke(cli, ["schemas", "import", "--from-cluster", "--version", "1.7.9"])
    assert result.exit_code == 0 and "imported KubeRay 1.7.9" in result.output
    assert schemas.schema_set("1.7.9").lookup("ray.io/v1", "RayCronJob") is not None


def test_the_platform_import_script_is_reproducible_offline_when_the_module_cache_has_the_modules() -> None:
    """Run only where `go` and the module cache already hold the pinned modules (CI has no network)."""
    import shutil

    if shutil.which("go") is None:
        pytest.skip("no go toolchain")
    probe = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True)
    cache = Path(probe.stdout.strip())
    if not (cache / "sigs.k8s.io" / "kueue@v0.17.0").is_dir():
        pytest.skip("pinned modules not in the module cache")
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "import_platform_crds.py"), "--out",
                          str(Path(probe.stdout.strip()).parent / "gitops-ray-test-out")], capture_output=True,
                         text=True, env={"GOFLAGS": "-mod=mod", "GOPROXY": "off", "PATH": "/usr/local/go/bin:/usr/bin",
                                         "HOME": str(Path.home()), "GOMODCACHE": str(cache)})
    assert out.returncode == 0, out.stderr


def test_the_scope_table_knows_every_cluster_scoped_platform_kind() -> None:
    import yaml

    from gitops_ray import kinds

    for crd_set in crd_catalogue.bundled_sets(BUNDLED):
        for path in sorted((crd_set.directory / "crds").glob("*.yaml.gz")):
            crd = yaml.load(gzip.decompress(path.read_bytes()), Loader=yaml.CSafeLoader)
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            assert kinds.is_namespaced(group, kind) == (crd["spec"]["scope"] == "Namespaced"), (group, kind)
    assert not kinds.is_namespaced("storage.k8s.io", "StorageClass") and kinds.is_namespaced("apps", "Deployment")


def test_cluster_scoped_builtins_are_judged_by_the_allow_list_not_the_namespace_policy() -> None:
    from gitops_ray.environment import ClusterScopedRule, ClusterTarget, Environment

    text = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\nprovisioner: x\n"
    allowed = Environment(name="e", file="f", directory="d", cluster=ClusterTarget(in_cluster=True),
                          namespaces=("a", "b"), paths=("x",), cluster_scoped=(ClusterScopedRule(kind="StorageClass"),))
    opts = ValidateOptions.for_environment(allowed, "1.7.0", jobs=1)
    assert validate_blobs([SourceBlob("m.yaml", text.encode())], opts).findings == []
    plain = Environment(name="e", file="f", directory="d", cluster=ClusterTarget(in_cluster=True),
                        namespaces=("a", "b"), paths=("x",))
    [finding] = validate_blobs([SourceBlob("m.yaml", text.encode())],
                               ValidateOptions.for_environment(plain, "1.7.0", jobs=1)).findings
    assert finding.rule == "policy:cluster-scoped" and "namespace" not in finding.path
