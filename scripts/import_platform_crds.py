#!/usr/bin/env python3
"""Bundle the CRDs Ray platforms commonly deploy beside Ray, from their Go modules at pinned versions.

    .venv/bin/python scripts/import_platform_crds.py [--out schemas] [--modcache DIR]

Each project's CRD YAML is read from its Go module (`go mod download -json
MODULE@VERSION` through the Go module proxy; nothing else of the module is
kept), stored unchanged as `crds/*.yaml.gz`, and converted with gitops-ray's
own CRD converter (gitops_ray/checks/crdschema.py) into gzipped JSON Schemas
under `schemas/crds/<project>/<version>/`, with `index.json` (per schema: its
CRD and the CRD's SHA-256) and `README.md` (provenance) beside them, and the
project's LICENSE copied in.

Volcano is not here: its modules (volcano.sh/apis, volcano.sh/volcano) are not
served by the module proxy. Import its CRDs with `gitops-ray schemas import --crd FILE`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitops_ray.checks import crd_catalogue  # noqa: E402
from gitops_ray.checks.catalogue_io import parse_crds  # noqa: E402


@dataclass(frozen=True)
class Project:
    name: str
    module: str
    version: str
    directory: str  # in the module
    files: tuple[str, ...]
    why: str


PROJECTS = (
    Project("kueue", "sigs.k8s.io/kueue", "v0.17.0", "config/components/crd/bases", (
        "kueue.x-k8s.io_admissionchecks.yaml", "kueue.x-k8s.io_clusterqueues.yaml", "kueue.x-k8s.io_cohorts.yaml",
        "kueue.x-k8s.io_localqueues.yaml", "kueue.x-k8s.io_multikueueclusters.yaml",
        "kueue.x-k8s.io_multikueueconfigs.yaml", "kueue.x-k8s.io_provisioningrequestconfigs.yaml",
        "kueue.x-k8s.io_resourceflavors.yaml", "kueue.x-k8s.io_topologies.yaml",
        "kueue.x-k8s.io_workloadpriorityclasses.yaml", "kueue.x-k8s.io_workloads.yaml",
    ), "queues and quotas for RayJobs and RayClusters (the kueue.x-k8s.io/queue-name label)"),
    Project("prometheus-operator", "github.com/prometheus-operator/prometheus-operator", "v0.85.0",
            "example/prometheus-operator-crd", (
                "monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com_podmonitors.yaml",
                "monitoring.coreos.com_prometheusrules.yaml", "monitoring.coreos.com_probes.yaml",
                "monitoring.coreos.com_scrapeconfigs.yaml",
            ), "scraping Ray's metrics ports (KubeRay's docs ship a PodMonitor and a ServiceMonitor)"),
    Project("gateway-api", "sigs.k8s.io/gateway-api", "v1.6.3", "config/crd/standard", (
        "gateway.networking.k8s.io_gatewayclasses.yaml", "gateway.networking.k8s.io_gateways.yaml",
        "gateway.networking.k8s.io_httproutes.yaml", "gateway.networking.k8s.io_grpcroutes.yaml",
        "gateway.networking.k8s.io_referencegrants.yaml", "gateway.networking.k8s.io_backendtlspolicies.yaml",
        "gateway.networking.k8s.io_listenersets.yaml", "gateway.networking.k8s.io_tcproutes.yaml",
        "gateway.networking.k8s.io_tlsroutes.yaml", "gateway.networking.k8s.io_udproutes.yaml",
    ), "the standard channel; RayService incremental upgrades create a Gateway and an HTTPRoute"),
)


def module_dir(module: str, version: str) -> Path:
    out = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], check=True,
                         capture_output=True, text=True, env=None)
    info = json.loads(out.stdout)
    if info.get("Error"):
        raise SystemExit(f"{module}@{version}: {info['Error']}")
    return Path(info["Dir"])


def import_project(project: Project, out: Path, source: Path) -> int:
    directory = out / "crds" / project.name / project.version.removeprefix("v")
    if directory.exists():
        shutil.rmtree(directory)
    converted = []
    keep: dict[int, bytes] = {}
    for name in project.files:
        data = (source / project.directory / name).read_bytes()
        found = crd_catalogue.convert_documents(parse_crds(data, name), name)
        if len(found) != 1:
            raise SystemExit(f"{name}: expected one CRD, found {len(found)}")
        keep[len(converted)] = data
        converted.append(found[0])
    entries = crd_catalogue.add_crds(directory, converted, keep_bytes=keep, index_extra={
        "project": project.name, "version": project.version.removeprefix("v"),
        "module": f"{project.module}@{project.version} (Go module proxy), {project.directory}/",
        "generatedBy": "scripts/import_platform_crds.py",
    })
    shutil.copyfile(source / "LICENSE", directory / "LICENSE")
    kinds = sorted({(e.kind, e.api_version) for e in entries})
    (directory / "README.md").write_text(README.format(
        name=project.name, version=project.version, module=project.module, directory=project.directory,
        why=project.why, files="\n".join(f"* `{f}`" for f in project.files),
        kinds=", ".join(f"{k} `{a}`" for k, a in kinds)))
    print(f"{project.name} {project.version}: {len(kinds)} schemas", file=sys.stderr)
    return len(kinds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "schemas")
    parser.add_argument("--only", default=None, help="one project name")
    args = parser.parse_args()
    for project in PROJECTS:
        if args.only in (None, project.name):
            import_project(project, args.out, module_dir(project.module, project.version))
    return 0


README = """# {name} {version} CRD schemas

Why bundled: {why}.

Schemas: {kinds}.

**Source.** The Go module `{module}@{version}`, fetched through the Go module proxy with
`go mod download`; from its `{directory}/`:

{files}

The CRDs are kept unchanged in `crds/` (gzipped); `index.json` records each one's SHA-256. The
project's licence is `LICENSE` in this directory (Apache License 2.0).

**Produced by** `scripts/import_platform_crds.py`, which converts each served version's
`openAPIV3Schema` with gitops-ray's CRD converter (gitops_ray/checks/crdschema.py, the same as for
KubeRay; see docs/schemas.md). Do not edit by hand.
"""


if __name__ == "__main__":
    sys.exit(main())
