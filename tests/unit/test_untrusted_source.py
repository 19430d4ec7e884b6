"""A commit is untrusted input: links, submodules and LFS pointers in it are named as what they
are, never followed or fetched, in the commit-tree reader and the working-tree reader alike
(issue 9, deliverable 1)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gitops_ray.checks import schemas
from gitops_ray.cli.main import cli
from gitops_ray.engine.pipeline import InvalidManifests, load_desired
from gitops_ray.environment import load_environment
from gitops_ray.errors import ExitCode
from gitops_ray.source import NotAFile, Repository

CANARY = "canary-outside-the-repository-5d1e"
ENV = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  cluster: {sandbox: {}}
  kuberayVersion: "1.5.1"
  namespaces: [ray-dev]
"""
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ray-dev}\ndata: {mode: fast}\n"
LFS = (b"version https://git-lfs.github.com/spec/v1\n"
       b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_RAY_SCHEMA_DIR", str(tmp_path / "user-schemas"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    schemas.clear_caches()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the repository whose content must never be read."""
    secret = tmp_path / "outside" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {CANARY}, namespace: ray-dev}}\n")
    return secret


def validate(repo: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["validate", "--repo", str(repo.path), "--env", "dev", "-o", "json", *args],
                                catch_exceptions=False)
    assert CANARY not in result.output
    return result.exit_code, json.loads(result.output)


def rules(report: dict[str, Any]) -> dict[str, str]:
    return {e["file"]: f"{e['rule']}: {e['message']}" for e in report["errors"]}


def test_committed_symlink_to_a_file_outside_is_reported_as_a_link_and_never_read(git_repo, outside):
    repo = git_repo({"environments/dev/environment.yaml": ENV, "environments/dev/cm.yaml": CM})
    os.symlink(outside, repo.path / "environments/dev/stolen.yaml")
    repo.commit({})
    code, report = validate(repo)
    assert code == ExitCode.FAILED
    found = rules(report)["environments/dev/stolen.yaml"]
    assert found.startswith("source:symlink: a symbolic link (to ") and str(outside) in found
    with pytest.raises(InvalidManifests, match=r"stolen\.yaml.*symbolic link") as err:
        snapshot = Repository.open(repo.path).snapshot()
        load_desired(snapshot, load_environment(snapshot, "dev"))
    assert CANARY not in str(err.value)


def test_worktree_symlink_out_of_the_repository_is_not_followed(git_repo, outside):
    repo = git_repo({"environments/dev/environment.yaml": ENV, "environments/dev/cm.yaml": CM})
    os.symlink(outside, repo.path / "environments/dev/stolen.yaml")  # uncommitted: only --worktree sees it
    code, report = validate(repo, "--worktree")
    assert code == ExitCode.FAILED
    assert rules(report)["environments/dev/stolen.yaml"].startswith("source:symlink: a symbolic link")
    snapshot = Repository.open(repo.path).snapshot(worktree=True)
    with pytest.raises(NotAFile, match="symbolic link"):
        snapshot.read("environments/dev/stolen.yaml")


def test_worktree_symlinked_directory_is_named_and_nothing_under_it_is_read(git_repo, outside):
    repo = git_repo({"environments/dev/environment.yaml": ENV, "environments/dev/cm.yaml": CM})
    os.symlink(outside.parent, repo.path / "environments/dev/shared")
    code, report = validate(repo, "--worktree")
    assert code == ExitCode.FAILED
    assert rules(report) == {"environments/dev/shared": rules(report)["environments/dev/shared"]}
    assert "a symbolic link" in rules(report)["environments/dev/shared"]
    snapshot = Repository.open(repo.path).snapshot(worktree=True)
    with pytest.raises(NotAFile, match="environments/dev/shared: a symbolic link"):
        snapshot.read("environments/dev/shared/secret.yaml")  # a path through the link, named explicitly


def test_environment_directory_that_is_a_link_is_refused_in_both_readers(git_repo, outside):
    repo = git_repo({"environments/keep.txt": "x"})
    outside.with_name("environment.yaml").write_text(ENV)
    os.symlink(outside.parent, repo.path / "environments/dev")
    repo.commit({})
    for worktree in (False, True):
        snapshot = Repository.open(repo.path).snapshot(worktree=worktree)
        with pytest.raises(NotAFile, match="environments/dev: a symbolic link") as err:
            load_environment(snapshot, "dev")
        assert err.value.exit_code == ExitCode.FAILED


def test_lfs_pointer_is_reported_as_an_lfs_pointer_not_as_yaml(git_repo):
    repo = git_repo({"environments/dev/environment.yaml": ENV, "environments/dev/cm.yaml": CM,
                     "environments/dev/big.yaml": LFS})
    for args in ((), ("--worktree",)):
        code, report = validate(repo, *args)
        assert code == ExitCode.FAILED
        assert rules(report) == {"environments/dev/big.yaml": "source:lfs-pointer: a Git LFS pointer "
                                 "(sha256:4d7a214614ab..., 12345 bytes), not the file; gitops-ray never fetches "
                                 "LFS objects: commit the manifest itself"}


def test_submodule_is_reported_as_a_submodule_and_never_fetched(git_repo):
    repo = git_repo({"environments/dev/environment.yaml": ENV, "environments/dev/cm.yaml": CM})
    pinned = "0123456789abcdef0123456789abcdef01234567"
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{pinned},environments/dev/vendor")
    repo.git("commit", "-q", "-m", "add a gitlink")
    code, report = validate(repo)
    assert code == ExitCode.FAILED
    assert rules(report)["environments/dev/vendor"].startswith(
        "source:submodule: a Git submodule (gitlink at commit 0123456789ab)")
    # --worktree: a checked-out submodule is a directory with its own .git
    (repo.path / "environments/dev/vendor").mkdir()
    (repo.path / "environments/dev/vendor/.git").write_text("gitdir: ../../.git/modules/vendor\n")
    (repo.path / "environments/dev/vendor/cm.yaml").write_text(CM.replace("settings", "from-submodule"))
    code, report = validate(repo, "--worktree")
    assert code == ExitCode.FAILED
    assert rules(report)["environments/dev/vendor"].startswith("source:submodule: a Git submodule")
    assert "from-submodule" not in json.dumps(report)


def test_absolute_and_parent_paths_never_leave_the_repository(git_repo, outside):
    repo = git_repo({"a.yaml": CM})
    for worktree in (False, True):
        snapshot = Repository.open(repo.path).snapshot(worktree=worktree)
        for path in (str(outside), "../outside/secret.yaml", "a/../../outside/secret.yaml"):
            with pytest.raises(Exception, match=r"outside the repository|absolute path") as err:
                snapshot.read(path)
            assert CANARY not in str(err.value)
