"""`make demo` as a newcomer meets it: a fresh clone, run twice, nothing written outside `.demo/`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _written(clone: Path) -> set[str]:
    """Everything Git sees as new in the clone, ignored files included, by top-level entry."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=clone,
                         capture_output=True, text=True, check=True).stdout
    return {line[3:].split("/", 1)[0] for line in out.splitlines()}


def _demo(clone: Path, home: Path) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), NO_COLOR="1", KUBECONFIG=str(home / "no-kubeconfig"))
    done = subprocess.run([sys.executable, "-m", "gitops_ray.cli.demo", "--state", ".demo"], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    steps: list[dict[str, object]] = json.loads((clone / ".demo" / "steps.json").read_text())
    return steps


def test_the_demo_twice_in_a_fresh_clone_writes_only_under_dot_demo(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(clone)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    try:
        first = _demo(clone, home)
        assert _written(clone) == {".demo"}
        assert [s["step"] for s in first][:5] == ["validate", "sandbox", "plan", "apply", "plan again"]
        assert {s["step"]: s["exit"] for s in first}["plan"] == 2  # changes pending before the apply
        assert {s["step"]: s["exit"] for s in first}["plan again"] == 0  # in sync after it

        second = _demo(clone, home)
        assert [(s["step"], s["command"], s["exit"]) for s in second] == \
            [(s["step"], s["command"], s["exit"]) for s in first]
        assert _written(clone) == {".demo"}
        assert not any(home.iterdir()), sorted(p.name for p in home.iterdir())  # no ~/.cache, ~/.kube, ...

        # every printed command works as printed from the repository root while the sandbox runs
        env = {**os.environ, "NO_COLOR": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        replay = [s for s in second if str(s["command"]).startswith("gitops-ray ") and s["step"] != "sandbox"]
        assert replay
        for step in replay:
            again = subprocess.run(str(step["command"]), shell=True, cwd=clone, env=env, capture_output=True,
                                   text=True, timeout=300)
            expected = 0 if step["step"] == "plan" else step["exit"]  # after the apply, the first plan is in sync
            assert again.returncode == expected, (step["command"], again.stderr[-2000:])
    finally:
        subprocess.run([sys.executable, "-m", "gitops_ray", "sandbox", "stop", "--state", ".demo/sandbox"], cwd=clone,
                       capture_output=True)
