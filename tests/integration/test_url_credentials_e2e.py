"""Credentials inside URLs never leave gitops-ray (issue 9, deliverable 2): a canary in every
place a manifest can carry a URL — RayJob runtime env working_dir, py_modules, pip index, the
entrypoint, container args/command/env, RayService serve config runtime_env — is absent from
every output format of validate, plan, apply, reconcile, history and audit export, from the
record, the sandbox's request log and stderr. The real CLI runs as a process against the
sandbox with its simulated operator; the repository also comes from a --repo URL with a token.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitops_ray.sandbox import Sandbox
from gitops_ray.sandbox._raycommon import OperatorTimings

FAST = OperatorTimings(tick=0.05, head_ready=0.1, workers_ready=0.1, job_pending=0.1, job_runtime=0.3,
                       autoscaler_scale_up_after=None)
CANARIES = {
    "working_dir": "wdpass-c4n4ry-1a2b",
    "py_modules": "pymodtoken0c4n4ry0token3c4d",  # a token alone as the user part (https://TOKEN@host)
    "pip": "pippass-c4n4ry-5e6f",
    "entrypoint": "entrypass-c4n4ry-7a8b",
    "args": "argstoken0c4n4ry0argstoken9c",
    "command": "cmdpass-c4n4ry-0d1e",
    "env": "envpass-c4n4ry-2f3a",
    "serve": "servepass-c4n4ry-4b5c",
    "serve_pip": "serveindex-c4n4ry-6d7e",
}
ENV = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  cluster: {sandbox: {}}
  kuberayVersion: "1.5.1"
  namespaces: [ray-dev]
"""
NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ray-dev}\n"


def job(version: str) -> str:
    c = {k: v + version for k, v in CANARIES.items()}
    return f"""apiVersion: ray.io/v1
kind: RayJob
metadata: {{name: fetch, namespace: ray-dev}}
spec:
  entrypoint: python run.py --data https://reader:{c['entrypoint']}@data.example.com/x.parquet
  shutdownAfterJobFinishes: true
  ttlSecondsAfterFinished: 60
  runtimeEnvYAML: |
    working_dir: "https://ci-bot:{c['working_dir']}@artifacts.example.com/job.zip"
    py_modules: ["https://{c['py_modules']}@modules.example.com/m.zip"]
    pip: ["--index-url https://pypi-user:{c['pip']}@pypi.example.com/simple", "requests"]
  rayClusterSpec:
    rayVersion: "2.46.0"
    headGroupSpec:
      rayStartParams: {{}}
      template:
        spec:
          containers:
            - name: ray-head
              image: rayproject/ray:2.46.0
              command: ["sh", "-c", "curl -fsS https://dl:{c['command']}@files.example.com/boot.sh | sh"]
              args: ["--model", "https://{c['args']}@models.example.com/llm"]
              env:
                - {{name: MODEL_URL, value: "https://u:{c['env']}@models.example.com/m"}}
"""


def service(version: str) -> str:
    c = {k: v + version for k, v in CANARIES.items()}
    return f"""apiVersion: ray.io/v1
kind: RayService
metadata: {{name: serve, namespace: ray-dev}}
spec:
  serveConfigV2: |
    applications:
      - name: app
        import_path: app.main:deployment
        route_prefix: /
        runtime_env:
          working_dir: "https://svc:{c['serve']}@artifacts.example.com/app.zip"
          pip: {{packages: [fastapi], pip_install_options: ["--extra-index-url=https://x:{c['serve_pip']}@idx.example.com"]}}
  rayClusterConfig:
    rayVersion: "2.46.0"
    headGroupSpec:
      rayStartParams: {{}}
      template: {{spec: {{containers: [{{name: ray-head, image: "rayproject/ray:2.46.0"}}]}}}}
"""


def leaked(text: str | bytes) -> list[str]:
    blob = text.decode(errors="replace") if isinstance(text, bytes) else text
    return [name for name, value in CANARIES.items() if value in blob]


@pytest.fixture
def world(git_repo: Callable[..., Any], make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> dict[str, Any]:
    box = make_sandbox(operator=True, operator_timings=FAST)
    repo = git_repo({"environments/dev/environment.yaml": ENV, "environments/dev/ns.yaml": NS,
                     "environments/dev/job.yaml": job("-v1"), "environments/dev/serve.yaml": service("-v1")})
    return {"box": box, "repo": repo, "records": tmp_path / "records", "tmp": tmp_path}


def test_url_credentials_never_reach_any_output_the_record_or_the_request_log(world: dict[str, Any]) -> None:
    box, repo, records, tmp = world["box"], world["repo"], world["records"], world["tmp"]
    outputs: dict[str, str] = {}

    def run(*args: str, code: int | tuple[int, ...] = 0) -> str:
        done = subprocess.run([sys.executable, "-m", "gitops_ray", *args], cwd=repo.path, capture_output=True,
                              text=True, timeout=120, env={**os.environ, "NO_COLOR": "1",
                                                           "XDG_CACHE_HOME": str(tmp / "cache")})
        codes = code if isinstance(code, tuple) else (code,)
        assert done.returncode in codes, (args, done.stdout[-2000:], done.stderr[-2000:])
        name = f"#{len(outputs) // 2} {' '.join(a for a in args if not a.startswith('/'))}"
        outputs[f"{name}: stdout"], outputs[f"{name}: stderr"] = done.stdout, done.stderr
        return done.stdout

    cluster = ("--kubeconfig", str(box.kubeconfig), "--record-dir", str(records))
    for fmt in ("text", "json", "junit", "github"):
        run("validate", "--env", "dev", "-o", fmt)
    for fmt in ("text", "json", "markdown"):
        run("plan", "--env", "dev", *cluster, "-o", fmt, code=2)
    run("apply", "--env", "dev", *cluster, "--no-wait", "-o", "json")
    repo.commit({"environments/dev/job.yaml": job("-v2"), "environments/dev/serve.yaml": service("-v2")})
    for fmt in ("text", "json", "markdown"):  # updates: before and after of every URL
        run("plan", "--env", "dev", *cluster, "-o", fmt, code=2)
    run("apply", "--env", "dev", *cluster, "--dry-run", "-o", "markdown", code=(0, 1))
    run("apply", "--env", "dev", *cluster, "--no-wait", "--allow-replace-running", code=(0, 1))
    run("reconcile", "--env", "dev", *cluster, "-o", "json", code=(0, 2))
    for fmt in ("text", "json", "markdown"):
        run("history", "--env", "dev", "--record-dir", str(records), "-o", fmt)
    run("audit", "export", "--env", "dev", "--record-dir", str(records))
    # a --repo URL carrying a token (the user's own flag) is masked where it is shown too
    token_url = f"file://oauth2:{CANARIES['pip']}-v9@/{repo.path.relative_to('/')}"
    run("validate", "--env", "dev", "--repo", token_url, "-o", "json", code=(0, 4))

    # The values did go by: the sandbox holds the RayJob with its real runtime env.
    live = box.client.get("ray.io/v1", "rayjobs", "ray-dev", "fetch") if box.client else None
    assert live is not None and CANARIES["working_dir"] in live["spec"]["runtimeEnvYAML"]
    plan_json = [text for name, text in outputs.items() if " plan " in name and "json: stdout" in name][-1]
    assert "(hidden)@" in plan_json, plan_json[:6000]
    leaks = {name: leaked(text) for name, text in outputs.items() if leaked(text)}
    assert not leaks, leaks
    record_files = sorted(records.iterdir())
    assert record_files and any(f.suffix == ".jsonl" for f in record_files)
    for path in record_files:
        assert not leaked(path.read_bytes()), (path.name, leaked(path.read_bytes()))
    entries = [json.loads(line) for line in (records / "dev.jsonl").read_bytes().splitlines() if line.strip()]
    assert any("(hidden)@" in json.dumps(e) for e in entries)  # masked, not dropped
    assert not leaked(box.request_log.read_bytes())
    for cached in (tmp / "cache").rglob("*"):
        if cached.is_file() and "manifests" in cached.parts:
            assert cached.stat().st_mode & 0o077 == 0, cached
