"""CEL offline: every KubeRay CRD rule of every bundled version, transition rules, messages, errors, policies."""

from __future__ import annotations

import copy
import gzip
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_ray.checks import cel
from gitops_ray.checks.cel_policy import admission_request, evaluate_policy

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = sorted(p.name for p in (ROOT / "schemas" / "kuberay").iterdir() if (p / "crds").is_dir())


# --------------------------------------------------------------------------- the bundled rules

@dataclass(frozen=True)
class Site:
    version: str
    kind: str
    served: str
    path: tuple[str, ...]  # property names; "*" for an array item
    node: dict[str, Any]
    rule: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.version}-{self.kind}-{self.served}-{'.'.join(self.path)}-{self.rule['rule']}"


def _load_crds() -> dict[tuple[str, str], dict[str, Any]]:
    crds = {}
    for version in VERSIONS:
        for path in sorted((ROOT / "schemas" / "kuberay" / version / "crds").glob("*.yaml.gz")):
            crd = yaml.load(gzip.decompress(path.read_bytes()), Loader=yaml.CSafeLoader)
            crds[(version, crd["spec"]["names"]["kind"])] = crd
    return crds


CRDS = _load_crds()


def _sites() -> list[Site]:
    out: list[Site] = []

    def walk(version: str, kind: str, served: str, node: dict[str, Any], path: tuple[str, ...]) -> None:
        for rule in node.get("x-kubernetes-validations") or ():
            out.append(Site(version, kind, served, path, node, rule))
        for name, sub in (node.get("properties") or {}).items():
            walk(version, kind, served, sub, (*path, name))
        if isinstance(node.get("items"), dict):
            walk(version, kind, served, node["items"], (*path, "*"))

    for (version, kind), crd in CRDS.items():
        for served in crd["spec"]["versions"]:
            walk(version, kind, served["name"], served["schema"]["openAPIV3Schema"], ())
    return out


SITES = _sites()
_HAS = re.compile(r"has\(self\.(\w+)\)")
_IN = re.compile(r"^self in \[(.*)\]$")


def _example(schema: dict[str, Any]) -> Any:
    """A schema-valid value for a field: the first enum value, or an empty container."""
    if "enum" in schema:
        return schema["enum"][0]
    return {"object": {}, "array": [], "integer": 1, "boolean": True}.get(schema.get("type", ""), "x")


def cases(site: Site) -> list[tuple[Any, Any, bool]]:
    """(value, old value or None, whether the rule passes) derived from the rule's text."""
    rule = site.rule["rule"]
    if rule == "self == oldSelf":
        return [("ray.io/kuberay-operator", "ray.io/kuberay-operator", True),
                ("kueue.x-k8s.io/multikueue", "ray.io/kuberay-operator", False)]
    m = _IN.match(rule)
    if m:
        allowed = [s.strip().strip("'") for s in m.group(1).split(",")]
        return [(a, None, True) for a in allowed] + [("Bogus", None, False)]
    fields = sorted(set(_HAS.findall(rule)))
    assert fields and re.fullmatch(r"[\s()!|&]*", _HAS.sub("", rule)), f"no case generator for {rule!r}"
    py = _HAS.sub(lambda mm: f"('{mm.group(1)}' in s)", rule).replace("&&", " and ").replace("||", " or ")
    py = re.sub(r"!(?!=)", " not ", py)
    out = []
    for n in range(len(fields) + 1):
        for present in itertools.combinations(fields, n):
            value = {f: _example(site.node["properties"][f]) for f in present}
            out.append((value, None, bool(eval(py, {}, {"s": value}))))  # the rule text is ours, from the CRD
    return out


def place(site: Site, value: Any) -> tuple[dict[str, Any], str]:
    """A minimal object holding `value` at the site, and the field path the API server would print."""
    obj: dict[str, Any] = {"apiVersion": f"ray.io/{site.served}", "kind": site.kind, "metadata": {"name": "t"}}
    holder: Any = obj
    printed = ""
    for i, name in enumerate(site.path):
        last = i == len(site.path) - 1
        if name == "*":
            continue
        nxt: Any = value if last else ([{}] if site.path[i + 1] == "*" else {})
        holder[name] = nxt
        printed = f"{printed}.{name}" if printed else name
        if not last and site.path[i + 1] == "*":
            printed += "[0]"
            if i + 1 == len(site.path) - 1:
                nxt[0] = value
            holder = nxt[0]
        else:
            holder = nxt
    return obj, printed


@pytest.fixture(scope="module")
def validators() -> dict[tuple[str, str, str], cel.CrdValidator]:
    out = {}
    for (version, kind), crd in CRDS.items():
        for served, validator in cel.crd_validators(crd).items():
            out[(version, kind, served)] = validator
    return out


def test_every_bundled_version_has_rules_and_all_are_covered() -> None:
    assert VERSIONS == ["1.3.2", "1.4.2", "1.5.1", "1.6.2", "1.7.0"]
    assert {s.version for s in SITES} == set(VERSIONS)
    assert len(SITES) == 76
    assert {s.rule["rule"] for s in SITES} == {
        "self == oldSelf",
        "self in ['ray.io/kuberay-operator', 'kueue.x-k8s.io/multikueue']",
        "self in ['DeleteCluster', 'DeleteWorkers', 'DeleteSelf', 'DeleteNone']",
        "!((has(self.onSuccess) || has(self.onFailure)) && has(self.deletionRules))",
        "((has(self.onSuccess) && has(self.onFailure)) || has(self.deletionRules))",
        "!(has(self.jobStatus) && has(self.jobDeploymentStatus))",
        "has(self.jobStatus) || has(self.jobDeploymentStatus)",
    }


@pytest.mark.parametrize("site", SITES, ids=lambda s: s.id)
def test_bundled_rule_fails_and_passes_as_the_api_server_would(
        site: Site, validators: dict[tuple[str, str, str], cel.CrdValidator]) -> None:
    validator = validators[(site.version, site.kind, site.served)]
    outcomes = cases(site)
    assert any(ok for *_, ok in outcomes) and not all(ok for *_, ok in outcomes)
    for value, old_value, ok in outcomes:
        obj, printed = place(site, value)
        old = place(site, old_value)[0] if old_value is not None else None
        hits = [f for f in validator.validate(obj, old) if f.rule == site.rule["rule"] and f.path == printed]
        if ok:
            assert hits == [], (value, old_value)
        else:
            assert [(h.detail, h.warning, h.evaluation_error) for h in hits] == [(site.rule["message"], False, False)]
            assert str(hits[0]) == f'{printed}: Invalid value: "{site.node["type"]}": {site.rule["message"]}'


def _validator(version: str, kind: str) -> cel.CrdValidator:
    return cel.crd_validators(CRDS[(version, kind)])["v1"]


def _rayjob(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "j"}, "spec": spec}


def test_concrete_messages_for_kuberay_objects() -> None:
    job = _validator("1.7.0", "RayJob")
    bad = _rayjob(managedBy="kueue", deletionStrategy={"onSuccess": {"policy": "DeleteCluster"}},
                  rayClusterSpec={"managedBy": "other"})
    assert [str(f) for f in job.validate(bad)] == [
        "spec.managedBy: Invalid value: \"string\": the managedBy field value must be either "
        "'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'",
        'spec.deletionStrategy: Invalid value: "object": deletionStrategy requires either BOTH onSuccess and '
        "onFailure, OR the deletionRules field (cannot be empty)",
        "spec.rayClusterSpec.managedBy: Invalid value: \"string\": the managedBy field value must be either "
        "'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'",
    ]
    cron = _validator("1.6.2", "RayCronJob")
    both = {"jobStatus": "SUCCEEDED", "jobDeploymentStatus": "Failed"}
    obj = {"spec": {"jobTemplate": {"deletionStrategy": {"deletionRules": [
        {"condition": {"jobStatus": "FAILED"}, "policy": "DeleteCluster"},
        {"condition": both, "policy": "DeleteSelf"}]}}}}
    assert [str(f) for f in cron.validate(obj)] == [
        'spec.jobTemplate.deletionStrategy.deletionRules[1].condition: Invalid value: "object": '
        "JobStatus and JobDeploymentStatus cannot be used together within the same deletion condition."]
    # the deletionStrategy rules arrived in 1.5: the same object is valid for 1.4.2
    assert _validator("1.4.2", "RayJob").validate(_rayjob(deletionStrategy={"onSuccess": {}})) == []


def test_transition_rule_runs_only_against_an_old_value_and_ratchets_unchanged_errors() -> None:
    cluster = _validator("1.7.0", "RayCluster")
    new = {"kind": "RayCluster", "spec": {"gcsFaultToleranceOptions": {"backend": "redis"}}}
    old = {"kind": "RayCluster", "spec": {"gcsFaultToleranceOptions": {"backend": "memory"}}}
    assert cluster.validate(new) == []  # create: nothing to compare with
    assert cluster.validate(new, copy.deepcopy(new)) == []
    [finding] = cluster.validate(new, old)
    assert str(finding) == 'spec.gcsFaultToleranceOptions.backend: Invalid value: "string": ' \
                           "gcsFaultToleranceOptions.backend is immutable"
    assert not finding.warning
    # an invalid value already in the live object is only a warning (CRD validation ratcheting)
    stale = {"kind": "RayCluster", "spec": {"managedBy": "someone-else"}}
    [ratcheted] = cluster.validate(stale, copy.deepcopy(stale))
    assert ratcheted.warning and ratcheted.path == "spec.managedBy"
    changed = {"kind": "RayCluster", "spec": {"managedBy": "someone-new"}}
    assert [(f.detail, f.warning) for f in cluster.validate(changed, stale)] == [
        ("the managedBy field is immutable", False),
        ("the managedBy field value must be either 'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'", False)]


# --------------------------------------------------------------------------- the walker on made-up schemas

def _schema(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}


def _rules(*rules: dict[str, Any], **node: Any) -> dict[str, Any]:
    return {**node, "x-kubernetes-validations": list(rules)}


def test_message_expression_default_message_field_path_and_reason() -> None:
    schema = _schema(
        replicas=_rules({"rule": "self <= 10", "messageExpression": "'replicas ' + string(self) + ' > 10'"},
                        type="integer"),
        name=_rules({"rule": "self.size() < 5", "messageExpression": "''", "message": "too long"},
                    {"rule": "self.startsWith('a')"}, type="string"),
        group=_rules({"rule": "has(self.name)", "fieldPath": ".name", "reason": "FieldValueRequired",
                      "message": "a group needs a name"},
                     type="object", properties={"name": {"type": "string"}}),
    )
    validator = cel.CrdValidator(schema)
    got = [str(f) for f in validator.validate({"spec": {"replicas": 12, "name": "bobcat", "group": {}}})]
    assert got == [
        'spec.replicas: Invalid value: "integer": replicas 12 > 10',
        'spec.name: Invalid value: "string": too long',  # a blank messageExpression falls back to the message
        'spec.name: Invalid value: "string": failed rule: self.startsWith(\'a\')',
        "spec.group.name: Required value: a group needs a name",
    ]
    assert validator.validate({"spec": {"replicas": 3, "name": "ann", "group": {"name": "g"}}}) == []


def test_evaluation_errors_read_like_the_api_server() -> None:
    schema = _schema(
        limits=_rules({"rule": "self.cpu > 0"}, type="object", properties={"cpu": {"type": "integer"}}),
        port=_rules({"rule": "self + 1 > 1", "message": "port must be a number"},
                    **{"x-kubernetes-int-or-string": True}),
    )
    found = cel.CrdValidator(schema).validate({"spec": {"limits": {}, "port": "http"}})
    assert [str(f) for f in found] == [
        'spec.limits: Invalid value: "object": no such key: cpu evaluating rule: self.cpu > 0',
        "spec.port: Invalid value: \"\": 'no such overload': call arguments did not match a supported operator, "
        "function or macro signature for rule: port must be a number",
    ]
    assert all(f.evaluation_error and not f.warning for f in found)


def test_list_map_items_correlate_by_key_and_atomic_lists_do_not() -> None:
    item = _rules({"rule": "self.size == oldSelf.size", "message": "size is immutable"}, type="object",
                  properties={"name": {"type": "string"}, "size": {"type": "integer"}})
    schema = _schema(keyed={"type": "array", "items": item, "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"]},
                     atomic={"type": "array", "items": item})
    validator = cel.CrdValidator(schema)
    old = {"spec": {"keyed": [{"name": "a", "size": 1}, {"name": "b", "size": 2}],
                    "atomic": [{"name": "a", "size": 1}]}}
    new = {"spec": {"keyed": [{"name": "b", "size": 2}, {"name": "a", "size": 5}, {"name": "c", "size": 1}],
                    "atomic": [{"name": "a", "size": 5}]}}
    assert [str(f) for f in validator.validate(new, old)] == [
        'spec.keyed[1]: Invalid value: "object": size is immutable']


def test_map_values_root_metadata_and_formats() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('ray-')", "message": "name prefix"},
                                     {"rule": "!has(self.metadata.labels)", "message": "labels are not visible"}],
        "properties": {"metadata": {"type": "object"}, "spec": {"type": "object", "properties": {
            "quotas": {"type": "object", "additionalProperties": _rules(
                {"rule": "quantity(self).isLessThan(quantity('8Gi'))", "message": "at most 8Gi"}, type="string")},
            "window": _rules({"rule": "self.end > self.start && self.end - self.start <= self.max"}, type="object",
                             properties={"start": {"type": "string", "format": "date-time"},
                                         "end": {"type": "string", "format": "date-time"},
                                         "max": {"type": "string", "format": "duration"}}),
            "ratio": _rules({"rule": "self < 0.5"}, type="number"),
        }}},
    }
    obj = {"metadata": {"name": "job", "labels": {"a": "b"}},
           "spec": {"quotas": {"gpu-memory": "16Gi", "memory": "4Gi"}, "ratio": 1,
                    "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T03:00:00Z", "max": "2h"}}}
    assert [str(f) for f in cel.CrdValidator(schema).validate(obj)] == [
        '<nil>: Invalid value: "object": name prefix',
        'spec.quotas[gpu-memory]: Invalid value: "string": at most 8Gi',
        'spec.ratio: Invalid value: "number": failed rule: self < 0.5',  # 1 is the double 1.0 to CEL
        'spec.window: Invalid value: "object": failed rule: self.end > self.start && self.end - self.start <= self.max',
    ]
    obj["spec"]["window"]["max"] = "3h"
    assert "spec.window" not in [f.path for f in cel.CrdValidator(schema).validate(obj)]


# --------------------------------------------------------------------------- compile, evaluate, libraries

def test_compile_is_cached_and_reports_errors() -> None:
    assert cel.compile_rule("self > 1") is cel.compile_rule("self > 1")
    with pytest.raises(cel.CelCompileError, match="Syntax error") as syntax:
        cel.compile_rule("self >")
    assert not syntax.value.unsupported
    with pytest.raises(cel.CelCompileError) as gap:
        cel.compile_rule("format.dns1123Label().validate(self).hasValue()")
    assert gap.value.unsupported
    with pytest.raises(cel.CelCompileError) as list_index:
        cel.compile_rule("self.indexOf('a') >= 0 && [1].indexOf(1) == 0")
    assert list_index.value.unsupported
    with pytest.raises(cel.CelCompileError) as misuse:  # a user's mistake, not our gap
        cel.compile_rule("self.indexOf(1) >= 0 && 'a'.indexOf(1) == 0")
    assert not misuse.value.unsupported
    with pytest.raises(cel.CelCompileError, match="must evaluate to a bool"):
        cel.compile_rule("'a' + 'b'")


@pytest.mark.parametrize(("expression", "expected"), [
    ("quantity('1Gi').isGreaterThan(quantity('512Mi')) && quantity('1').add(quantity('500m')) == quantity('1500m')",
     True),
    ("quantity('2').asInteger() == 2 && quantity('500m').asApproximateFloat() == 0.5 && isQuantity('1.5Gi')", True),
    ("url('https://example.com:8080/p?k=v').getHostname() == 'example.com' && !isURL('not a url')", True),
    ("cidr('10.0.0.0/8').containsIP(ip('10.1.2.3')) && ip('::1').family() == 6 && !isIP('10.0.0.300')", True),
    ("semver('1.2.3').isLessThan(semver('1.10.0')) && semver('v1.2', true).minor() == 2", True),
    ("'abc123def45'.findAll('[0-9]+') == ['123', '45'] && 'x9'.find('[0-9]') == '9'", True),
    ("[3, 1, 2].sum() == 6 && [3, 1, 2].max() == 3 && ![3, 1].isSorted()", True),
    ("'Hello'.lowerAscii().split('l') == ['he', '', 'o'] && sets.contains([1, 2], [2])", True),
    ("{'a': 1}.all(k, v, v > 0) && [1, 2].exists_one(x, x > 1) && {'x': 1}.?y.orValue(7) == 7", True),
])
def test_kubernetes_libraries(expression: str, expected: bool) -> None:
    assert cel.compile_rule(expression, kind=cel.RuleKind.POLICY).evaluate({}) == cel.Outcome(value=expected)


@pytest.mark.parametrize(("expression", "variables", "error"), [
    ("self.missing == 1", {"self": {}}, "no such key: missing"),
    ("self[3] == 1", {"self": [1]}, "index out of bounds: 3"),
    ("1 / self == 1", {"self": 0}, "division by zero"),
    ("self + 1 == 2", {"self": "x"}, "no such overload"),
    ("quantity(self).sign() == 1", {"self": "12 GB"}, "quantities must match the regular expression "
                                                      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
])
def test_evaluation_errors_use_cel_go_wording(expression: str, variables: dict[str, Any], error: str) -> None:
    assert cel.compile_rule(expression).evaluate(variables) == cel.Outcome(error=error)


def test_errors_are_absorbed_by_or_like_cel() -> None:
    assert cel.compile_rule("self.missing == 1 || true").evaluate({"self": {}}).passed


def test_optional_old_self_sees_an_optional() -> None:
    rule = cel.compile_rule("!oldSelf.hasValue() || self >= oldSelf.value()", optional_old_self=True)
    assert rule.evaluate({"self": 1}).passed
    assert rule.evaluate({"self": 3, "oldSelf": 2}).passed
    assert not rule.evaluate({"self": 1, "oldSelf": 2}).passed


# --------------------------------------------------------------------------- admission policies

GPU_POLICY = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "ray-gpu-budget"},
    "spec": {
        "failurePolicy": "Fail",
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
        "matchConditions": [{"name": "rayjobs-only", "expression": "object.kind == 'RayJob'"}],
        "variables": [{"name": "gpus", "expression":
                       "object.spec.rayClusterSpec.workerGroupSpecs.map(g, g.maxReplicas * "
                       "int(g.template.spec.containers[0].resources.limits['nvidia.com/gpu'])).sum()"}],
        "validations": [
            {"expression": "variables.gpus <= int(params.data.maxGPUs)",
             "messageExpression": "'RayJob ' + object.metadata.name + ' asks for ' + string(variables.gpus) + "
                                  "' GPUs; the budget is ' + params.data.maxGPUs",
             "reason": "Forbidden"},
            {"expression": "object.metadata.labels.team != ''", "message": "a team label is required"},
        ],
    },
}


def _gpu_job(replicas: int, gpus: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    container = {"name": "w", "resources": {"limits": {"nvidia.com/gpu": gpus}}}
    return {"apiVersion": "ray.io/v1", "kind": "RayJob",
            "metadata": {"name": "train", "namespace": "ml", "labels": labels or {"team": "ml"}},
            "spec": {"rayClusterSpec": {"workerGroupSpecs": [
                {"maxReplicas": replicas, "template": {"spec": {"containers": [container]}}}]}}}


def test_policy_denies_with_params_and_message_expression() -> None:
    params = {"data": {"maxGPUs": "8"}}
    [denied] = evaluate_policy(GPU_POLICY, obj=_gpu_job(4, "4"), params=params, binding="prod-budget")
    assert denied.denial() == ("ValidatingAdmissionPolicy 'ray-gpu-budget' with binding 'prod-budget' denied "
                               "request: RayJob train asks for 16 GPUs; the budget is 8")
    assert denied.reason == "Forbidden" and not denied.evaluation_error
    assert evaluate_policy(GPU_POLICY, obj=_gpu_job(2, "4"), params=params) == []


def test_policy_errors_follow_failure_policy_and_match_conditions() -> None:
    no_team = _gpu_job(1, "1", labels={"owner": "x"})
    [error] = evaluate_policy(GPU_POLICY, obj=no_team, params={"data": {"maxGPUs": "8"}})
    assert error.evaluation_error
    assert error.message == "expression 'object.metadata.labels.team != ''' resulted in error: no such key: team"
    lenient = copy.deepcopy(GPU_POLICY)
    lenient["spec"]["failurePolicy"] = "Ignore"
    assert evaluate_policy(lenient, obj=no_team, params={"data": {"maxGPUs": "8"}}) == []
    cluster = {**_gpu_job(100, "8"), "kind": "RayCluster"}
    assert evaluate_policy(GPU_POLICY, obj=cluster, params={"data": {"maxGPUs": "8"}}) == []


def test_environment_rule_over_object_and_request() -> None:
    rule = cel.compile_rule("request.operation != 'UPDATE' || object.spec.entrypoint == oldObject.spec.entrypoint",
                            kind=cel.RuleKind.POLICY)
    old = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "j"}, "spec": {"entrypoint": "a"}}
    new = copy.deepcopy(old)
    new["spec"]["entrypoint"] = "b"
    request = admission_request(new, old)
    assert request["operation"] == "UPDATE" and request["kind"] == {"group": "ray.io", "version": "v1",
                                                                    "kind": "RayJob"}
    assert not rule.evaluate({"object": new, "oldObject": old, "request": request}).passed
    assert rule.evaluate({"object": new, "request": admission_request(new)}).passed
