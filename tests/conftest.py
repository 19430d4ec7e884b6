"""Fixtures shared by every test: temporary Git repositories built from a dict of files."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = REPO_ROOT / "tests" / "data"
SAMPLES = DATA / "kuberay-samples-v1.5.1"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Author",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Carl Committer",
    "GIT_COMMITTER_EMAIL": "carl@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


class GitRepo:
    """A throwaway repository; `commit(files)` writes (or deletes, with None) and commits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        out = subprocess.run(["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def write(self, files: Mapping[str, str | bytes | None]) -> None:
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def commit(self, files: Mapping[str, str | bytes | None], message: str = "change") -> str:
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path) -> Callable[..., GitRepo]:
    """`git_repo({"a.yaml": "..."}, message="...")` -> a repository with one commit."""

    def make(files: Mapping[str, str | bytes | None] | None = None, message: str = "initial") -> GitRepo:
        repo = GitRepo(tmp_path / f"repo{len(list(tmp_path.glob('repo*')))}")
        if files is not None:
            repo.commit(files, message)
        return repo

    return make
