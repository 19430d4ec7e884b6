"""The schema catalogue and the CRD conversion: what is bundled, how it is produced, imports and caches."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from gitops_ray.checks import crdschema, schemas
from gitops_ray.errors import ExitCode, SchemaError

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "schemas"
VERSIONS = ["1.3.2", "1.4.2", "1.5.1", "1.6.2", "1.7.0"]


@pytest.fixture(autouse=True)
def isolated_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real user catalogue or cache."""
    monkeypatch.setenv("GITOPS_RAY_SCHEMA_DIR", str(tmp_path / "user-schemas"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    schemas.clear_caches()
    yield tmp_path / "user-schemas"
    schemas.clear_caches()


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


# --------------------------------------------------------------------------- what is bundled


def test_every_kuberay_version_is_bundled_with_its_kinds() -> None:
    assert schemas.bundled_versions() == VERSIONS
    for version in VERSIONS:
        kinds = {(e.api_version, e.kind) for e in schemas.catalogue()[version].entries}
        expected = {(f"ray.io/{v}", k) for k in ("RayCluster", "RayJob", "RayService") for v in ("v1", "v1alpha1")}
        if version >= "1.6":
            expected.add(("ray.io/v1", "RayCronJob"))
        assert kinds == expected, version


def test_only_1_7_marks_v1alpha1_deprecated() -> None:
    for version in VERSIONS:
        deprecated = {e.kind for e in schemas.catalogue()[version].entries if e.deprecated}
        assert deprecated == ({"RayCluster", "RayJob", "RayService"} if version == "1.7.0" else set()), version


K8S_VERSIONS = ["1.35.0", "1.36.0", "1.37.0"]

EVERYDAY_KINDS = {
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"), ("apps/v1", "ReplicaSet"),
    ("v1", "Pod"), ("batch/v1", "Job"), ("batch/v1", "CronJob"), ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "IngressClass"), ("networking.k8s.io/v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"), ("policy/v1", "PodDisruptionBudget"),
    ("scheduling.k8s.io/v1", "PriorityClass"), ("storage.k8s.io/v1", "StorageClass"), ("v1", "PersistentVolume"),
    ("v1", "PersistentVolumeClaim"), ("coordination.k8s.io/v1", "Lease"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"), ("v1", "Namespace"),
    ("v1", "ServiceAccount"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ResourceQuota"),
    ("v1", "LimitRange"), ("apiextensions.k8s.io/v1", "CustomResourceDefinition"), ("node.k8s.io/v1", "RuntimeClass"),
}


def test_every_builtin_kind_of_three_kubernetes_minors_is_bundled() -> None:
    assert schemas.kubernetes_versions() == K8S_VERSIONS
    for version in K8S_VERSIONS:
        builtin = {(e.api_version, e.kind) for e in schemas.schema_set("1.5.1", version).entries() if e.builtin}
        assert builtin >= EVERYDAY_KINDS, (version, EVERYDAY_KINDS - builtin)
        assert len(builtin) > 90 and not any(kind.endswith("List") for _, kind in builtin)
    assert schemas.schema_set("1.5.1").kubernetes_version == K8S_VERSIONS[-1]


@pytest.mark.parametrize(("requested", "chosen"), [("1.36", "1.36.0"), ("v1.35.0", "1.35.0"), ("1.37.4", "1.37.0")])
def test_kubernetes_version_spellings(requested: str, chosen: str) -> None:
    assert schemas.select_kubernetes_version(requested) == chosen


def test_an_unbundled_kubernetes_version_is_a_clear_error() -> None:
    with pytest.raises(SchemaError, match=r"no schemas for Kubernetes 1\.20 \(bundled: 1\.35, 1\.36, 1\.37\)"):
        schemas.select_kubernetes_version("1.20")


def test_builtin_definitions_are_stored_once_across_versions() -> None:
    store = json.loads(gzip.decompress((BUNDLED / "kubernetes" / "definitions.json.gz").read_bytes()))
    per_version = sum(len(names) for names in store["versions"].values())
    assert len(store["bodies"]) < per_version / 2  # most definitions did not change between minors
    assert (BUNDLED / "kubernetes" / "definitions.json.gz").stat().st_size < 200_000


def test_bundled_schemas_are_valid_self_contained_json_schemas() -> None:
    import jsonschema_rs

    entries = {(e.path, e.builtin): e for v in VERSIONS for e in schemas.schema_set(v).entries()}
    entries.update({(e.path, e.builtin): e for v in K8S_VERSIONS for e in schemas.schema_set("1.7.0", v).entries()})
    seen: set[str] = set()
    for entry in entries.values():
        schema = schemas.entry_schema(entry)
        text = json.dumps(schema, sort_keys=True)
        if text in seen:  # most built-in kinds are the same in all three minors
            continue
        seen.add(text)
        assert jsonschema_rs.meta.is_valid(schema), entry
        assert all(ref.startswith("#/") for ref in _refs(schema)), entry
        jsonschema_rs.validator_for(schema)  # every pattern compiles
    # the validator of record agrees (it is slower: one CRD schema, the built-in and the other custom resources)
    for entry in schemas.schema_set(VERSIONS[-1]).entries():
        if entry.origin != "bundled" or (entry.kind.startswith("Ray") and entry.kind != "RayCluster"):
            continue
        if entry.builtin and entry.kind not in ("Deployment", "Service", "CronJob"):
            continue  # they share their definitions, and jsonschema's meta-check is slow
        schema = schemas.entry_schema(entry)
        jsonschema.validators.validator_for(schema).check_schema(schema)


def test_committed_kuberay_schemas_record_their_inputs_and_converter() -> None:
    for version in VERSIONS:
        directory = BUNDLED / "kuberay" / version
        index = json.loads((directory / "index.json").read_text())
        assert index["converter"] == crdschema.CONVERTER_VERSION
        assert index["kuberayVersion"] == version
        for item in index["schemas"]:
            data = gzip.decompress((directory / item["source"]).read_bytes())
            assert hashlib.sha256(data).hexdigest() == item["sha256"], (version, item["file"])
            assert (directory / item["file"]).is_file()


@pytest.mark.parametrize("version", [VERSIONS[0], VERSIONS[-1]])
def test_committed_kuberay_schemas_are_what_the_conversion_produces(tmp_path: Path, version: str) -> None:
    """With the previous test (same inputs, same converter version) this covers every version."""
    crds = sorted((BUNDLED / "kuberay" / version / "crds").glob("*.yaml.gz"))
    schemas.import_crds(crds, version=version, into=tmp_path)
    produced = sorted((tmp_path / "kuberay" / version).glob("*.json"))
    assert [p.name for p in produced] == sorted(p.name for p in (BUNDLED / "kuberay" / version).glob("*.json"))
    for path in produced:
        committed = BUNDLED / "kuberay" / version / path.name
        assert json.loads(path.read_text()) == json.loads(committed.read_text()), committed


def test_committed_kubernetes_schemas_are_what_the_import_script_produces(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "scripts" / "import_k8s_schemas.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    committed = BUNDLED / "kubernetes"
    for name in ("definitions.json.gz", "index.json", "README.md"):
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name
    assert "kubernetes-validate" in json.loads((committed / "index.json").read_text())["package"]


def test_int_or_string_is_a_type_list_not_anyof() -> None:
    schema = schemas.schema_for("1.5.1", "ray.io/v1", "RayCluster")
    assert schema is not None
    port = (schema["properties"]["spec"]["properties"]["headGroupSpec"]["properties"]["template"]["properties"]
            ["spec"]["properties"]["containers"]["items"]["properties"]["livenessProbe"]["properties"]
            ["httpGet"]["properties"]["port"])
    assert port == {"type": ["integer", "string"]}
    assert '"anyOf"' not in json.dumps(schema)


# --------------------------------------------------------------------------- version selection


def test_version_selection_defaults_to_the_newest_bundled_even_after_an_import(isolated_catalogue: Path) -> None:
    schemas.import_crds([BUNDLED / "kuberay" / "1.7.0" / "crds" / "ray.io_raycronjobs.yaml.gz"], version="9.9.9")
    assert schemas.available_versions()[-1] == "9.9.9"
    assert schemas.select_version(None) == "1.7.0"
    assert schemas.select_version("9.9.9") == "9.9.9"


@pytest.mark.parametrize(("requested", "chosen"), [("1.5.1", "1.5.1"), ("v1.6.2", "1.6.2"), ("1.5", "1.5.1")])
def test_version_spellings(requested: str, chosen: str) -> None:
    assert schemas.select_version(requested) == chosen


@pytest.mark.parametrize("requested", ["2.0.0", "1.5.0", "latest"])
def test_unknown_versions_are_a_clear_error(requested: str) -> None:
    with pytest.raises(SchemaError) as err:
        schemas.select_version(requested)
    assert "1.7.0" in err.value.message or "not a KubeRay version" in err.value.message


# --------------------------------------------------------------------------- import and caches


def test_import_adds_a_version_to_the_user_catalogue(isolated_catalogue: Path) -> None:
    crd = BUNDLED / "kuberay" / "1.6.2" / "crds" / "ray.io_raycronjobs.yaml.gz"
    plain = isolated_catalogue.parent / "cron.yaml"
    plain.write_bytes(gzip.decompress(crd.read_bytes()))
    result = schemas.import_crds([plain], version="1.6.9")
    assert [(e.api_version, e.kind) for e in result.written] == [("ray.io/v1", "RayCronJob")]
    entry = schemas.schema_set("1.6.9").lookup("ray.io/v1", "RayCronJob")
    assert entry is not None and entry.origin == "imported"
    assert (isolated_catalogue / "kuberay" / "1.6.9" / "crds" / "ray.io_raycronjobs.yaml.gz").exists()
    # a second import into the same version keeps what was there
    schemas.import_crds([BUNDLED / "kuberay" / "1.6.2" / "crds" / "ray.io_rayjobs.yaml.gz"], version="1.6.9")
    kinds = {e.kind for e in schemas.catalogue()["1.6.9"].entries}
    assert kinds == {"RayCronJob", "RayJob"}


def test_import_guesses_the_version_from_the_path() -> None:
    result = schemas.import_crds([BUNDLED / "kuberay" / "1.4.2" / "crds" / "ray.io_rayservices.yaml.gz"])
    assert result.version == "1.4.2"


def test_import_needs_a_version_when_the_path_has_none(tmp_path: Path) -> None:
    crd = tmp_path / "crd.yaml"
    crd.write_bytes(gzip.decompress((BUNDLED / "kuberay" / "1.5.1" / "crds" / "ray.io_rayjobs.yaml.gz").read_bytes()))
    with pytest.raises(SchemaError, match="--version"):
        schemas.import_crds([crd])


def test_import_refuses_files_without_kuberay_crds(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(SchemaError, match="no KubeRay CRDs"):
        schemas.import_crds([other], version="1.5.1")


def test_conversions_are_cached_by_the_digest_of_their_input(monkeypatch: pytest.MonkeyPatch) -> None:
    data = gzip.decompress((BUNDLED / "kuberay" / "1.5.1" / "crds" / "ray.io_rayservices.yaml.gz").read_bytes())
    first = schemas.convert_cached(data)
    assert {e.api_version for e in first} == {"ray.io/v1", "ray.io/v1alpha1"}
    assert first[0].path.parent.name == schemas.input_digest(data)

    def boom(*_: object, **__: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(schemas, "convert", boom)
    assert [e.path for e in schemas.convert_cached(data)] == [e.path for e in first]
    assert schemas.input_digest(data + b"\n") != schemas.input_digest(data)


def test_a_stale_conversion_is_rederived_from_its_crds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "bundled"
    shutil.copytree(BUNDLED / "kuberay" / "1.5.1", root / "kuberay" / "1.5.1")
    shutil.copytree(BUNDLED / "kubernetes", root / "kubernetes")
    index = root / "kuberay" / "1.5.1" / "index.json"
    stale = json.loads(index.read_text())
    stale["converter"] = "0"
    stale["schemas"] = [i for i in stale["schemas"] if i["kind"] == "RayService"]  # the smallest CRD
    index.write_text(json.dumps(stale))
    (root / "kuberay" / "1.5.1" / "rayservice-v1.json").write_text("{}")  # a stale file must not be used
    monkeypatch.setattr(schemas, "BUNDLED_ROOT", root)
    schemas.clear_caches()
    entry = schemas.schema_set("1.5.1").lookup("ray.io/v1", "RayService")
    assert entry is not None and "re-converted" in entry.source
    assert schemas.load_schema(entry.path)["properties"]["kind"] == {"type": "string", "enum": ["RayService"]}


# --------------------------------------------------------------------------- the conversion itself


def test_conversion_honours_preserve_unknown_fields_nullable_and_int_or_string() -> None:
    openapi = {
        "type": "object",
        "properties": {
            "strict": {"type": "object", "properties": {"a": {"type": "string"}}},
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                     "properties": {"nested": {"type": "object", "properties": {"b": {"type": "integer"}}}}},
            "maybe": {"type": "string", "nullable": True},
            "port": {"x-kubernetes-int-or-string": True,
                     "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "defaulted": {"type": "integer", "default": 3},
            "needed": {"type": "integer"},
        },
        "required": ["defaulted", "needed"],
    }
    schema = crdschema.openapi_to_jsonschema(openapi)
    validator = jsonschema.Draft7Validator(schema)

    def ok(doc: dict[str, object]) -> bool:
        return validator.is_valid({"needed": 1, **doc})

    assert not ok({"strict": {"a": "x", "unknown": 1}})  # strict field validation
    assert ok({"open": {"anything": [1, 2], "nested": {"b": 1, "more": True}}})  # not under preserve-unknown
    assert not ok({"open": {"nested": {"b": "not an int"}}})  # known fields are still typed
    assert ok({"maybe": None}) and not ok({"strict": None})
    assert ok({"port": 8080}) and ok({"port": "http"}) and not ok({"port": 1.5})
    assert ok({}) and not validator.is_valid({})  # defaulted fields are not required; others are
    assert not ok({"unknown": 1})


def test_prune_nulls_drops_only_non_nullable_nulls_and_shares_untouched_values() -> None:
    schema = crdschema.openapi_to_jsonschema({
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string", "nullable": True},
                       "c": {"type": "object", "properties": {"d": {"type": "integer"}}}},
    })
    untouched = {"d": 1}
    value = {"a": None, "b": None, "c": untouched}
    pruned = crdschema.prune_nulls(value, schema)
    assert pruned == {"b": None, "c": {"d": 1}}
    assert pruned["c"] is untouched
    assert crdschema.prune_nulls({"c": untouched}, schema) == {"c": untouched}


def test_a_crd_version_gets_kind_enums_and_object_meta() -> None:
    crd = yaml.load(gzip.decompress((BUNDLED / "kuberay" / "1.7.0" / "crds" / "ray.io_raycronjobs.yaml.gz")
                                    .read_bytes()), Loader=yaml.CSafeLoader)
    [served] = crdschema.crd_to_jsonschemas(crd)
    validator = jsonschema.Draft7Validator(served.schema)
    base = {"apiVersion": "ray.io/v1", "kind": "RayCronJob",
            "spec": {"schedule": "* * * * *", "jobTemplate": {"entrypoint": "python x.py"}}}
    assert validator.is_valid({**base, "metadata": {"name": "c", "labels": {"a": "b"}, "creationTimestamp": None}})
    assert not validator.is_valid({**base, "metadata": {"name": "c", "labels": {"a": 1}}})
    assert not validator.is_valid({**base, "metadata": {"name": "c", "nmae": "typo"}})
    assert not validator.is_valid({**base, "kind": "RayJob", "metadata": {"name": "c"}})


def test_not_a_crd_is_refused() -> None:
    with pytest.raises(crdschema.CRDFormatError):
        crdschema.crd_to_jsonschemas({"apiVersion": "v1", "kind": "ConfigMap"})
    with pytest.raises(crdschema.CRDFormatError, match=r"apiextensions\.k8s\.io/v1"):
        crdschema.crd_to_jsonschemas({"apiVersion": "apiextensions.k8s.io/v1beta1", "kind": "CustomResourceDefinition"})


# --------------------------------------------------------------------------- the CLI


def test_schemas_list_shows_versions_kinds_and_sources() -> None:
    from click.testing import CliRunner

    from gitops_ray.cli.main import cli

    result = CliRunner().invoke(cli, ["schemas", "list"])
    assert result.exit_code == 0, result.output
    for version in VERSIONS:
        assert f"  {version} " in result.output
    assert "RayCronJob v1" in result.output and "(the default)" in result.output
    assert "kubernetes-validate 1.37.0" in result.output
    assert "    apps/v1: ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet" in result.output
    data = json.loads(CliRunner().invoke(cli, ["schemas", "list", "-o", "json"]).output)
    assert data["newest"] == "1.7.0" and [v["version"] for v in data["kuberay"]] == VERSIONS
    assert [v["version"] for v in data["kubernetes"]["versions"]] == K8S_VERSIONS
    assert data["kubernetes"]["default"] == "1.37.0"


def test_schemas_import_cli(isolated_catalogue: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from gitops_ray.cli.main import cli

    crd = str(BUNDLED / "kuberay" / "1.6.2" / "crds" / "ray.io_raycronjobs.yaml.gz")
    result = CliRunner().invoke(cli, ["schemas", "import", "--crd", crd, "--version", "1.6.3"])
    assert result.exit_code == 0, result.output
    assert "imported KubeRay 1.6.3" in result.output and "RayCronJob ray.io/v1" in result.output
    listed = CliRunner().invoke(cli, ["schemas", "list"]).output
    assert "1.6.3    imported" in listed
    into = tmp_path / "repo-schemas"
    result = CliRunner().invoke(cli, ["schemas", "import", "--crd", crd, "--version", "1.6.4", "--into", str(into)])
    assert result.exit_code == 0 and (into / "kuberay" / "1.6.4" / "raycronjob-v1.json").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    result = CliRunner().invoke(cli, ["schemas", "import", "--crd", str(bad), "--version", "1.6.5"])
    assert result.exit_code == ExitCode.USAGE and result.output.startswith("error: ")
