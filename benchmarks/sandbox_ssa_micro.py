"""Server-side applies per second of the sandbox's merge and admission libraries alone.

The sandbox must sustain 200 applies/s end to end (HTTP, JSON, SQLite included);
this measures only what `fieldmanager` and `typeschema` cost per apply of a
KubeRay sample: `apply` (merge, ownership, conflicts, managedFields) followed by
`prune`, `apply_defaults` and `validate`, as the server runs them. The peer is a
JSON round trip of the same object (`json.loads(json.dumps(obj))`), the least
any API server does per request, measured in the same run.

    .venv/bin/python benchmarks/sandbox_ssa_micro.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gitops_ray.sandbox.fieldmanager import apply, update
from gitops_ray.sandbox.typeschema import TypeSchema, apply_defaults, prune, validate

ROOT = Path(__file__).resolve().parents[1]
TARGET_PER_SECOND = 200.0
CASES = (("RayCluster", "ray-cluster.complete.yaml"), ("RayJob", "ray-job.sample.yaml"))


def load_sample(name: str) -> dict[str, Any]:
    text = (ROOT / "tests" / "data" / "kuberay-samples-v1.5.1" / name).read_text()
    doc: dict[str, Any] = next(d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d)
    doc["metadata"]["namespace"] = "default"
    return doc


def rate(fn: Callable[[], object], seconds: float) -> float:
    fn()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            fn()
        count += 20
    return count / elapsed


def bench(kind: str, sample: str, seconds: float) -> None:
    with gzip.open(ROOT / "schemas" / "kuberay" / "1.5.1" / "crds" / f"ray.io_{kind.lower()}s.yaml.gz") as f:
        crd = yaml.load(f, Loader=yaml.CSafeLoader)
    build = time.perf_counter()
    schema = TypeSchema.from_openapi(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    build_ms = (time.perf_counter() - build) * 1000
    config = load_sample(sample)
    clock = iter(range(10**9))

    def ssa(live: dict[str, Any] | None, cfg: dict[str, Any]) -> dict[str, Any]:
        seconds_since = next(clock)
        now = f"2025-01-01T{seconds_since // 3600 % 24:02d}:{seconds_since // 60 % 60:02d}:{seconds_since % 60:02d}Z"
        obj = apply(live, cfg, manager="gitops-ray", force=False, schema=schema, api_version="ray.io/v1",
                    subresource=None, now=now)
        prune(schema, obj)
        apply_defaults(schema, obj)
        validate(schema, obj, live)
        return obj

    live = ssa(None, config)
    # A config that carries the defaults the server fills in: re-applying it is a true no-op.
    no_op_config = copy.deepcopy(live)
    no_op_config["metadata"] = {"name": live["metadata"]["name"], "namespace": "default"}
    settled = ssa(live, no_op_config)
    changed = copy.deepcopy(config)
    changed["metadata"].setdefault("labels", {})["rollout"] = "2"
    operator = copy.deepcopy(live)
    operator["metadata"].setdefault("labels", {})["owned-by-operator"] = "yes"
    shared = update(live, operator, manager="kuberay-operator", schema=schema, api_version="ray.io/v1",
                    subresource=None, now="2025-01-01T00:00:00Z")
    peer = rate(lambda: json.loads(json.dumps(live)), seconds)
    for label, fn in (
        ("create", lambda: ssa(None, config)),
        ("re-apply of the manifest", lambda: ssa(live, config)),
        ("re-apply, defaults included (no-op)", lambda: ssa(settled, no_op_config)),
        ("apply with a changed label", lambda: ssa(live, changed)),
        ("re-apply next to an operator's Update", lambda: ssa(shared, config)),
    ):
        per_second = rate(fn, seconds)
        print(f"{kind + ': ' + label:<48} {per_second:>10.0f} {per_second / TARGET_PER_SECOND:>8.1f}x "
              f"{per_second / peer:>18.2f}x")
    print(f"{kind + ': JSON round trip (peer)':<48} {peer:>10.0f}   (schema built once in {build_ms:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    print(f"{'case':<48} {'applies/s':>10} {'vs 200/s':>9} {'vs JSON round trip':>19}")
    for kind, sample in CASES:
        bench(kind, sample, args.seconds)


if __name__ == "__main__":
    main()
