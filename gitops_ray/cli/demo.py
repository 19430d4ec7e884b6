"""`make demo`: the whole pipeline on the embedded sandbox, from this repository's own history.

validate -> start the sandbox -> plan -> apply (with the simulated KubeRay
operator) -> plan again (in sync) -> kubectl's view -> the record and its
verification. Every step is a command a user can type: the demo prints it
exactly as it can be copied and run from the repository root (with the
virtualenv active), and runs that same command.

Everything it writes stays under the state directory (default `.demo/`): the
clone the record's git notes go into, the sandbox's state, the record, caches.
The sandbox keeps running afterwards so the printed commands can be tried;
`gitops-ray sandbox stop --state .demo/sandbox` (or `make clean`) stops it.
A second run stops the previous sandbox and starts from scratch, so it behaves
like the first. Step results are written to `<state>/steps.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


def banner(text: str) -> None:
    bar = "─" * max(10, min(100, shutil.get_terminal_size().columns) - 2)
    print(f"\n{bar}\n▶ {text}\n{bar}", flush=True)


@dataclass
class Demo:
    root: Path  # the repository the demo reads (the current directory)
    state: Path  # relative to root, e.g. .demo
    env_name: str
    steps: list[dict[str, object]] = field(default_factory=list)

    def environ(self) -> dict[str, str]:
        cache = str((self.root / self.state / "cache").resolve())
        return {**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": cache, "GITOPS_RAY_SCHEMA_DIR": cache + "/schemas"}

    def run(self, name: str, args: list[str], *, ok: tuple[int, ...] = (0,)) -> int:
        """Print the command as the user would type it, run it from the repository root."""
        shown = " ".join(shlex.quote(a) for a in args)
        print(f"$ {shown}", flush=True)
        argv = [sys.executable, "-m", "gitops_ray", *args[1:]] if args[0] == "gitops-ray" else args
        code = subprocess.run(argv, env=self.environ(), cwd=self.root).returncode
        self.steps.append({"step": name, "command": shown, "exit": code})
        (self.root / self.state / "steps.json").write_text(json.dumps(self.steps, indent=2) + "\n")
        if code not in ok:
            print(f"demo: `{shown}` exited with {code} (expected {' or '.join(map(str, ok))})", file=sys.stderr)
            sys.exit(1)
        return code


def _stop_previous(root: Path, state: Path) -> None:
    """A sandbox left running by the previous demo serves the state we are about to delete."""
    sandbox = root / state / "sandbox"
    if (sandbox / "server.json").exists():
        subprocess.run([sys.executable, "-m", "gitops_ray", "sandbox", "stop", "--state", str(sandbox)],
                       cwd=root, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", default=".demo", help="directory (under the repository) for everything the "
                                                         "demo writes")
    parser.add_argument("--env", default="dev")
    args = parser.parse_args()

    root = Path.cwd()
    state = Path(args.state)
    if state.is_absolute() or ".." in state.parts:
        sys.exit("demo: --state must be a directory inside the repository, e.g. .demo")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    if head.returncode != 0 or not (root / "environments" / args.env / "environment.yaml").is_file():
        sys.exit("demo: run it from the root of a gitops-ray clone (a Git repository with environments/)")
    _stop_previous(root, state)
    shutil.rmtree(root / state, ignore_errors=True)
    (root / state).mkdir(parents=True)
    demo = Demo(root=root, state=state, env_name=args.env)

    # The record anchors each run as a git note on the applied commit: those notes go into a
    # clone under the state directory, not into this checkout.
    repo = state / "repo"
    subprocess.run(["git", "clone", "-q", "--no-local", str(root), str(root / repo)], check=True)
    env = args.env
    source = ["--env", env, "--repo", str(repo)]
    sandbox = state / "sandbox"
    cluster = ["--kubeconfig", str(sandbox / "kubeconfig")]
    record = ["--record-dir", str(state / "records")]

    banner(f"1/7 validate environments/{env} as committed at {head.stdout.strip()} (no cluster needed)")
    demo.run("validate", ["gitops-ray", "validate", *source])

    banner("2/7 start the embedded Kubernetes API sandbox (a simulated KubeRay operator runs in it)")
    demo.run("sandbox", ["gitops-ray", "sandbox", "serve", "--state", str(sandbox), "--detach"])

    banner("3/7 plan: what this commit would change (exit 2 = changes pending)")
    demo.run("plan", ["gitops-ray", "plan", *source, *cluster, *record], ok=(2,))

    banner("4/7 apply: waves in order, waiting for Ray health (and the RayJob to finish), recording every action")
    demo.run("apply", ["gitops-ray", "apply", *source, *cluster, *record, "--wait-jobs", "--timeout", "2m"])

    banner("5/7 plan again: the cluster now matches Git (exit 0)")
    demo.run("plan again", ["gitops-ray", "plan", *source, *cluster, *record])

    banner("6/7 what kubectl sees (an independent client on the same API server)")
    if shutil.which("kubectl"):
        demo.run("kubectl", ["kubectl", *cluster, "--cache-dir", str(state / "kubectl-cache"), "get",
                             "rayclusters,rayjobs,rayservices", "-n", f"ray-{env}"])
    else:
        print("kubectl not found; skipping (it is optional for the demo; see README, Prerequisites)")

    banner("7/7 the record: who applied what, from which commit, and is it intact?")
    demo.run("history", ["gitops-ray", "history", *source, *record])
    demo.run("history of the RayJob", ["gitops-ray", "history", *source, *record,
                                       "--resource", f"RayJob/ray-{env}/batch-inference"])
    demo.run("audit verify", ["gitops-ray", "audit", "verify", *source, *cluster, *record])

    print(f"""
Done. Everything the demo wrote is under {state}/ (the clone it applied, the sandbox's
database and request log, the record). The sandbox is still running, so every command
above works as printed from this directory once gitops-ray is on your PATH:

    . .venv/bin/activate          # or: make install (puts gitops-ray in ~/.local/bin)
    gitops-ray plan {' '.join(source + cluster + record)}

Stop the sandbox with `gitops-ray sandbox stop --state {sandbox}` (or `make clean`).""")


if __name__ == "__main__":
    main()
