"""The package's arrows are executable: `lint-imports` (make lint) must catch a wrong one.

Each test copies the package into a temporary directory, plants one import that
breaks a contract of pyproject.toml's [tool.importlinter], and runs the real
linter over the copy. The unmodified package must pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (pip install -e '.[dev]')")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120)


def copy_with(tmp_path: Path, module: str, line: str) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "gitops_ray", tree / "gitops_ray", ignore=shutil.ignore_patterns("__pycache__"))
    target = tree / "gitops_ray" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    return tree


def test_the_package_keeps_every_contract(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "gitops_ray", tree / "gitops_ray", ignore=shutil.ignore_patterns("__pycache__"))
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "line", "broken"), [
    # the record must never import the engine (it is read and verified without it)
    ("record/facts.py", "from gitops_ray.engine import plan  # noqa", "Stages are layered"),
    # checks are offline: no cluster
    ("checks/policy.py", "from gitops_ray import cluster  # noqa", "Checks are offline"),
    # the sandbox is a server of its own
    ("sandbox/store.py", "from gitops_ray.engine import diff  # noqa", "The sandbox is a server"),
    # only cluster talks to Kubernetes
    ("engine/plan.py", "import kubernetes  # noqa", "Only cluster imports the kubernetes client"),
    # a cycle inside one package
    ("record/entries.py", "from gitops_ray.record import store  # noqa", "No import cycles"),
])
def test_a_wrong_arrow_fails_lint(tmp_path: Path, module: str, line: str, broken: str) -> None:
    result = lint(copy_with(tmp_path, module, line))
    assert result.returncode != 0
    report = result.stdout[result.stdout.index("Broken contracts"):]
    assert broken in report
