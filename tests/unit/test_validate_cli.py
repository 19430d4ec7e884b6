"""`gitops-ray validate` as users run it: exit codes, the four output formats, what it reads (commit,
working tree, plain files), environments, and the bad-input corpus (clear errors, never a traceback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner, Result

from gitops_ray.checks import schemas
from gitops_ray.cli.main import cli
from gitops_ray.cli.report import FINDING_KEYS
from gitops_ray.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "data" / "kuberay-samples-v1.5.1"
BAD_INPUT = REPO / "tests" / "data" / "bad-input"
CLUSTER = (SAMPLES / "ray-cluster.sample.yaml").read_text()
INVALID = CLUSTER.replace("  - replicas: 1\n", "  - replicas: one\n")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_RAY_SCHEMA_DIR", str(tmp_path / "user-schemas"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    schemas.clear_caches()


@pytest.fixture
def plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory outside any Git repository, as the current directory."""
    directory = tmp_path / "plain"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)


# --------------------------------------------------------------------------- plain files, exit codes, formats


def test_valid_files_exit_0_and_say_what_was_read(plain: Path) -> None:
    (plain / "cluster.yaml").write_text(CLUSTER)
    result = run("cluster.yaml")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid: 1 file, 1 document")
    assert f"files on disk under {plain}" in result.output and "KubeRay 1.7.0" in result.output


def test_invalid_files_exit_1_with_one_line_per_error(plain: Path) -> None:
    (plain / "cluster.yaml").write_text(INVALID)
    result = run(".", "--kuberay-version", "1.5.1")
    assert result.exit_code == 1
    first, summary = result.output.splitlines()
    assert first == ("cluster.yaml:35:5: RayCluster/raycluster-kuberay: spec.workerGroupSpecs[0].replicas: "
                     "'one' is not of type 'integer' [schema:type]")
    assert summary.startswith("invalid: 1 error in 1 file") and "KubeRay 1.5.1" in summary


def test_json_output_has_the_documented_shape(plain: Path) -> None:
    (plain / "bad.yaml").write_text(INVALID)
    (plain / "job.yaml").write_text((SAMPLES / "ray-job.deletion-rules.yaml").read_text())
    result = run(".", "-o", "json", "--kuberay-version", "1.5.1", "--ignore-missing-schemas")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["valid"] is False and data["documents"] == 2 and data["files"] == 2
    assert data["source"].startswith("files on disk")
    [error] = data["errors"]
    assert tuple(error) == FINDING_KEYS
    assert error == {"file": "bad.yaml", "line": 35, "column": 5, "apiVersion": "ray.io/v1", "kind": "RayCluster",
                     "namespace": "", "name": "raycluster-kuberay", "path": "spec.workerGroupSpecs[0].replicas",
                     "rule": "schema:type", "message": "'one' is not of type 'integer'"}
    [warning] = data["warnings"]
    assert tuple(warning) == FINDING_KEYS and warning["rule"] == "kuberay:feature-gate"


def test_github_output_is_workflow_annotations(plain: Path) -> None:
    (plain / "bad.yaml").write_text(INVALID)
    result = run("bad.yaml", "-o", "github")
    assert result.exit_code == 1
    annotation = result.output.splitlines()[0]
    assert annotation.startswith("::error file=bad.yaml,line=35,col=5,title=schema%3Atype::RayCluster/")
    assert annotation.endswith("'one' is not of type 'integer'")


def test_junit_output_has_a_test_case_per_file(plain: Path) -> None:
    (plain / "bad.yaml").write_text(INVALID)
    (plain / "good.yaml").write_text(CLUSTER.replace("raycluster-kuberay", "other"))
    result = run(".", "-o", "junit")
    assert result.exit_code == 1
    root = ElementTree.fromstring(result.output.split("\n", 1)[1])
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {"bad.yaml", "good.yaml"}
    failure = cases["bad.yaml"].find("failure")
    assert failure is not None and "bad.yaml:35:5" in (failure.text or "")
    assert cases["good.yaml"].find("failure") is None
    assert root.get("tests") == "2" and root.get("failures") == "1"


def test_usage_errors_exit_64(plain: Path) -> None:
    (plain / "cluster.yaml").write_text(CLUSTER)
    for args, words in ((["missing.yaml"], "no such file"), (["cluster.yaml", "--kuberay-version", "0.1.0"],
                                                              "no schemas for KubeRay 0.1.0"),
                        (["cluster.yaml", "--ref", "main"], "not inside a Git repository"),
                        (["cluster.yaml", "-o", "xml"], "Invalid value")):
        result = CliRunner().invoke(cli, ["validate", *args])
        assert result.exit_code == ExitCode.USAGE, (args, result.output)
        assert words in result.output
    (plain / "empty-dir").mkdir()
    result = CliRunner().invoke(cli, ["validate", "empty-dir"])
    assert result.exit_code == ExitCode.USAGE and "no manifest files" in result.output


def test_unknown_kinds_fail_unless_ignored(plain: Path) -> None:
    (plain / "w.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n")
    assert run("w.yaml").exit_code == 1
    result = run("w.yaml", "--ignore-missing-schemas")
    assert result.exit_code == 0 and "1 without a schema skipped" in result.output


# --------------------------------------------------------------------------- the bad-input corpus

BAD = [
    ("empty.yaml", "manifest:empty", 1),
    ("binary.yaml", "manifest:binary", 1),
    ("bomb.yaml", "yaml:alias-bomb", 2),
    ("latin1.yaml", "manifest:encoding", 4),
    ("tabs.yaml", "yaml:syntax", 4),
    ("list.yaml", "manifest:not-a-mapping", 1),
    ("scalar.yaml", "manifest:not-a-mapping", 2),
    ("unknown-tag.yaml", "yaml:tag", 6),
]


@pytest.mark.parametrize(("name", "rule", "line"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_error_with_file_and_line(plain: Path, name: str, rule: str, line: int) -> None:
    shutil.copy(BAD_INPUT / name, plain / name)
    result = run(name, "-o", "json")
    assert result.exit_code == 1
    [error] = json.loads(result.output)["errors"]
    assert (error["file"], error["rule"], error["line"]) == (name, rule, line)
    assert error["message"] and "Traceback" not in result.output


def test_a_file_over_ten_megabytes_is_refused_unread(plain: Path) -> None:
    with (plain / "huge.yaml").open("w") as out:
        out.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n")
        line = "  k{:07d}: " + "x" * 100 + "\n"
        for i in range(100_000):
            out.write(line.format(i))
    assert (plain / "huge.yaml").stat().st_size > 10 * 1024 * 1024
    result = run("huge.yaml")
    assert result.exit_code == 1
    assert result.output.startswith("huge.yaml:1:1: file is ") and "[manifest:too-large]" in result.output


def test_the_whole_corpus_at_once_reports_every_file(plain: Path) -> None:
    for name, *_ in BAD:
        shutil.copy(BAD_INPUT / name, plain / name)
    data = json.loads(run(".", "-o", "json").output)
    assert sorted((e["file"], e["rule"]) for e in data["errors"]) == sorted((n, r) for n, r, _ in BAD)


# --------------------------------------------------------------------------- Git: commit, working tree, ref, repo


def test_inside_git_the_commit_is_read_not_the_working_tree(git_repo: Callable[..., object],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_repo({"k8s/cluster.yaml": CLUSTER})
    repo.write({"k8s/cluster.yaml": INVALID})  # type: ignore[attr-defined]
    monkeypatch.chdir(repo.path)  # type: ignore[attr-defined]
    committed = run("k8s")
    assert committed.exit_code == 0 and "read commit" in committed.output
    worktree = run("k8s", "--worktree")
    assert worktree.exit_code == 1 and "read working tree" in worktree.output
    assert worktree.output.startswith("k8s/cluster.yaml:35:5:")


def test_ref_and_repo_select_what_is_read(git_repo: Callable[..., object], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_repo({"k8s/cluster.yaml": CLUSTER})
    repo.commit({"k8s/cluster.yaml": INVALID}, "break it")  # type: ignore[attr-defined]
    monkeypatch.chdir(tmp_path)
    location = str(repo.path)  # type: ignore[attr-defined]
    assert run("--repo", location, "k8s").exit_code == 1
    previous = run("--repo", location, "--ref", "HEAD~1", "k8s")
    assert previous.exit_code == 0 and "(HEAD~1)" in previous.output
    result = CliRunner().invoke(cli, ["validate", "--repo", location, "--ref", "no-such-branch"])
    assert result.exit_code == ExitCode.USAGE and "unknown ref" in result.output


def test_an_uncommitted_path_is_an_error_with_a_hint(git_repo: Callable[..., object],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_repo({"k8s/cluster.yaml": CLUSTER})
    repo.write({"new.yaml": CLUSTER})  # type: ignore[attr-defined]
    monkeypatch.chdir(repo.path)  # type: ignore[attr-defined]
    result = CliRunner().invoke(cli, ["validate", "new.yaml"])
    assert result.exit_code == ExitCode.USAGE and "--worktree" in result.output


ENVIRONMENT = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  cluster: {sandbox: {}}
  kuberayVersion: "1.5.1"
  namespaces: [ray-dev]
  paths: ["."]
"""


def test_an_environment_brings_its_paths_version_namespaces_and_operator(git_repo: Callable[..., object],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    job = (SAMPLES / "ray-job.deletion-rules.yaml").read_text()
    wrong_namespace = CLUSTER.replace("  name: raycluster-kuberay\n",
                                      "  name: raycluster-kuberay\n  namespace: ray-prod\n")
    repo = git_repo({"environments/dev/environment.yaml": ENVIRONMENT, "environments/dev/job.yaml": job,
                     "environments/dev/cluster.yaml": wrong_namespace})
    monkeypatch.chdir(repo.path)  # type: ignore[attr-defined]
    data = json.loads(run("--env", "dev", "-o", "json", "--ignore-missing-schemas").output)
    assert data["kuberayVersion"] == "1.5.1" and data["environment"] == "dev" and data["files"] == 2
    assert [(e["rule"], e["path"]) for e in data["errors"]] == [("policy:namespace", "metadata.namespace")]
    assert [w["rule"] for w in data["warnings"]] == ["kuberay:feature-gate"]
    declared = ENVIRONMENT + "  operator:\n    featureGates: {RayJobDeletionPolicy: false}\n"
    repo.commit({"environments/dev/environment.yaml": declared,  # type: ignore[attr-defined]
                 "environments/dev/cluster.yaml": CLUSTER})
    data = json.loads(run("--env", "dev", "-o", "json", "--ignore-missing-schemas").output)
    assert [e["rule"] for e in data["errors"]] == ["kuberay:feature-gate"] and data["warnings"] == []
    newer = json.loads(run("--env", "dev", "-o", "json", "--kuberay-version", "1.7.0",
                           "--ignore-missing-schemas").output)
    assert newer["kuberayVersion"] == "1.7.0"


def test_an_unknown_environment_is_a_usage_error(git_repo: Callable[..., object],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_repo({"environments/dev/environment.yaml": ENVIRONMENT, "environments/dev/c.yaml": CLUSTER})
    monkeypatch.chdir(repo.path)  # type: ignore[attr-defined]
    result = CliRunner().invoke(cli, ["validate", "--env", "qa"])
    assert result.exit_code == ExitCode.USAGE and "environments: dev" in result.output


# --------------------------------------------------------------------------- a real process


def test_python_dash_m_gitops_ray_validate_as_a_process(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(INVALID)
    env = {**os.environ, "GITOPS_RAY_SCHEMA_DIR": str(tmp_path / "s"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    proc = subprocess.run([sys.executable, "-m", "gitops_ray", "validate", "bad.yaml", "-o", "json"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["errors"][0]["path"] == "spec.workerGroupSpecs[0].replicas"
    assert proc.stderr == ""
    proc = subprocess.run([sys.executable, "-m", "gitops_ray", "validate", "nope.yaml"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == ExitCode.USAGE and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_validate_does_not_import_the_kubernetes_client(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CLUSTER)
    code = ("import sys\nfrom gitops_ray.cli.main import main\ntry:\n    main(['validate', 'c.yaml'])\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('kubernetes', 'git', 'jsonschema', 'ruamel')))")
    env = {**os.environ, "GITOPS_RAY_SCHEMA_DIR": str(tmp_path / "s"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout
