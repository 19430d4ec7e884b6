#!/usr/bin/env python3
"""Regenerate the bundled KubeRay JSON Schemas from the committed CRDs.

    .venv/bin/python scripts/build_kuberay_schemas.py

For every `schemas/kuberay/<version>/crds/*.yaml.gz` this runs the same
conversion as `gitops-ray schemas import --crd ... --version <version> --into schemas`,
rewriting the JSON Schemas and index.json beside the CRDs (which stay unchanged).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitops_ray.checks import schemas  # noqa: E402


def main() -> int:
    base = ROOT / "schemas" / "kuberay"
    for directory in sorted(p for p in base.iterdir() if (p / "crds").is_dir()):
        crds = sorted((directory / "crds").glob("*.yaml.gz"))
        result = schemas.import_crds(crds, version=directory.name, into=ROOT / "schemas")
        kinds = ", ".join(f"{e.kind} {e.api_version}" for e in result.written)
        print(f"KubeRay {result.version}: {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
