"""Ownership, the offline half (issue 9, deliverable 6): cluster-scoped objects only where the
environment allows them, no silent adoption of another environment's object, object names
checked as the API server checks them. Inputs are committed to a temporary repository."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from gitops_ray.changes import Action, Impact
from gitops_ray.checks import schemas
from gitops_ray.cli.main import cli
from gitops_ray.cluster import ENVIRONMENT_LABEL, MANAGED_BY_LABEL
from gitops_ray.engine.plan import LiveState, PlanOptions, build_plan
from gitops_ray.environment import parse_environment
from gitops_ray.errors import ExitCode
from gitops_ray.manifests import load_text
from gitops_ray.refs import ObjectRef

ENV = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  cluster: {sandbox: {}}
  namespaces: [ray-dev]
"""
PRIORITY = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: %s}\nvalue: 1000\n"
ROLE = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: %s}\n"
        "rules: [{apiGroups: [ray.io], resources: [rayjobs], verbs: [get]}]\n")
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_RAY_SCHEMA_DIR", str(tmp_path / "user-schemas"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    schemas.clear_caches()


def validate(git_repo: Any, files: dict[str, str], extra_env: str = "") -> tuple[int, dict[str, str]]:
    repo = git_repo({"environments/dev/environment.yaml": ENV + extra_env,
                     **{f"environments/dev/{name}": text for name, text in files.items()}})
    # --ignore-missing-schemas: the bundled catalogue has no ClusterRole yet; policy applies regardless
    result = CliRunner().invoke(cli, ["validate", "--repo", str(repo.path), "--env", "dev", "-o", "json",
                                      "--ignore-missing-schemas"])
    report = json.loads(result.output)
    return result.exit_code, {f"{e['kind']}/{e['name']}": f"{e['rule']}: {e['message']}" for e in report["errors"]}


# --------------------------------------------------------------------------- cluster-scoped allow-list


def test_cluster_scoped_objects_are_errors_unless_the_environment_lists_them(git_repo):
    files = {"pc.yaml": PRIORITY % "ray-high", "role.yaml": ROLE % "ray-reader", "ns.yaml": NAMESPACE % "ray-dev"}
    code, errors = validate(git_repo, files)
    assert code == ExitCode.FAILED
    assert errors == {
        "PriorityClass/ray-high": "policy:cluster-scoped: PriorityClass (group scheduling.k8s.io) 'ray-high' is "
                                  "cluster-scoped: other teams share it; list it in the environment's "
                                  "spec.clusterScoped to let this environment own it",
        "ClusterRole/ray-reader": "policy:cluster-scoped: ClusterRole (group rbac.authorization.k8s.io) 'ray-reader' "
                                  "is cluster-scoped: other teams share it; list it in the environment's "
                                  "spec.clusterScoped to let this environment own it",
    }  # the environment's own Namespace needs no listing
    allowed = "  clusterScoped:\n    - {kind: PriorityClass, names: [ray-high]}\n" \
              "    - {kind: ClusterRole, group: rbac.authorization.k8s.io}\n"
    assert validate(git_repo, files, allowed) == (ExitCode.OK, {})
    code, errors = validate(git_repo, {**files, "pc2.yaml": PRIORITY % "ray-urgent"}, allowed)
    assert code == ExitCode.FAILED and list(errors) == ["PriorityClass/ray-urgent"]  # names are exact
    wrong_group = "  clusterScoped:\n    - {kind: ClusterRole, group: example.com}\n"
    assert "ClusterRole/ray-reader" in validate(git_repo, {"role.yaml": ROLE % "ray-reader"}, wrong_group)[1]


def test_namespaces_beyond_the_environments_own_need_the_list(git_repo):
    code, errors = validate(git_repo, {"ns.yaml": NAMESPACE % "shared-tools"})
    assert code == ExitCode.FAILED
    assert errors["Namespace/shared-tools"].startswith("policy:namespace: Namespace 'shared-tools' is not one of "
                                                       "this environment's namespaces (ray-dev) nor in its "
                                                       "clusterScoped list")
    listed = "  clusterScoped: [{kind: Namespace, names: [shared-tools]}]\n"
    assert validate(git_repo, {"ns.yaml": NAMESPACE % "shared-tools"}, listed) == (ExitCode.OK, {})


def test_cluster_scoped_list_is_schema_checked():
    from gitops_ray.errors import ConfigError

    with pytest.raises(ConfigError, match=r"spec\.clusterScoped\.0\.name: unknown field 'name'"):
        parse_environment("environments/dev/environment.yaml",
                          (ENV + "  clusterScoped: [{kind: PriorityClass, name: x}]\n").encode())


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(("doc", "expected"), [
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: ray-dev}\n",
     "ConfigMap name 'Bad_Name' is not a DNS-1123 subdomain: must consist of lower case alphanumeric characters, "
     "'-' or '.', and must start and end with an alphanumeric character"),
    ("apiVersion: v1\nkind: Service\nmetadata: {name: 9lives, namespace: ray-dev}\nspec: {ports: [{port: 80}]}\n",
     "Service name '9lives' is not a DNS-1035 label: must consist of lower case alphanumeric characters or '-', "
     "start with an alphabetic character, and end with an alphanumeric character"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: ray-dev}\n" % ("a" * 254),
     "is not a DNS-1123 subdomain: must be no more than 253 characters"),
    ("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: 'team/reader', namespace: ray-dev}\n",
     "Role name 'team/reader' is not a path segment: may not contain '/'"),
    ("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: '..', namespace: ray-dev}\n"
     "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n",
     "RoleBinding name '..' is not a path segment: may not be '..'"),
])
def test_object_names_are_checked_as_the_api_server_checks_them(git_repo, doc, expected):
    code, errors = validate(git_repo, {"x.yaml": doc})
    assert code == ExitCode.FAILED
    assert any(message.startswith("name:format: ") and expected in message for message in errors.values()), errors


def test_names_the_api_server_accepts_pass(git_repo):
    files = {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app.config-1, namespace: ray-dev}\n",
             "role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
                          "metadata: {name: 'system:Ray Reader', namespace: ray-dev}\n"}
    assert validate(git_repo, files) == (ExitCode.OK, {})


def test_a_namespace_name_with_a_dot_is_not_a_label(git_repo):
    listed = "  clusterScoped: [{kind: Namespace}]\n"
    code, errors = validate(git_repo, {"ns.yaml": NAMESPACE % "team.tools"}, listed)
    assert code == ExitCode.FAILED
    assert errors == {"Namespace/team.tools": "name:format: Namespace name 'team.tools' is not a DNS-1123 label: "
                                              "must consist of lower case alphanumeric characters or '-', and must "
                                              "start and end with an alphanumeric character"}


# --------------------------------------------------------------------------- cross-environment adoption


def test_an_object_another_environment_owns_is_a_blocked_conflict_naming_both():
    environment = parse_environment("environments/dev/environment.yaml", ENV.encode())
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: ray-dev}\ndata: {a: '1'}\n"
    [manifest] = load_text("environments/dev/cm.yaml", cm).manifests
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "0"},
              "metadata": {"name": "shared", "namespace": "ray-dev", "uid": "u1", "resourceVersion": "7",
                           "labels": {MANAGED_BY_LABEL: "gitops-ray", ENVIRONMENT_LABEL: "staging"}}}
    nobody = {**theirs, "metadata": {**theirs["metadata"], "labels": {}}}
    options = PlanOptions(environment=environment, commit="abc")
    ref = ObjectRef.from_object(theirs)

    def plan_with(live: dict[str, Any]):
        state = LiveState(owned={}, unowned={ref: live})
        return build_plan([manifest], state, options, impact_of=lambda body: Impact()).changes[0]

    conflict = plan_with(theirs)
    assert conflict.action is Action.BLOCKED
    assert "owned by environment 'staging'" in conflict.reason
    assert "environment 'dev' declares it too" in conflict.reason
    adopted = plan_with(nobody)  # made by hand: adopting it is the documented behaviour, with a warning
    assert adopted.action is Action.UPDATE and adopted.reason == "adopt existing object"
