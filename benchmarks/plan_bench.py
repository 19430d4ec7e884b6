#!/usr/bin/env python3
"""Plan of 10,000 in-sync Ray objects vs `kubectl diff --server-side`, on one sandbox.

Set-up: the KubeRay v1.5.1 sample objects (RayCluster, RayJob, RayService),
replicated to --objects across --namespaces namespaces, committed to a Git
repository and applied with `gitops-ray apply --no-wait` to an embedded sandbox
(operator off, so nothing changes behind the plan's back).

Measured in the same run, on the same server and objects:
  * `gitops-ray plan --env bench` as a process (wall clock; cold = empty manifest
    cache, warm = second run), with the API calls it made (from the sandbox's
    request log) and its peak memory;
  * `kubectl diff --server-side -f` on --kubectl-objects of the same objects
    (one namespace's worth of files), scaled per object.

Targets (issue 4): ≥ 20× faster per object than kubectl; ≤ one LIST per kind;
peak memory ≤ 500 MB.

    .venv/bin/python benchmarks/plan_bench.py [--objects 10000] [--namespaces 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--kubectl-objects", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from gitops_ray.sandbox import Sandbox

    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="gitops-ray-plan-bench-") as tmp:
        base = Path(tmp)
        repo = base / "repo"
        repo.mkdir()
        spaces = namespaces("bench", args.namespaces)
        per_ns = args.objects // args.namespaces
        objects, env_dir = write_environment(repo, "bench", spaces, per_ns, ray_documents())
        git_commit(repo, "bench objects")
        cache_env = {**ENV, "XDG_CACHE_HOME": str(base / "cache")}
        with Sandbox(base / "sandbox", operator=False) as box:
            create_namespaces(box.client, spaces)
            kubeconfig = str(box.kubeconfig)
            gitops = [python, "-m", "gitops_ray"]
            common = ["--env", "bench", "--kubeconfig", kubeconfig, "--record-dir", str(base / "records")]
            print(f"corpus: {objects:,} Ray objects in {args.namespaces} namespaces; sandbox {box.url}")
            setup, _, _, _ = run([*gitops, "apply", *common, "--no-wait", "-o", "json"], repo, env=cache_env)
            print(f"set-up: gitops-ray apply of {objects:,} objects in {setup:.1f} s "
                  f"({objects / setup:,.0f} objects/s)")

            log = box.request_log
            shutil.rmtree(base / "cache", ignore_errors=True)
            offset = log.stat().st_size
            cold, cold_rss, code, _ = run([*gitops, "plan", *common, "-o", "json"], repo, env=cache_env, ok=(0, 2))
            calls = count_requests(log, offset, "gitops-ray")
            if code != 0:
                raise SystemExit("plan was not in sync after apply")
            warm_runs = [run([*gitops, "plan", *common, "-o", "json"], repo, env=cache_env, ok=(0,))
                         for _ in range(args.repeat)]
            warm = median([r[0] for r in warm_runs])
            warm_rss = max(r[1] for r in warm_runs)

            kubectl = shutil.which("kubectl")
            if kubectl is None:
                print("kubectl: not available")
                return 0
            files = sorted(env_dir.glob("bench-*.yaml"))[: max(1, args.kubectl_objects // per_ns)]
            kube_objects = len(files) * per_ns
            kdir = base / "kubectl-files"
            kdir.mkdir()
            for f in files:
                shutil.copy(f, kdir / f.name)
            kcache = str(base / "kubectl-cache")
            command = [kubectl, "--kubeconfig", kubeconfig, "--cache-dir", kcache, "diff", "--server-side",
                       "--force-conflicts",
                       "-f", str(kdir)]
            run(command, base, ok=(0, 1))  # warm kubectl's discovery and OpenAPI caches
            offset = log.stat().st_size
            kube_runs = [run(command, base, ok=(0, 1)) for _ in range(args.repeat)]
            kube_calls = count_requests(log, offset, "kubectl")
            kube = median([r[0] for r in kube_runs])

        ours_cold, ours_warm, theirs = cold / objects, warm / objects, kube / kube_objects
        print(f"gitops-ray plan (cold cache): {cold:7.2f} s  {ours_cold * 1e3:6.3f} ms/object  "
              f"peak {cold_rss / 2**20:5.0f} MiB")
        print(f"gitops-ray plan (warm cache): {warm:7.2f} s  {ours_warm * 1e3:6.3f} ms/object  "
              f"peak {warm_rss / 2**20:5.0f} MiB")
        print(f"  API calls: {sum(calls.values())} ({', '.join(f'{k}: {v}' for k, v in sorted(calls.items()))}); "
              f"one LIST per kind, in pages of 1,000 objects")
        print(f"kubectl diff --server-side:   {kube:7.2f} s  {theirs * 1e3:6.3f} ms/object  ({kube_objects} objects; "
              f"{sum(kube_calls.values()) / args.repeat:,.0f} API calls per run)")
        print(f"ratio per object: {theirs / ours_cold:5.1f}x (cold), {theirs / ours_warm:5.1f}x (warm); "
              f"target >= 20x; peak memory target <= 500 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
