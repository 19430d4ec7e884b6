"""Shared set-up for plan_bench.py and apply_bench.py: a Git repository holding an
environment of KubeRay objects (the v1.5.1 samples, replicated, names made
unique), the sandbox they run against, and process measurement helpers."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

VERSION = "1.5.1"
# Byte-code caching as on a normal install (this machine sets PYTHONDONTWRITEBYTECODE).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["NO_COLOR"] = "1"


def ray_documents() -> list[dict[str, Any]]:
    """KubeRay sample objects (RayCluster, RayJob, RayService) that validate on their own."""
    from validate_bench import corpus_documents

    return [d for d in corpus_documents() if str(d.get("apiVersion", "")).startswith("ray.io/")]


def namespaces(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n:03d}" for n in range(count)]


def write_environment(repo: Path, name: str, spaces: list[str], per_namespace: int,
                      docs: list[dict[str, Any]]) -> tuple[int, Path]:
    """environments/<name>/ with one manifest file per namespace; returns (objects, manifests dir)."""
    target = repo / "environments" / name
    target.mkdir(parents=True)
    written = 0
    for n, namespace in enumerate(spaces):
        out = []
        for i in range(per_namespace):
            doc = docs[(n * per_namespace + i) % len(docs)]
            meta = {**doc["metadata"], "name": f"o{i:03d}-{doc['metadata']['name']}"[:40].rstrip("-."),
                    "namespace": namespace}
            out.append(yaml.dump({**doc, "metadata": meta}, Dumper=yaml.CSafeDumper, sort_keys=False,
                                 width=1 << 16))
            written += 1
        (target / f"{namespace}.yaml").write_text("---\n".join(out))
    listed = ", ".join(spaces)
    (target / "environment.yaml").write_text(f"""apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {{name: {name}}}
spec:
  cluster: {{sandbox: {{}}}}
  kuberayVersion: "{VERSION}"
  namespaces: [{listed}]
  sync: {{prune: true, concurrency: 8}}
  operator:
    featureGates: {{RayJobDeletionPolicy: true, RayServiceIncrementalUpgrade: true}}
  record: {{anchorConfigMap: false, anchorGitNote: false}}
""")
    return written, target


def git_commit(repo: Path, message: str) -> None:
    env = {**ENV, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    if not (repo / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=repo, check=True, env=env)


def create_namespaces(client: Any, spaces: list[str]) -> None:
    for namespace in spaces:
        client.create("v1", "namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": namespace}}, field_manager="bench")


def _tree_rss(pid: int) -> int:
    from validate_bench import _tree_rss as tree_rss

    return int(tree_rss(pid))


def run(command: list[str], cwd: Path, *, env: dict[str, str] | None = None,
        ok: tuple[int, ...] = (0,)) -> tuple[float, int, int, str]:
    """(wall seconds, peak RSS of the process tree in bytes, exit code, stdout)."""
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(command[:6])} ... failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return elapsed, peak, proc.returncode, out.decode()


def count_requests(log: Path, offset: int, agent: str) -> dict[str, int]:
    """Requests in the sandbox's request log after byte `offset` whose User-Agent starts with `agent`."""
    counts: dict[str, int] = {}
    with log.open("rb") as f:
        f.seek(offset)
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not str(entry.get("userAgent", "")).startswith(agent):
                continue
            path = str(entry.get("path", ""))
            method = str(entry.get("method", ""))
            listing = path.rstrip("/").split("/")[-1] in _PLURALS and "watch" not in entry.get("query", "")
            if method == "GET" and listing:
                key = "LIST page"
            elif method == "GET" and any(path.startswith(p) for p in ("/api", "/apis", "/version", "/openapi")) \
                    and path.count("/") <= 4:
                key = "discovery"
            else:
                key = f"{method}"
            counts[key] = counts.get(key, 0) + 1
    return counts


_PLURALS = {"namespaces", "serviceaccounts", "configmaps", "secrets", "services", "persistentvolumeclaims", "roles",
            "rolebindings", "rayclusters", "rayjobs", "rayservices", "raycronjobs", "jobs"}


def median(values: list[float]) -> float:
    return statistics.median(values)
