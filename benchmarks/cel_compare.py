"""Compare the CEL libraries on PyPI on the KubeRay rules and the Kubernetes CEL environment (docs/cel.md).

`--walker` times only our evaluator on whole KubeRay objects (runs in the project venv). The library
comparison runs in a scratch venv holding the candidates (none but the chosen one is a project dependency):

    python -m venv /tmp/celcmp && /tmp/celcmp/bin/pip install cel-python common-expression-language \
        cel-expr-python pyyaml
    /tmp/celcmp/bin/python benchmarks/cel_compare.py [--quick]

A library that is not installed is skipped. Each library runs with everything it ships enabled
(cel-expr-python's strings/optional/math/encoders extensions; common-expression-language's opt-in
Python stdlib), and nothing of ours: the suite measures what we would have to supply ourselves.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import importlib.util
import itertools
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # gitops_ray itself need not be installed in the scratch venv


class Err:
    """An expected (or observed) evaluation error."""

    def __repr__(self) -> str:
        return "ERROR"


ERR = Err()
UNSUPPORTED = "unsupported"  # does not compile / function unknown


# --------------------------------------------------------------------------- the KubeRay rules

@dataclass(frozen=True)
class Site:
    version: str
    kind: str
    served: str
    path: str
    rule: dict[str, Any]


def kuberay_sites() -> list[Site]:
    sites: list[Site] = []

    def walk(node: Any, path: str, out: list[tuple[str, dict[str, Any]]]) -> None:
        if not isinstance(node, dict):
            return
        for rule in node.get("x-kubernetes-validations") or []:
            out.append((path, rule))
        for key, sub in (node.get("properties") or {}).items():
            walk(sub, f"{path}.{key}", out)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[*]", out)
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}[*]", out)

    for crd_file in sorted(ROOT.glob("schemas/kuberay/*/crds/*.yaml.gz")):
        crd = yaml.load(gzip.decompress(crd_file.read_bytes()), Loader=yaml.CSafeLoader)
        version = crd_file.parent.parent.name
        for served in crd["spec"]["versions"]:
            found: list[tuple[str, dict[str, Any]]] = []
            walk(served["schema"]["openAPIV3Schema"], "", found)
            sites.extend(Site(version, crd["spec"]["names"]["kind"], served["name"], p, r) for p, r in found)
    return sites


_HAS = re.compile(r"has\(self\.(\w+)\)")
_IN = re.compile(r"^self in \[(.*)\]$")


def rule_cases(rule: str) -> list[tuple[dict[str, Any], bool]]:
    """(variables, expected result) covering every branch of one KubeRay rule shape."""
    if rule == "self == oldSelf":
        return [({"self": "a", "oldSelf": "a"}, True), ({"self": "a", "oldSelf": "b"}, False)]
    m = _IN.match(rule)
    if m:
        allowed = [s.strip().strip("'") for s in m.group(1).split(",")]
        return [({"self": a}, True) for a in allowed] + [({"self": "Bogus"}, False)]
    fields = sorted(set(_HAS.findall(rule)))
    if fields and re.fullmatch(r"[\s()!|&]*", _HAS.sub("", rule)):
        py = _HAS.sub(lambda mm: f"('{mm.group(1)}' in s)", rule).replace("&&", " and ").replace("||", " or ")
        py = re.sub(r"!(?!=)", " not ", py)
        cases = []
        for n in range(len(fields) + 1):
            for present in itertools.combinations(fields, n):
                s = {f: {"x": 1} for f in present}
                cases.append(({"self": s}, bool(eval(py, {}, {"s": s}))))  # our own rule text, not input
        return cases
    raise ValueError(f"no case generator for rule {rule!r}")


# --------------------------------------------------------------------------- the Kubernetes environment

# (group, expression, variables, expected). Expected values follow cel-go as configured by the
# API server (k8s.io/apiserver/pkg/cel/environment/base.go): strings ext v2, sets ext, optional
# types, cross-type numeric comparisons, two-variable comprehensions, Kubernetes' own libraries.
K8S: list[tuple[str, str, dict[str, Any], Any]] = [
    ("core", "has(self.a) && !has(self.b)", {"self": {"a": 1}}, True),
    ("core", "self.a.size() == 3 && size(self.a) == 3", {"self": {"a": "abc"}}, True),
    ("core", "'b' in self && self['b'] == 2", {"self": {"b": 2}}, True),
    ("core", "self.x > 1 ? 'big' : 'small'", {"self": {"x": 2}}, "big"),
    ("core", "int('42') + 1 == 43 && string(42) == '42' && double('1.5') == 1.5", {}, True),
    ("core", "type(self) == map", {"self": {}}, True),
    ("core", "'abc'.contains('b') && 'abc'.startsWith('a') && 'abc'.endsWith('c')", {}, True),
    ("core", "'abc'.matches('^a.c$')", {}, True),
    ("macros", "self.all(x, x > 0)", {"self": [1, 2, 3]}, True),
    ("macros", "self.exists(x, x == 2)", {"self": [1, 2, 3]}, True),
    ("macros", "self.exists_one(x, x > 2)", {"self": [1, 2, 3]}, True),
    ("macros", "self.map(x, x * 2) == [2, 4, 6]", {"self": [1, 2, 3]}, True),
    ("macros", "self.map(x, x > 1, x * 10) == [20, 30]", {"self": [1, 2, 3]}, True),
    ("macros", "self.filter(x, x > 1) == [2, 3]", {"self": [1, 2, 3]}, True),
    ("macros", "self.all(k, self[k] > 0)", {"self": {"a": 1, "b": 2}}, True),
    ("two-var", "self.all(k, v, v > 0)", {"self": {"a": 1}}, True),
    ("two-var", "self.exists(i, v, i == 1 && v == 20)", {"self": [10, 20]}, True),
    ("two-var", "self.transformList(i, v, v * 2) == [2, 4]", {"self": [1, 2]}, True),
    ("two-var", "self.transformMap(k, v, v + 1) == {'a': 2}", {"self": {"a": 1}}, True),
    ("numbers", "self.i < 1.5 && self.i == 1.0", {"self": {"i": 1}}, True),
    ("numbers", "self.d > 0", {"self": {"d": 0.5}}, True),
    ("time", "timestamp('2024-01-01T00:00:00Z') < timestamp('2024-06-01T00:00:00Z')", {}, True),
    ("time", "duration('1h') > duration('30m')", {}, True),
    ("time", "timestamp(self.t) + duration('1h') == timestamp('2024-01-01T01:00:00Z')",
     {"self": {"t": "2024-01-01T00:00:00Z"}}, True),
    ("optional", "self.?a.orValue(5) == 5", {"self": {}}, True),
    ("optional", "self.?a.hasValue()", {"self": {"a": 1}}, True),
    ("optional", "optional.of(1).value() == 1 && !optional.none().hasValue()", {}, True),
    ("optional", "self[?'k'].orValue('d') == 'd'", {"self": {}}, True),
    ("strings", "'Hello'.lowerAscii() == 'hello' && 'hello'.upperAscii() == 'HELLO'", {}, True),
    ("strings", "'a,b,c'.split(',') == ['a', 'b', 'c']", {}, True),
    ("strings", "['a', 'b'].join('-') == 'a-b'", {}, True),
    ("strings", "'hello'.indexOf('l') == 2 && 'hello'.lastIndexOf('l') == 3", {}, True),
    ("strings", "'hello'.substring(1, 3) == 'el' && 'hello'.charAt(1) == 'e'", {}, True),
    ("strings", "'  x '.trim() == 'x' && 'hello'.replace('l', 'L') == 'heLLo'", {}, True),
    ("strings", "'%s-%d'.format(['a', 1]) == 'a-1'", {}, True),
    ("strings", "strings.quote('a\"b') == '\"a\\\\\"b\"'", {}, True),
    ("k8s-regex", "'abc123'.find('[0-9]+') == '123'", {}, True),
    ("k8s-regex", "'a1b2'.findAll('[0-9]') == ['1', '2']", {}, True),
    ("k8s-lists", "[1, 2, 3].isSorted() && ![2, 1].isSorted()", {}, True),
    ("k8s-lists", "[1, 2, 3].sum() == 6 && [3, 1, 2].min() == 1 && [3, 1, 2].max() == 3", {}, True),
    ("k8s-lists", "[1, 2, 2].indexOf(2) == 1 && [1, 2, 2].lastIndexOf(2) == 2", {}, True),
    ("sets", "sets.contains([1, 2, 3], [1, 2]) && sets.equivalent([1, 2], [2, 1])", {}, True),
    ("sets", "sets.intersects([1], [1, 2])", {}, True),
    ("k8s-urls", "isURL('https://example.com/p') && !isURL('not a url')", {}, True),
    ("k8s-urls", "url('https://example.com:8080/p').getHost() == 'example.com:8080'", {}, True),
    ("k8s-urls", "url('https://example.com:8080/p').getHostname() == 'example.com'", {}, True),
    ("k8s-urls", "url('https://example.com:8080/p').getPort() == '8080'", {}, True),
    ("k8s-urls", "url('https://example.com/a%20b?k=v').getEscapedPath() == '/a%20b'", {}, True),
    ("k8s-urls", "url('https://example.com/p?k=v').getQuery() == {'k': ['v']}", {}, True),
    ("k8s-quantity", "quantity('1Gi').isGreaterThan(quantity('512Mi'))", {}, True),
    ("k8s-quantity", "isQuantity('1.5Gi') && !isQuantity('1.5GiB')", {}, True),
    ("k8s-quantity", "quantity('2').asInteger() == 2 && quantity('500m').asApproximateFloat() == 0.5", {}, True),
    ("k8s-quantity", "quantity('1Gi').compareTo(quantity('1024Mi')) == 0", {}, True),
    ("k8s-quantity", "quantity('1').add(quantity('500m')) == quantity('1500m')", {}, True),
    ("k8s-ip", "isIP('10.0.0.1') && ip('10.0.0.1').family() == 4", {}, True),
    ("k8s-ip", "cidr('10.0.0.0/8').containsIP(ip('10.1.2.3')) && isCIDR('10.0.0.0/8')", {}, True),
    ("k8s-format", "format.dns1123Label().validate('Not_Valid').hasValue()", {}, True),
    ("k8s-semver", "isSemver('1.2.3') && semver('1.2.3').isLessThan(semver('1.3.0'))", {}, True),
    ("errors", "self.missing == 1", {"self": {}}, ERR),
    ("errors", "self.missing == 1 || true", {"self": {}}, True),
    ("errors", "self.x + 1 == 2", {"self": {"x": "s"}}, ERR),
    ("errors", "self[5] == 1", {"self": [1]}, ERR),
    ("errors", "1 / self.z == 1", {"self": {"z": 0}}, ERR),
]


# --------------------------------------------------------------------------- adapters

class Adapter:
    name = ""
    module = ""

    def compile(self, expr: str) -> Any: ...
    def run(self, program: Any, variables: dict[str, Any]) -> Any: ...


class CelExprPython(Adapter):
    name, module = "cel-expr-python", "cel_expr_python"

    def __init__(self) -> None:
        from cel_expr_python import cel
        from cel_expr_python.ext import ext_encoders, ext_math, ext_optional, ext_strings

        self.cel = cel
        names = ("self", "oldSelf", "object", "oldObject", "params", "request")
        self.env = cel.NewEnv(variables={n: cel.Type.DYN for n in names},
                              extensions=[ext_strings.ExtStrings(), ext_optional.ExtOptional(),
                                          ext_math.ExtMath(), ext_encoders.ExtEncoders()])

    def compile(self, expr: str) -> Any:
        return self.env.compile(expr)

    def run(self, program: Any, variables: dict[str, Any]) -> Any:
        value = program.eval(data=variables)
        if value.type() == self.cel.Type.ERROR:
            return ERR
        return value.plain_value()


class CommonExpressionLanguage(Adapter):
    name, module = "common-expression-language", "cel"

    def __init__(self) -> None:
        import cel
        from cel import stdlib

        self.cel = cel
        self.functions: dict[str, Any] = {}
        ctx = cel.Context()
        stdlib.add_stdlib_to_context(ctx)
        self.functions = ctx.functions

    def compile(self, expr: str) -> Any:
        return self.cel.compile(expr)

    def run(self, program: Any, variables: dict[str, Any]) -> Any:
        ctx = self.cel.Context(variables=variables, functions=self.functions)
        try:
            return program.execute(ctx)
        except RuntimeError as exc:
            if "Undefined variable or function" in str(exc):
                raise
            return ERR
        except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError, OverflowError):
            return ERR


class CelPython(Adapter):
    name, module = "cel-python", "celpy"

    def __init__(self) -> None:
        import celpy

        self.celpy = celpy
        self.env = celpy.Environment()

    def compile(self, expr: str) -> Any:
        return self.env.program(self.env.compile(expr))

    def run(self, program: Any, variables: dict[str, Any]) -> Any:
        activation = {k: self.celpy.json_to_cel(v) for k, v in variables.items()}
        try:
            result = program.evaluate(activation)
        except self.celpy.CELEvalError as exc:
            if str(exc.args[0]).startswith("undeclared reference"):
                raise
            return ERR
        return _plain(result, self.celpy.celtypes.BoolType)


def _plain(value: Any, bool_type: type = bool) -> Any:
    if isinstance(value, bool_type):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes | dt.datetime | dt.timedelta) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, list):
        return [_plain(v, bool_type) for v in value]
    if isinstance(value, dict):
        return {_plain(k, bool_type): _plain(v, bool_type) for k, v in value.items()}
    if isinstance(value, Exception):
        return ERR
    return value


class GitopsRay(Adapter):
    """The chosen engine with our Kubernetes libraries (gitops_ray/checks/cel.py): what we actually run."""

    name, module = "gitops-ray checks.cel", "gitops_ray"

    def __init__(self) -> None:
        from gitops_ray.checks import cel

        self.cel = cel

    def compile(self, expr: str) -> Any:
        kind = self.cel.RuleKind.CRD if re.search(r"\b(old)?[sS]elf\b", expr) else self.cel.RuleKind.POLICY
        # __wrapped__: no cache, so the timing is a real compile
        return self.cel.compile_rule.__wrapped__(expr, kind=kind, returns_bool=False)

    def run(self, program: Any, variables: dict[str, Any]) -> Any:
        outcome = program.evaluate(variables)
        return ERR if outcome.error is not None else outcome.value


ADAPTERS: list[type[Adapter]] = [CelExprPython, CommonExpressionLanguage, CelPython, GitopsRay]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, Err) or isinstance(b, Err):
        return isinstance(a, Err) and isinstance(b, Err)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def outcome(adapter: Adapter, expr: str, variables: dict[str, Any], expected: Any) -> str:
    try:
        program = adapter.compile(expr)
    except Exception:
        return UNSUPPORTED
    try:
        got = adapter.run(program, variables)
    except Exception:
        return UNSUPPORTED
    return "ok" if same(got, expected) else f"wrong ({got!r})"


# --------------------------------------------------------------------------- timing

def median_time(fn: Callable[[], Any], number: int, repeat: int = 5) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


def distinct_rules(sites: list[Site]) -> list[str]:
    return sorted({s.rule["rule"] for s in sites})


def _every_rule_reached(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with every field that carries a KubeRay rule set (a Kueue-managed job with deletion rules)."""
    import copy

    out = copy.deepcopy(obj)
    spec = out.setdefault("spec", {})
    clusters = [spec] if out["kind"] == "RayCluster" else []
    if out["kind"] in ("RayJob", "RayService"):
        spec["managedBy"] = "kueue.x-k8s.io/multikueue"
        clusters.append(spec.setdefault("rayClusterSpec" if out["kind"] == "RayJob" else "rayClusterConfig", {}))
    if out["kind"] == "RayJob":
        rule = {"condition": {"jobStatus": "SUCCEEDED"}, "policy": "DeleteSelf"}
        spec["deletionStrategy"] = {"deletionRules": [rule]}
    for cluster in clusters:
        cluster["managedBy"] = "kueue.x-k8s.io/multikueue"
        cluster["gcsFaultToleranceOptions"] = {"backend": "redis"}
    return out


def walker(quick: bool) -> None:
    """gitops_ray.checks.cel on whole KubeRay objects: the cost `validate` and `plan` would pay."""
    import os

    from gitops_ray.checks import cel
    from gitops_ray.checks.cel_policy import evaluate_policy

    samples = ROOT / "tests" / "data" / "kuberay-samples-v1.5.1"
    docs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(samples.rglob("*.yaml")):
        for doc in yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader):
            if isinstance(doc, dict) and doc.get("apiVersion") == "ray.io/v1":
                docs.setdefault(doc["kind"], []).append(doc)
    print(f"\n== walker (gitops_ray.checks.cel, KubeRay 1.7.0 CRDs, v1.5.1 samples), load average {os.getloadavg()}")
    number = 200 if quick else 2000
    for crd_file in sorted(ROOT.glob("schemas/kuberay/1.7.0/crds/*.yaml.gz")):
        crd = yaml.load(gzip.decompress(crd_file.read_bytes()), Loader=yaml.CSafeLoader)
        kind = crd["spec"]["names"]["kind"]
        cel.compile_rule.cache_clear()
        build = median_time(lambda c=crd: cel.crd_validators(c), 1, repeat=3)
        cel.compile_rule.cache_clear()
        cached = median_time(lambda c=crd: cel.crd_validators(c), 20)
        validator = cel.crd_validators(crd)["v1"]
        objs = docs.get(kind) or [{"apiVersion": "ray.io/v1", "kind": kind, "metadata": {"name": "x"},
                                   "spec": {"jobTemplate": {"managedBy": "ray.io/kuberay-operator"}}}]
        timings = []
        for variant in (objs, [_every_rule_reached(o) for o in objs]):
            for old in (False, True):
                timings.append(statistics.median(
                    median_time(lambda o=o, v=validator, u=old: v.validate(o, o if u else None), number)
                    for o in variant))
        print(f"  {kind:11s} {len(objs):2d} objects: build {build * 1e3:.1f} ms (rules cached {cached * 1e3:.2f} ms); "
              "per object: as in the samples create {:.1f} µs / update {:.1f} µs; every ruled field set "
              "create {:.1f} µs / update {:.1f} µs".format(*(t * 1e6 for t in timings)))
    policy = {"metadata": {"name": "p"}, "spec": {
        "matchConditions": [{"name": "jobs", "expression": "object.kind == 'RayJob'"}],
        "validations": [{"expression": "object.spec.rayClusterSpec.workerGroupSpecs.all(g, g.maxReplicas <= 10)"},
                        {"expression": "has(object.metadata.labels) && 'team' in object.metadata.labels",
                         "message": "team label"}]}}
    job = docs["RayJob"][0]
    per = median_time(lambda: evaluate_policy(policy, obj=job), number)
    print(f"  admission policy, 1 matchCondition + 2 validations over a RayJob: {per * 1e6:.1f} µs per object")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing iterations")
    parser.add_argument("--walker", action="store_true", help="only time gitops_ray.checks.cel on whole objects")
    args = parser.parse_args(argv)
    if args.walker:
        walker(args.quick)
        return 0
    sites = kuberay_sites()
    rules = distinct_rules(sites)
    print(f"KubeRay CEL rules: {len(sites)} sites in {len({(s.version, s.kind) for s in sites})} CRDs, "
          f"{len(rules)} distinct rule texts")
    adapters = []
    for cls in ADAPTERS:
        if importlib.util.find_spec(cls.module) is None:
            print(f"{cls.name}: not installed, skipped")
            continue
        adapters.append(cls())

    report: dict[str, Any] = {}
    for adapter in adapters:
        kuberay_ok = kuberay_total = 0
        for rule in rules:
            for variables, expected in rule_cases(rule):
                kuberay_total += 1
                kuberay_ok += outcome(adapter, rule, variables, expected) == "ok"
        groups: dict[str, list[str]] = {}
        for group, expr, variables, expected in K8S:
            groups.setdefault(group, []).append(outcome(adapter, expr, variables, expected))
        number = 20 if args.quick else 200
        compile_us = statistics.median(median_time(lambda r=r, a=adapter: a.compile(r), number) for r in rules) * 1e6
        evals = []
        for rule in rules:
            program = adapter.compile(rule)
            variables = rule_cases(rule)[0][0]
            evals.append(median_time(lambda p=program, v=variables, a=adapter: a.run(p, v), number * 10))
        report[adapter.name] = {
            "kuberay": f"{kuberay_ok}/{kuberay_total}",
            "groups": groups,
            "compile_us": round(compile_us, 1),
            "eval_us": round(statistics.median(evals) * 1e6, 2),
        }
        print(f"\n== {adapter.name}: KubeRay rule cases {kuberay_ok}/{kuberay_total}; "
              f"compile {compile_us:.1f} µs, evaluate {statistics.median(evals) * 1e6:.2f} µs (median rule)")
        for group, results in groups.items():
            bad = [f"{K8S_BY_GROUP[group][i]}: {r}" for i, r in enumerate(results) if r != "ok"]
            print(f"  {group:13s} {sum(r == 'ok' for r in results)}/{len(results)}"
                  + ("" if not bad else "   " + " | ".join(bad)))
    out = ROOT / "benchmarks" / "results"
    if out.is_dir():
        (out / "cel_compare.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0


K8S_BY_GROUP: dict[str, list[str]] = {}
for _group, _expr, _vars, _exp in K8S:
    K8S_BY_GROUP.setdefault(_group, []).append(_expr)


if __name__ == "__main__":
    sys.exit(main())
