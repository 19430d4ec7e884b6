from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ray.errors import ExitCode, SourceError
from gitops_ray.source import Repository, open_snapshot


def test_snapshot_reads_committed_tree_not_the_working_tree(git_repo):
    repo = git_repo({"env/a.yaml": "a: 1\n", "README.md": "x"})
    (repo.path / "env/a.yaml").write_text("a: 2\n")
    (repo.path / "env/new.yaml").write_text("n: 1\n")

    snap = Repository.open(repo.path).snapshot("HEAD")
    assert snap.files(["env"]) == ["env/a.yaml"]
    assert snap.read("env/a.yaml") == b"a: 1\n"
    assert snap.commit is not None and snap.description.startswith(f"commit {snap.commit.short_sha}")

    work = Repository.open(repo.path).snapshot(worktree=True)
    assert work.files(["env"]) == ["env/a.yaml", "env/new.yaml"]
    assert work.read("env/a.yaml") == b"a: 2\n"
    assert "uncommitted changes included" in work.description


def test_resolves_branch_tag_short_sha_and_head(git_repo):
    repo = git_repo({"a.yaml": "a: 1\n"})
    first = repo.git("rev-parse", "HEAD")
    repo.git("tag", "v1")
    second = repo.commit({"a.yaml": "a: 2\n"}, "second\n\nChange-Reason: testing")
    source = Repository.open(repo.path)
    assert source.resolve("HEAD").sha == second
    assert source.resolve("main").sha == second
    assert source.resolve("v1").sha == first
    assert source.resolve(first[:8]).sha == first
    assert source.snapshot("v1").read("a.yaml") == b"a: 1\n"
    commit = source.resolve("HEAD")
    assert (commit.author, commit.author_email) == ("Ada Author", "ada@example.com")
    assert (commit.committer, commit.committer_email) == ("Carl Committer", "carl@example.com")
    assert "Change-Reason: testing" in commit.message and commit.summary == "second"
    assert commit.signed is False
    assert source.changed_files(first, second) == ["a.yaml"]


def test_unknown_ref_not_a_repo_and_unreachable_remote_are_one_line_errors(git_repo, tmp_path):
    repo = git_repo({"a.yaml": "a: 1\n"})
    with pytest.raises(SourceError, match="unknown ref 'nope'") as err:
        Repository.open(repo.path).resolve("nope")
    assert err.value.exit_code == ExitCode.USAGE
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(SourceError, match="not a Git repository"):
        Repository.open(plain)
    with pytest.raises(SourceError, match="cannot fetch the repository") as remote:
        Repository.open("https://127.0.0.1:9/none.git", cache_dir=tmp_path / "cache")
    assert "\n" not in str(remote.value)
    assert remote.value.exit_code == ExitCode.ERROR  # the network, not the user: not a usage error


def test_remote_url_is_cloned_into_cache_and_fetched_later(git_repo, tmp_path):
    origin = git_repo({"a.yaml": "a: 1\n"})
    url = f"file://{origin.path}"
    cache = tmp_path / "cache"
    first = Repository.open(url, cache_dir=cache)
    assert first.snapshot("main").read("a.yaml") == b"a: 1\n"
    sha = origin.commit({"a.yaml": "a: 2\n"})
    again = Repository.open(url, cache_dir=cache)
    assert again.resolve("main").sha == sha
    assert len(list(cache.iterdir())) == 1


def test_paths_outside_a_repository_read_from_disk(tmp_path):
    (tmp_path / "m.yaml").write_text("a: 1\n")
    snap = open_snapshot(repo=None, ref=None, worktree=False, paths=[tmp_path / "m.yaml"])
    assert "not a Git repository" in snap.description
    assert snap.files([snap.relpath(tmp_path / "m.yaml")]) == ["m.yaml"]


def test_missing_path_in_snapshot_is_an_error(git_repo):
    repo = git_repo({"a.yaml": "a: 1\n"})
    snap = Repository.open(repo.path).snapshot()
    with pytest.raises(SourceError, match="not found"):
        snap.files(["missing"])
    with pytest.raises(SourceError, match="outside the repository"):
        snap.files(["../x"])


def test_blob_id_is_the_git_blob_sha(git_repo):
    repo = git_repo({"a.yaml": "a: 1\n"})
    snap = Repository.open(repo.path).snapshot()
    assert snap.blob_id("a.yaml") == repo.git("rev-parse", "HEAD:a.yaml")
    disk = open_snapshot(repo=None, ref=None, worktree=True, paths=[Path(repo.path)])
    assert disk.blob_id("a.yaml") == snap.blob_id("a.yaml")


def test_git_notes_round_trip(git_repo):
    repo = git_repo({"a.yaml": "a: 1\n"})
    source = Repository.open(repo.path)
    sha = source.resolve().sha
    assert source.read_note(sha) is None
    source.add_note(sha, "checkpoint 3 abc")
    assert source.read_note(sha) == "checkpoint 3 abc"
