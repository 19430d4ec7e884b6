"""`make demo`: the whole pipeline on the embedded sandbox, from this repository's own history.

validate -> plan -> apply (with the simulated KubeRay operator) -> plan again
(in sync) -> the record and its verification. Everything runs through the same
CLI a user types, against a real HTTP API server, so what you see is what you
would get against a cluster.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def banner(text: str) -> None:
    bar = "─" * max(10, min(100, shutil.get_terminal_size().columns) - 2)
    print(f"\n{bar}\n▶ {text}\n{bar}", flush=True)


def run(args: list[str], env: dict[str, str], *, ok: tuple[int, ...] = (0,), cwd: Path = REPO) -> int:
    print("$ " + " ".join(args), flush=True)
    code = subprocess.run(args, env=env, cwd=cwd).returncode
    if code not in ok:
        print(f"demo: command failed with exit code {code}", file=sys.stderr)
        sys.exit(code)
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state", default=".demo", help="directory for the sandbox and the record")
    parser.add_argument("--env", default="dev")
    args = parser.parse_args()

    state = (REPO / args.state).resolve()
    if state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True)
    gitops = [sys.executable, "-m", "gitops_ray"]
    env = {**os.environ, "NO_COLOR": "1"}

    from gitops_ray.sandbox import Sandbox

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if head.returncode != 0:
        sys.exit("demo: this directory is not a Git repository with commits; clone it with git first")
    # The record anchors each run as a git note on the applied commit: write those into a
    # clone under the state directory, not into this checkout.
    repo = state / "repo"
    subprocess.run(["git", "clone", "-q", "--no-local", str(REPO), str(repo)], check=True)
    source = ["--repo", str(repo)]

    banner(f"1/6 validate environments/{args.env} as committed at {head.stdout.strip()} (no cluster needed)")
    run([*gitops, "validate", "--env", args.env, *source], env)

    with Sandbox(state / "sandbox") as sandbox:
        kubeconfig = str(sandbox.kubeconfig)
        cluster = ["--kubeconfig", kubeconfig]
        record = ["--record-dir", str(state / "records")]
        print(f"embedded Kubernetes API sandbox at {sandbox.url} (simulated KubeRay operator on)")

        banner("2/6 plan: what this commit would change (exit 2 = changes pending)")
        run([*gitops, "plan", "--env", args.env, *source, *cluster], env, ok=(0, 2))

        banner("3/6 apply: waves in order, waiting for Ray health (and the RayJob to finish), recording every action")
        run([*gitops, "apply", "--env", args.env, *source, *cluster, *record, "--wait-jobs", "--timeout", "2m"], env)

        banner("4/6 plan again: the cluster now matches Git (exit 0)")
        run([*gitops, "plan", "--env", args.env, *source, *cluster], env)

        banner("5/6 what kubectl sees (an independent client on the same API server)")
        if shutil.which("kubectl"):
            cache = str(state / "kubectl-cache")
            run(["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", cache, "get",
                 "rayclusters,rayjobs,rayservices", "-n", f"ray-{args.env}"], env, ok=(0, 1))
        else:
            print("kubectl not found; skipping")
        time.sleep(0.1)

        banner("6/6 the record: who applied what, from which commit, and is it intact?")
        run([*gitops, "history", "--env", args.env, *record], env)
        run([*gitops, "history", "--env", args.env, *record, "--resource", f"RayJob/ray-{args.env}/batch-inference"],
            env)
        run([*gitops, "audit", "verify", "--env", args.env, *record, *cluster], env, cwd=repo)

    print(f"\nDone. State is under {state} (sandbox database, request log, record).")


if __name__ == "__main__":
    main()
