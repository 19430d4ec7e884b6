"""CustomResourceDefinitions: the bundled KubeRay ones, the checks a CRD write must
pass, the status the apiextensions controllers give it, and the `ResourceType`s
a CRD serves (spec §1.2, §5).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from gitops_ray.sandbox.meta import Cause, forbidden, invalid, required
from gitops_ray.sandbox.resources import CR_VERBS, Column, ResourceType, version_priority

SCHEMAS_DIR = Path(__file__).resolve().parent.parent.parent / "schemas" / "kuberay"

_JUNCTOR_FORBIDDEN = ("type", "default", "description", "additionalProperties", "nullable")
_FORBIDDEN_KEYWORDS = ("$ref", "definitions", "dependencies", "patternProperties")


def bundled_versions(base: Path = SCHEMAS_DIR) -> list[str]:
    """KubeRay versions with CRDs under schemas/kuberay/, oldest first."""
    found = [p.name for p in base.iterdir() if (p / "crds").is_dir()] if base.is_dir() else []
    return sorted(found, key=lambda v: tuple(int(x) if x.isdigit() else 0 for x in v.split(".")))


def load_bundled(version: str | None = None, base: Path = SCHEMAS_DIR) -> tuple[str, list[dict[str, Any]]]:
    """(version, CRD objects) for `version`, default the newest bundled."""
    versions = bundled_versions(base)
    if not versions:
        raise FileNotFoundError(f"no KubeRay CRDs under {base}")
    chosen = version or versions[-1]
    if chosen not in versions:
        raise ValueError(f"KubeRay {chosen} is not bundled (have: {', '.join(versions)})")
    documents: list[dict[str, Any]] = json.loads(_bundled_json(str(base / chosen / "crds")))
    return chosen, documents


@functools.lru_cache(maxsize=8)
def _bundled_json(directory: str) -> str:
    """Parsing 4 MB of CRD YAML takes seconds: do it once per process, and keep a JSON copy in the user's
    cache directory keyed by the files' digest so the next process only decodes JSON."""
    paths = sorted(Path(directory).glob("*.yaml*"))
    raws = [p.read_bytes() for p in paths]
    digest = hashlib.sha256(b"".join(hashlib.sha256(r).digest() for r in raws)).hexdigest()[:24]
    cache = _cache_dir() / f"kuberay-crds-{digest}.json"
    try:
        return cache.read_text()
    except OSError:
        pass
    crds = []
    for path, raw in zip(paths, raws, strict=True):
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
        for doc in yaml.load_all(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                crds.append(doc)
    text = json.dumps(crds)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(cache)
    except OSError:
        pass
    return text


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gitops-ray"


def schema_tag(schema: dict[str, Any] | None) -> str:
    if schema is None:
        return ""
    return hashlib.sha256(json.dumps(schema).encode()).hexdigest()[:16]


def resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version, preferred (storage-priority) order first."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    versions = [v for v in spec.get("versions") or () if v.get("served")]
    storage = next((v["name"] for v in spec.get("versions") or () if v.get("storage")), "")
    out = []
    for version in sorted(versions, key=lambda v: version_priority(v["name"])):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        columns = tuple(
            Column(name=c["name"], type=c.get("type", "string"), format=c.get("format", ""),
                   description=c.get("description", ""), priority=int(c.get("priority", 0)), path=c["jsonPath"])
            for c in version.get("additionalPrinterColumns") or ()
        ) or (Column(name="Age", type="date", path=".metadata.creationTimestamp",
                     description="CreationTimestamp is a timestamp representing the server time when this object "
                                 "was created."),)
        subresources = tuple(sorted((version.get("subresources") or {}).keys()))
        warning = version.get("deprecationWarning") or (
            f"{group}/{version['name']} {names.get('kind')} is deprecated" if version.get("deprecated") else "")
        fields = tuple(f["jsonPath"].lstrip(".") for f in version.get("selectableFields") or ())
        out.append(ResourceType(
            group=group, version=version["name"], kind=names.get("kind", ""), plural=names.get("plural", ""),
            singular=names.get("singular") or names.get("kind", "").lower(),
            namespaced=spec.get("scope") == "Namespaced", short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            subresources=tuple(s for s in subresources if s == "status"),
            verbs=CR_VERBS, builtin=False, storage_version=storage, deprecation_warning=warning, columns=columns,
            has_generation=True, field_labels=fields, schema=schema, schema_tag=schema_tag(schema),
        ))
    return out


def is_established(crd: dict[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def established_status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    """What the naming and establishing controllers write into a new or changed CRD's status."""
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    old = crd.get("status") or {}
    stored = list(old.get("storedVersions") or ())
    storage = next((v["name"] for v in spec.get("versions") or () if v.get("storage")), None)
    if storage and storage not in stored:
        stored.append(storage)
    previous = {c.get("type"): c for c in old.get("conditions") or ()}

    def cond(kind: str, reason: str, message: str) -> dict[str, Any]:
        was = previous.get(kind)
        when = was["lastTransitionTime"] if was and was.get("status") == "True" else now
        return {"type": kind, "status": "True", "lastTransitionTime": when, "reason": reason, "message": message}

    return {
        "conditions": [
            cond("NamesAccepted", "NoConflicts", "no conflicts found"),
            cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    }


def validate_crd(crd: dict[str, Any]) -> list[Cause]:
    """The CRD checks a real server makes that matter here: names, versions, structural schemas."""
    causes: list[Cause] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group", ""), names.get("plural", "")
    name = (crd.get("metadata") or {}).get("name", "")
    if not group:
        causes.append(required("spec.group"))
    elif "." not in group:
        causes.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    if not plural:
        causes.append(required("spec.names.plural"))
    if not names.get("kind"):
        causes.append(required("spec.names.kind"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(("FieldValueNotSupported", "spec.scope",
                       f'Unsupported value: {json.dumps(spec.get("scope", ""))}: supported values: "Cluster", '
                       '"Namespaced"'))
    if group and plural and name != f"{plural}.{group}":
        causes.append(invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(invalid("spec.versions", versions, "must have exactly one version marked as storage version"))
    storage = [v for v in versions if v.get("storage")]
    if versions and len(storage) != 1:
        causes.append(invalid("spec.versions", [v.get("name") for v in storage],
                              "must have exactly one version marked as storage version"))
    for index, version in enumerate(versions):
        base = f"spec.versions[{index}]"
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            if version.get("served"):
                causes.append(required(f"{base}.schema.openAPIV3Schema", "schemas are required"))
            continue
        causes += structural_problems(schema, f"{base}.schema.openAPIV3Schema")
    return causes


def structural_problems(schema: dict[str, Any], path: str) -> list[Cause]:
    """Structural schema rules ([K] "Specifying a structural schema"), the common subset."""
    causes: list[Cause] = []
    _walk(schema, path, causes, root=True, in_junctor=False)
    return causes


def _walk(node: Any, path: str, causes: list[Cause], *, root: bool, in_junctor: bool) -> None:
    if not isinstance(node, dict):
        return
    for keyword in _FORBIDDEN_KEYWORDS:
        if keyword in node:
            causes.append(forbidden(f"{path}.{keyword}", f"{keyword} is forbidden in structural schemas"))
    if node.get("uniqueItems") is True:
        causes.append(forbidden(f"{path}.uniqueItems", "uniqueItems cannot be set to true since the runtime "
                                "complexity becomes quadratic"))
    if node.get("additionalProperties") is False:
        causes.append(forbidden(f"{path}.additionalProperties", "additionalProperties cannot be set to false"))
    if "properties" in node and isinstance(node.get("additionalProperties"), dict):
        causes.append(forbidden(f"{path}.additionalProperties", "additionalProperties and properties are mutual "
                                "exclusive"))
    if in_junctor:
        for keyword in _JUNCTOR_FORBIDDEN:
            if keyword in node:
                causes.append(forbidden(f"{path}.{keyword}", "must not be specified in a nested context"))
    elif (not node.get("type") and not node.get("x-kubernetes-int-or-string")
          and not node.get("x-kubernetes-preserve-unknown-fields")):
        causes.append(required(f"{path}.type", "must not be empty for specified object fields"))
    if root and "metadata" in (node.get("properties") or {}):
        meta = node["properties"]["metadata"]
        extra = set((meta.get("properties") or {}).keys()) - {"name", "generateName"}
        if extra or set(meta.keys()) - {"type", "properties", "description"}:
            causes.append(forbidden(f"{path}.properties[metadata]", "must not specify anything other than name and "
                                    "generateName, but metadata is implicitly specified"))
    for key, child in (node.get("properties") or {}).items():
        if root and key == "metadata":
            continue
        _walk(child, f"{path}.properties[{key}]", causes, root=False, in_junctor=in_junctor)
    if isinstance(node.get("items"), dict):
        _walk(node["items"], f"{path}.items", causes, root=False, in_junctor=in_junctor)
    if isinstance(node.get("additionalProperties"), dict):
        _walk(node["additionalProperties"], f"{path}.additionalProperties", causes, root=False, in_junctor=in_junctor)
    for junctor in ("allOf", "anyOf", "oneOf"):
        for index, child in enumerate(node.get(junctor) or ()):
            if node.get("x-kubernetes-int-or-string") and _int_or_string_branch(child):
                continue  # the one typed junctor structural schemas allow
            _walk(child, f"{path}.{junctor}[{index}]", causes, root=False, in_junctor=True)
    if isinstance(node.get("not"), dict):
        _walk(node["not"], f"{path}.not", causes, root=False, in_junctor=True)


def _int_or_string_branch(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    if set(node) == {"type"} and node["type"] in ("integer", "string"):
        return True
    return set(node) == {"anyOf"} and all(_int_or_string_branch(n) for n in node["anyOf"] or ())


def crd_type_defaults(crd: dict[str, Any]) -> None:
    """apiextensions v1 defaulting the server applies to a CRD on write (SetDefaults_*)."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind") and not names.get("listKind"):
        names["listKind"] = names["kind"] + "List"
    if names.get("kind") and not names.get("singular"):
        names["singular"] = str(names["kind"]).lower()
    spec.setdefault("conversion", {"strategy": "None"})


__all__ = ["SCHEMAS_DIR", "bundled_versions", "crd_type_defaults", "established_status", "is_established",
           "load_bundled", "resource_types", "schema_tag", "structural_problems", "validate_crd"]
