#!/usr/bin/env python3
"""Apply of 1,000 new Ray objects vs `kubectl apply --server-side`, on one sandbox.

The same KubeRay sample objects (RayCluster, RayJob, RayService) are created
twice on one embedded sandbox (operator off, so nothing else writes): once by
`gitops-ray apply --no-wait` from a Git commit (validation, live-state LISTs,
plan, record with fsync, concurrent server-side applies, inventory), once by
`kubectl apply --server-side -f` on the same files in a second set of
namespaces. Wall clock of each process, several rounds (fresh namespaces per
round), median.

Target (issue 4): gitops-ray ≥ 3× faster.

    .venv/bin/python benchmarks/apply_bench.py [--objects 1000] [--namespaces 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from engine_corpus import (
    ENV,
    count_requests,
    create_namespaces,
    git_commit,
    median,
    namespaces,
    ray_documents,
    run,
    write_environment,
)


def copy_to_namespaces(env_dir: Path, spaces: list[str], target: Path, prefix: str, client: Any) -> Path:
    """The environment's manifest files, moved into fresh namespaces `<prefix>-NNN` (created)."""
    target.mkdir()
    moved = namespaces(prefix, len(spaces))
    create_namespaces(client, moved)
    for space, new in zip(spaces, moved, strict=True):
        text = (env_dir / f"{space}.yaml").read_text().replace(f"namespace: {space}", f"namespace: {new}")
        (target / f"{new}.yaml").write_text(text)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from gitops_ray.sandbox import Sandbox

    kubectl = shutil.which("kubectl")
    python = sys.executable
    docs = ray_documents()
    per_ns = args.objects // args.namespaces
    ours: list[float] = []
    theirs: list[float] = []
    unvalidated: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gitops-ray-apply-bench-") as tmp:
        base = Path(tmp)
        with Sandbox(base / "sandbox", operator=False) as box:
            kubeconfig = str(box.kubeconfig)
            kcache = str(base / "kubectl-cache")
            calls: dict[str, int] = {}
            kube_calls: dict[str, int] = {}
            for round_ in range(args.repeat + 1):  # round 0 warms caches (byte code, kubectl discovery)
                repo = base / f"repo{round_}"
                repo.mkdir()
                spaces = namespaces(f"a{round_}", args.namespaces)
                objects, env_dir = write_environment(repo, "fresh", spaces, per_ns, docs)
                git_commit(repo, "fresh objects")
                create_namespaces(box.client, spaces)
                env = {**ENV, "XDG_CACHE_HOME": str(base / f"cache{round_}")}
                offset = box.request_log.stat().st_size
                wall, _, _, _ = run([python, "-m", "gitops_ray", "apply", "--env", "fresh", "--kubeconfig",
                                     kubeconfig, "--no-wait", "--record-dir", str(base / "records"), "-o", "json"],
                                    repo, env=env)
                if round_:
                    ours.append(wall)
                    calls = count_requests(box.request_log, offset, "gitops-ray")

                if kubectl is None:
                    continue
                kdir = copy_to_namespaces(env_dir, spaces, base / f"kubectl{round_}", f"k{round_}", box.client)
                offset = box.request_log.stat().st_size
                wall, _, _, _ = run([kubectl, "--kubeconfig", kubeconfig, "--cache-dir", kcache, "apply",
                                     "--server-side", "-f", str(kdir)], base)
                if round_:
                    theirs.append(wall)
                    kube_calls = count_requests(box.request_log, offset, "kubectl")
                # The same objects once more with kubectl's client-side schema handling off
                # (`--validate=false`): what kubectl costs when the server alone validates.
                ndir = copy_to_namespaces(env_dir, spaces, base / f"kubectl-novalidate{round_}", f"n{round_}",
                                          box.client)
                wall, _, _, _ = run([kubectl, "--kubeconfig", kubeconfig, "--cache-dir", kcache, "apply",
                                     "--server-side", "--validate=false", "-f", str(ndir)], base)
                if round_:
                    unvalidated.append(wall)

    ours_s = median(ours)
    print(f"corpus: {objects:,} new Ray objects in {args.namespaces} namespaces per round; median of {args.repeat}")
    print(f"gitops-ray apply --no-wait:      {ours_s:6.2f} s  {objects / ours_s:7.0f} objects/s  "
          f"(API calls: {', '.join(f'{k}: {v}' for k, v in sorted(calls.items()))}; includes validation, plan, "
          f"record with fsync)")
    if not theirs:
        print("kubectl: not available")
        return 0
    kube_s = median(theirs)
    print(f"kubectl apply --server-side:     {kube_s:6.2f} s  {objects / kube_s:7.0f} objects/s  "
          f"(API calls: {', '.join(f'{k}: {v}' for k, v in sorted(kube_calls.items()))})")
    print(f"ratio: {kube_s / ours_s:4.1f}x faster; target >= 3x")
    plain = median(unvalidated)
    print(f"kubectl apply --server-side --validate=false: {plain:6.2f} s  {objects / plain:7.0f} objects/s  "
          f"(ratio {plain / ours_s:4.2f}x: kubectl's default client-side schema handling is most of its time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
