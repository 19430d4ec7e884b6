"""Every KubeRay v1.5.1 sample of a kind the sandbox serves applies with
`kubectl apply --server-side` and reads back equal to what was applied, apart from
fields the server sets (metadata, status, defaults); the operator is off."""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_ray.refs import split_api_version
from gitops_ray.sandbox import Sandbox

pytestmark = pytest.mark.kubectl

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "kuberay-samples-v1.5.1"


def _namespace_for(path: Path) -> str:
    stem = str(path.relative_to(SAMPLES)).removesuffix(".yaml").replace("/", "-").replace(".", "-").lower()
    return ("s-" + stem)[:63].rstrip("-")


def _served_documents(box: Sandbox) -> dict[Path, list[dict[str, Any]]]:
    assert box.api is not None
    found: dict[Path, list[dict[str, Any]]] = {}
    for path in sorted(SAMPLES.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or "kind" not in doc:
                continue
            group, version = split_api_version(doc["apiVersion"])
            if not (doc.get("metadata") or {}).get("name"):
                continue  # generateName samples are for `kubectl create`; apply refuses them client-side
            if box.api.registry.find_kind(group, version, doc["kind"]) is not None:
                found.setdefault(path, []).append(doc)
    return found


def _expected(doc: dict[str, Any]) -> dict[str, Any]:
    """What a read-back must contain: the document minus nulls, Secret stringData as base64 data."""
    doc = json.loads(json.dumps(doc))
    if doc["kind"] == "Secret":  # []byte values: the server stores bytes and re-encodes them without line breaks
        doc["data"] = {k: base64.b64encode(base64.b64decode(v)).decode() for k, v in (doc.get("data") or {}).items()}
    if doc["kind"] == "Secret" and "stringData" in doc:
        data = doc.setdefault("data", {})
        for key, value in doc.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    return doc


def _differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    if expected is None:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        out: list[str] = []
        for key, value in expected.items():
            if value is None:
                continue
            if key not in actual:
                if value in ({}, []):
                    continue  # an empty map or list reads back as absent, like on a real server
                out.append(f"{path}.{key}: missing")
                continue
            out += _differences(value, actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in _differences(e, a, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def test_every_served_sample_applies_server_side_and_reads_back(sandbox: Sandbox, kubectl: Any) -> None:
    samples = _served_documents(sandbox)
    assert len(samples) >= 60, "the sample corpus went missing"
    kinds = {doc["kind"] for docs in samples.values() for doc in docs}
    assert {"RayCluster", "RayJob", "RayService", "ConfigMap", "Secret", "Service"} <= kinds
    stream: list[dict[str, Any]] = []
    for path, docs in samples.items():
        ns = _namespace_for(path)
        stream.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for doc in docs:
            stream.append({**doc, "metadata": {**doc["metadata"], "namespace": ns}})
    result = kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(stream), timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    problems: list[str] = []
    for path, docs in samples.items():
        ns = _namespace_for(path)
        for doc in docs:
            rt = sandbox.api.registry.find_kind(*split_api_version(doc["apiVersion"]), doc["kind"])  # type: ignore[union-attr]
            assert rt is not None
            url = f"{sandbox.url}/{'apis/' + rt.group if rt.group else 'api'}/{rt.version}/namespaces/{ns}/" \
                  f"{rt.plural}/{doc['metadata']['name']}"
            with urllib.request.urlopen(url) as response:
                live = json.load(response)
            expected = _expected(doc)
            expected["metadata"] = {k: v for k, v in expected["metadata"].items() if k in ("labels", "annotations")}
            problems += [f"{path.name} {doc['kind']}/{doc['metadata']['name']}{d}"
                         for d in _differences(expected, live)]
    assert not problems, "\n".join(problems[:40])
