"""Sandbox API server throughput: a LIST of 10,000 RayJobs across 100 namespaces and
1,000 server-side applies, end to end over HTTP against a server in its own process.

Targets (issue 3): the LIST in under 2 s (judged on the server's response; the
client's own json.loads of 22 MB is printed next to it), applies at 200/s or more. Each figure is
measured two ways in the same run: plain HTTP (http.client, keep-alive) and through
the official `kubernetes` client (raw request path for the LIST, DynamicClient
for applies), so the client's own cost is visible next to the server's.

    .venv/bin/python benchmarks/sandbox_bench.py [--jobs 10000] [--namespaces 100] [--applies 1000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitops_ray.sandbox import Sandbox  # noqa: E402
from gitops_ray.sandbox.runtime import running_server  # noqa: E402

LIST_TARGET_S = 2.0
APPLY_TARGET_PER_S = 200.0


def rayjob(name: str, entrypoint: str = "python /home/ray/samples/sample_code.py") -> dict[str, Any]:
    """A RayJob shaped like ray-job.sample.yaml (head + one worker group)."""
    container = {"image": "rayproject/ray:2.46.0", "resources": {"limits": {"cpu": "1", "memory": "2Gi"},
                                                                 "requests": {"cpu": "200m", "memory": "2Gi"}}}
    return {
        "apiVersion": "ray.io/v1", "kind": "RayJob",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "bench"}},
        "spec": {
            "entrypoint": entrypoint, "shutdownAfterJobFinishes": True, "ttlSecondsAfterFinished": 60,
            "runtimeEnvYAML": "pip:\n  - requests==2.26.0\nenv_vars:\n  counter_name: test_counter\n",
            "rayClusterSpec": {
                "rayVersion": "2.46.0",
                "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [
                    {**container, "name": "ray-head", "ports": [{"containerPort": 6379, "name": "gcs-server"},
                                                                {"containerPort": 8265, "name": "dashboard"}]}]}}},
                "workerGroupSpecs": [{"groupName": "small-group", "replicas": 1, "minReplicas": 1, "maxReplicas": 5,
                                      "rayStartParams": {}, "template": {"spec": {"containers": [
                                          {**container, "name": "ray-worker"}]}}}],
            },
        },
    }


def populate(state: Path, jobs: int, namespaces: int) -> float:
    """Write the data set in-process (same pipeline as HTTP); returns objects/s."""
    started = time.perf_counter()
    with Sandbox(state, operator=False) as box:
        client = box.client
        assert client is not None
        for n in range(namespaces):
            client.create("v1", "namespaces", None, {"metadata": {"name": f"bench-{n:03d}"}}, field_manager="bench")
        for index in range(jobs):
            ns = f"bench-{index % namespaces:03d}"
            client.create("ray.io/v1", "rayjobs", ns, rayjob(f"job-{index:05d}"), field_manager="bench")
    return jobs / (time.perf_counter() - started)


def serve(state: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The server in its own process, so client and server do not share one interpreter lock."""
    proc = subprocess.Popen([sys.executable, "-m", "gitops_ray", "sandbox", "serve", "--state", str(state),
                             "--no-operator"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = running_server(state)
        if info is not None and info.get("pid") == proc.pid:
            return proc, str(info["url"])
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the sandbox did not start")


def best_and_median(samples: list[float]) -> str:
    return f"best {min(samples):.3f} s, median {statistics.median(samples):.3f} s"


def list_plain(url: str, repeats: int) -> tuple[list[float], list[float], int, int]:
    """(fetch times, fetch+json.loads times, bytes, items) of GET /apis/ray.io/v1/rayjobs over one connection."""
    host, port = url.removeprefix("http://").split(":")
    fetch, parsed, size, count = [], [], 0, 0
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    for _ in range(repeats):
        started = time.perf_counter()
        conn.request("GET", "/apis/ray.io/v1/rayjobs", headers={"Accept": "application/json"})
        body = conn.getresponse().read()
        fetch.append(time.perf_counter() - started)
        count = len(json.loads(body)["items"])
        parsed.append(time.perf_counter() - started)
        size = len(body)
    conn.close()
    return fetch, parsed, size, count


def list_kubernetes_client(kubeconfig: Path, repeats: int) -> tuple[list[float], list[float]]:
    """The official client's raw request path: `_preload_content=False`, then json.loads."""
    from kubernetes import client, config

    api = client.CustomObjectsApi(config.new_client_from_config(config_file=str(kubeconfig)))
    fetch, parsed = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        response = api.list_cluster_custom_object("ray.io", "v1", "rayjobs", _preload_content=False)
        data = response.data
        fetch.append(time.perf_counter() - started)
        items = json.loads(data)["items"]
        parsed.append(time.perf_counter() - started)
        assert items
    return fetch, parsed


def applies_plain(url: str, count: int) -> float:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    started = time.perf_counter()
    for index in range(count):
        body = json.dumps(rayjob(f"job-{index:05d}", entrypoint=f"python run.py --round {index}"))
        conn.request("PATCH", f"/apis/ray.io/v1/namespaces/bench-{index % 100:03d}/rayjobs/job-{index:05d}"
                              "?fieldManager=bench-apply&force=true", body=body,
                     headers={"Content-Type": "application/apply-patch+yaml"})
        response = conn.getresponse()
        response.read()
        assert response.status in (200, 201), response.status
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


def applies_dynamic_client(kubeconfig: Path, count: int, cache: Path) -> float:
    from kubernetes import config, dynamic

    client = dynamic.DynamicClient(config.new_client_from_config(config_file=str(kubeconfig)), cache_file=str(cache))
    resource = client.resources.get(api_version="ray.io/v1", kind="RayJob")
    started = time.perf_counter()
    for index in range(count):
        body = rayjob(f"job-{index:05d}", entrypoint=f"python run.py --again {index}")
        client.server_side_apply(resource, body=body, namespace=f"bench-{index % 100:03d}",
                                 field_manager="bench-dynamic", force_conflicts=True)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--applies", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        rate = populate(state, args.jobs, args.namespaces)
        print(f"populate: {args.jobs} RayJobs in {args.namespaces} namespaces at {rate:.0f} creates/s (in-process)")
        proc, url = serve(state)
        try:
            fetch, parsed, size, count = list_plain(url, args.repeats)
            verdict = "ok" if statistics.median(fetch) < LIST_TARGET_S else "MISSED"
            both = "ok" if statistics.median(parsed) < LIST_TARGET_S else "missed"
            print(f"LIST {count} RayJobs ({size / 1e6:.1f} MB) over plain HTTP: response {best_and_median(fetch)}"
                  f"  [target < {LIST_TARGET_S:.0f} s: {verdict}]; with the client's json.loads "
                  f"{best_and_median(parsed)} ({both})")
            kfetch, kparsed = list_kubernetes_client(state / "kubeconfig", args.repeats)
            print(f"LIST via the kubernetes client's raw path: response {best_and_median(kfetch)}; "
                  f"with json.loads {best_and_median(kparsed)}")
            plain_rate = applies_plain(url, args.applies)
            print(f"{args.applies} server-side applies, plain HTTP keep-alive: {plain_rate:.0f}/s"
                  f"  [target >= {APPLY_TARGET_PER_S:.0f}/s: {'ok' if plain_rate >= APPLY_TARGET_PER_S else 'MISSED'}]")
            dyn_rate = applies_dynamic_client(state / "kubeconfig", args.applies, Path(tmp) / "cache.json")
            print(f"{args.applies} server-side applies via DynamicClient.server_side_apply: {dyn_rate:.0f}/s")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
