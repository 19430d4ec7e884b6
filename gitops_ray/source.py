"""Git, through GitPython: the only module that talks to Git.

Manifests are read from a commit's tree, never from a checkout: what gets
validated, planned and recorded is exactly what the commit holds, whatever the
working tree looks like. `--worktree` is the explicit opt-in to uncommitted
files, and every `Snapshot` says which of the two it is.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gitops_ray.errors import ExitCode, SourceError

YAML_SUFFIXES = (".yaml", ".yml")

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


def _git() -> Any:
    """Import GitPython lazily: `validate` on plain files should not pay for it."""
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    import git

    return git


@dataclass(frozen=True, kw_only=True)
class Commit:
    sha: str
    author: str
    author_email: str
    authored_at: str
    committer: str
    committer_email: str
    committed_at: str
    message: str
    signed: bool

    @property
    def short_sha(self) -> str:
        return self.sha[:12]

    @property
    def summary(self) -> str:
        return self.message.splitlines()[0] if self.message else ""


def is_remote(location: str) -> bool:
    return bool(_REMOTE.match(location))


class Repository:
    """A local repository, or a remote one mirrored into a cache directory."""

    def __init__(self, repo: Any, *, location: str) -> None:
        self._repo = repo
        self.location = location
        self.root = Path(repo.working_tree_dir or repo.git_dir).resolve()

    @classmethod
    def open(cls, location: str | Path = ".", *, cache_dir: Path | None = None) -> Repository:
        text = str(location)
        if is_remote(text):
            return cls._open_remote(text, cache_dir or default_cache_dir())
        git = _git()
        path = Path(text).expanduser()
        if not path.exists():
            raise SourceError(f"{text}: no such directory", exit_code=ExitCode.USAGE)
        try:
            repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise SourceError(f"{text}: not a Git repository", exit_code=ExitCode.USAGE) from None
        return cls(repo, location=str(path.resolve()))

    @classmethod
    def discover(cls, path: Path) -> Repository | None:
        git = _git()
        start = path if path.is_dir() else path.parent
        try:
            repo = git.Repo(start, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            return None
        return cls(repo, location=str(Path(repo.working_tree_dir or start).resolve()))

    @classmethod
    def _open_remote(cls, url: str, cache_dir: Path) -> Repository:
        git = _git()
        target = cache_dir / hashlib.sha256(url.encode()).hexdigest()[:16]
        try:
            if (target / "HEAD").exists():
                repo = git.Repo(target)
                repo.git.fetch("--prune", "--tags", "--force", "origin", "+refs/heads/*:refs/heads/*")
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                repo = git.Repo.clone_from(url, target, bare=True, multi_options=["--quiet"])
        except git.GitCommandError as err:
            lines = [ln.strip().removeprefix("stderr:").strip(" '") for ln in str(err.stderr or "").splitlines()]
            reason = next((ln for ln in reversed(lines) if ln), "git failed").removeprefix("fatal: ")
            raise SourceError(f"{url}: cannot fetch the repository: {reason}") from None
        return cls(repo, location=url)

    @property
    def is_bare(self) -> bool:
        return bool(self._repo.bare)

    def resolve(self, ref: str = "HEAD") -> Commit:
        git = _git()
        try:
            commit = self._repo.commit(ref)
        except (git.BadName, ValueError, git.BadObject):
            raise SourceError(f"{self.location}: unknown ref {ref!r}", exit_code=ExitCode.USAGE) from None
        return _commit_of(commit)

    def snapshot(self, ref: str = "HEAD", *, worktree: bool = False) -> Snapshot:
        if worktree:
            if self.is_bare:
                raise SourceError(f"{self.location}: --worktree needs a local checkout, not a remote",
                                  exit_code=ExitCode.USAGE)
            return Snapshot(root=self.root, commit=None, tree=None, worktree=True, repository=self,
                            description=f"working tree of {self.root} (uncommitted changes included)")
        commit = self.resolve(ref)
        tree = self._repo.commit(commit.sha).tree
        label = f" ({ref})" if ref and ref != commit.sha else ""
        return Snapshot(root=self.root, commit=commit, tree=tree, worktree=False, repository=self,
                        description=f"commit {commit.short_sha}{label} of {self.location}")

    def changed_files(self, base: str, head: str) -> list[str]:
        a = self._repo.commit(self.resolve(base).sha)
        b = self._repo.commit(self.resolve(head).sha)
        paths: set[str] = set()
        for diff in a.diff(b):
            for path in (diff.a_path, diff.b_path):
                if path:
                    paths.add(path)
        return sorted(paths)

    def commits(self, ref: str = "HEAD", *, paths: Sequence[str] = (), max_count: int | None = None) -> list[Commit]:
        """Newest first: the history that touched `paths`."""
        kwargs: dict[str, Any] = {"max_count": max_count} if max_count else {}
        return [_commit_of(c) for c in self._repo.iter_commits(self.resolve(ref).sha, paths=list(paths), **kwargs)]

    def add_note(self, sha: str, text: str, *, ref: str = "refs/notes/gitops-ray") -> None:
        """Attach (or replace) a git note: the record's anchor on the applied commit."""
        git = _git()
        try:
            self._repo.git.notes("--ref", ref, "add", "-f", "-m", text, sha)
        except git.GitCommandError as err:
            if "tell me who you are" not in str(err.stderr) and "identity" not in str(err.stderr):
                raise SourceError(f"{self.location}: cannot write git note: {err.stderr}") from None
            # No identity configured (a CI runner): notes are written as gitops-ray.
            with self._repo.git.custom_environment(
                GIT_COMMITTER_NAME="gitops-ray", GIT_COMMITTER_EMAIL="gitops-ray@localhost",
                GIT_AUTHOR_NAME="gitops-ray", GIT_AUTHOR_EMAIL="gitops-ray@localhost",
            ):
                self._repo.git.notes("--ref", ref, "add", "-f", "-m", text, sha)

    def read_note(self, sha: str, *, ref: str = "refs/notes/gitops-ray") -> str | None:
        git = _git()
        try:
            return str(self._repo.git.notes("--ref", ref, "show", sha))
        except git.GitCommandError:
            return None

    def noted_commits(self, *, ref: str = "refs/notes/gitops-ray") -> list[str] | None:
        """Commits carrying a note under `ref`; None when the notes ref does not exist."""
        git = _git()
        try:
            self._repo.git.rev_parse("--verify", "--quiet", ref)
            listing = str(self._repo.git.notes("--ref", ref, "list"))
        except git.GitCommandError:
            return None
        return [line.split()[1] for line in listing.splitlines() if len(line.split()) == 2]

    def has_commit(self, sha: str) -> bool:
        git = _git()
        try:
            self._repo.git.cat_file("-e", f"{sha}^{{commit}}")
        except git.GitCommandError:
            return False
        return True


def _commit_of(commit: Any) -> Commit:
    return Commit(
        sha=commit.hexsha,
        author=commit.author.name or "",
        author_email=commit.author.email or "",
        authored_at=commit.authored_datetime.isoformat(),
        committer=commit.committer.name or "",
        committer_email=commit.committer.email or "",
        committed_at=commit.committed_datetime.isoformat(),
        message=commit.message if isinstance(commit.message, str) else commit.message.decode("utf-8", "replace"),
        signed=bool(commit.gpgsig),
    )


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-ray" / "repos"


class Snapshot:
    """The files of one commit (read from its tree), the working tree, or a directory."""

    def __init__(self, *, root: Path, commit: Commit | None, tree: Any, worktree: bool, description: str,
                 repository: Repository | None = None) -> None:
        self.root = root
        self.repository = repository
        self.commit = commit
        self.worktree = worktree
        self.description = description
        self._tree = tree
        self._entries: dict[str, Any] | None = None

    @classmethod
    def from_directory(cls, root: Path) -> Snapshot:
        root = root.resolve()
        return cls(root=root, commit=None, tree=None, worktree=True,
                   description=f"files on disk under {root} (not a Git repository)")

    # ------------------------------------------------------------------ paths

    def relpath(self, path: Path) -> str:
        absolute = path if path.is_absolute() else Path.cwd() / path
        try:
            rel = absolute.resolve().relative_to(self.root)
        except ValueError:
            raise SourceError(f"{path}: outside the repository at {self.root}", exit_code=ExitCode.USAGE) from None
        return rel.as_posix() if str(rel) != "." else ""

    def _norm(self, path: str) -> str:
        norm = PurePosixPath(path.replace("\\", "/")).as_posix()
        if norm in (".", "./"):
            return ""
        if norm.startswith("../") or norm == "..":
            raise SourceError(f"{path}: outside the repository", exit_code=ExitCode.USAGE)
        return norm.removeprefix("./").rstrip("/")

    def _entry(self, path: str) -> Any:
        """The tree or blob at `path`, from one traversal of the commit's tree (GitPython
        re-reads every tree on the way for each `tree / path` lookup)."""
        if not path:
            return self._tree
        if self._entries is None:
            self._entries = {item.path: item for item in self._tree.traverse()}
        return self._entries.get(path)

    def exists(self, path: str) -> bool:
        path = self._norm(path)
        if self._tree is None:
            return (self.root / path).exists()
        return self._entry(path) is not None

    def is_dir(self, path: str) -> bool:
        path = self._norm(path)
        if self._tree is None:
            return (self.root / path).is_dir()
        entry = self._entry(path)
        return entry is not None and entry.type == "tree"

    def files(self, paths: Sequence[str] = ("",), suffixes: tuple[str, ...] = YAML_SUFFIXES) -> list[str]:
        """Root-relative POSIX paths; directories recursed for `suffixes`; files named
        explicitly are kept whatever their suffix."""
        found: set[str] = set()
        for raw in paths:
            path = self._norm(raw)
            if not self.exists(path):
                raise SourceError(f"{raw or '.'}: not found in {self.description}", exit_code=ExitCode.USAGE)
            if self.is_dir(path):
                found.update(p for p in self._walk(path) if p.endswith(suffixes))
            else:
                found.add(path)
        return sorted(found)

    def _walk(self, path: str) -> Iterator[str]:
        if self._tree is None:
            base = self.root / path
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                rel_dir = Path(dirpath).relative_to(self.root)
                for name in filenames:
                    if not name.startswith("."):
                        yield (rel_dir / name).as_posix()
            return
        entry = self._entry(path)
        for item in entry.traverse():
            if item.type == "blob" and not any(part.startswith(".") for part in PurePosixPath(item.path).parts):
                yield item.path

    def read(self, path: str) -> bytes:
        path = self._norm(path)
        if self._tree is None:
            try:
                return (self.root / path).read_bytes()
            except OSError as err:
                raise SourceError(f"{path}: cannot read: {err.strerror}") from None
        entry = self._entry(path)
        if entry is None or entry.type != "blob":
            raise SourceError(f"{path}: not a file in {self.description}", exit_code=ExitCode.USAGE)
        data: bytes = entry.data_stream.read()
        return data

    def blob_id(self, path: str) -> str:
        path = self._norm(path)
        if self._tree is not None:
            entry = self._entry(path)
            if entry is not None:
                return str(entry.hexsha)
        data = self.read(path)
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's blob id, for a cache key


def open_snapshot(
    *,
    repo: str | None,
    ref: str | None,
    worktree: bool,
    paths: Sequence[Path] = (),
) -> Snapshot:
    """The snapshot a command reads: `--repo`/`--ref`/`--worktree` if given, else the
    repository containing the first path (or the current directory), else plain files."""
    if repo is not None:
        return Repository.open(repo).snapshot(ref or "HEAD", worktree=worktree)
    absolute = [p.resolve() for p in paths] or [Path.cwd()]
    start = absolute[0]
    found = Repository.discover(start if start.exists() else Path.cwd())
    if found is None:
        if ref is not None:
            raise SourceError(f"{paths[0] if paths else '.'}: --ref given but not inside a Git repository",
                              exit_code=ExitCode.USAGE)
        dirs = [p if p.is_dir() else p.parent for p in absolute]
        return Snapshot.from_directory(Path(os.path.commonpath(dirs)))
    if found._repo.head.is_valid() or ref is not None or worktree:
        return found.snapshot(ref or "HEAD", worktree=worktree)
    raise SourceError(f"{found.root}: the repository has no commits yet (use --worktree to read files on disk)",
                      exit_code=ExitCode.USAGE)
