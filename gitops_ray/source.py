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
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gitops_ray.errors import ExitCode, SourceError
from gitops_ray.trust import private_dir

YAML_SUFFIXES = (".yaml", ".yml")
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1\n"
_SYMLINK_MODE = 0o120000

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


class NotAFile(SourceError):
    """A path that is not a file's own content: a symbolic link, a Git submodule (gitlink) or a
    Git LFS pointer. It is named as what it is and never read as YAML: a link could lead out of
    the repository, and a submodule or LFS object would be fetched from wherever the commit says.
    Wrong content of the commit, like an invalid manifest (exit 1)."""

    exit_code = ExitCode.FAILED

    def __init__(self, path: str, what: str, *, rule: str) -> None:
        super().__init__(f"{path}: {what}")
        self.path = path
        self.what = what
        self.rule = rule


def _symlink(path: str, target: str) -> NotAFile:
    return NotAFile(path, f"a symbolic link (to {target}); gitops-ray reads no links: commit the file itself",
                    rule="source:symlink")


def _submodule(path: str, commit: str) -> NotAFile:
    pinned = f" at commit {commit[:12]}" if commit else ""
    return NotAFile(path, f"a Git submodule (gitlink{pinned}); gitops-ray never fetches submodules: commit the "
                          "manifests into this repository", rule="source:submodule")


def _lfs_pointer(path: str, data: bytes) -> NotAFile:
    fields = dict(line.split(" ", 1) for line in data.decode("ascii", "replace").splitlines() if " " in line)
    oid = fields.get("oid", "").strip()
    size = fields.get("size", "?").strip()
    return NotAFile(path, f"a Git LFS pointer ({oid[:19]}..., {size} bytes), not the file; gitops-ray never "
                          "fetches LFS objects: commit the manifest itself", rule="source:lfs-pointer")


def is_lfs_pointer(data: bytes) -> bool:
    return data.startswith(LFS_POINTER_PREFIX) and len(data) < 1024


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
                private_dir(target.parent, base=target.parent.parent)  # clones of private repositories
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
    """The files of one commit (read from its tree), the working tree, or a directory.

    Both readers treat the repository the same way: a symbolic link, a submodule or an LFS
    pointer is never followed or fetched, only named (`NotAFile`); the tree reader sees them
    as what Git stores (a link's target text, a gitlink), the working-tree reader checks every
    path component with lstat so that `--worktree` cannot be led out of the repository.
    """

    def __init__(self, *, root: Path, commit: Commit | None, tree: Any, worktree: bool, description: str,
                 repository: Repository | None = None) -> None:
        self.root = root
        self.repository = repository
        self.commit = commit
        self.worktree = worktree
        self.description = description
        self._tree = tree
        self._entries: dict[str, Any] | None = None
        self._dirs_checked: dict[str, NotAFile | None] = {"": None}

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
        if norm.startswith("../") or norm == ".." or "/../" in norm or norm.endswith("/.."):
            raise SourceError(f"{path}: outside the repository", exit_code=ExitCode.USAGE)
        if norm.startswith("/"):
            raise SourceError(f"{path}: an absolute path; name files relative to the repository",
                              exit_code=ExitCode.USAGE)
        return norm.removeprefix("./").rstrip("/")

    def _entry(self, path: str) -> Any:
        """The tree or blob at `path`, from one traversal of the commit's tree (GitPython
        re-reads every tree on the way for each `tree / path` lookup)."""
        if not path:
            return self._tree
        if self._entries is None:
            self._entries = {item.path: item for item in self._tree.traverse()}
        return self._entries.get(path)

    def _not_a_file(self, path: str, *, parents_only: bool = False) -> NotAFile | None:
        """The link or submodule at `path` or on the way to it, if any."""
        parts = PurePosixPath(path).parts if path else ()
        upto = len(parts) - 1 if parents_only else len(parts)
        for i in range(1, upto + 1):
            prefix = "/".join(parts[:i])
            if i < len(parts) and prefix in self._dirs_checked:
                found = self._dirs_checked[prefix]
            else:
                found = self._special_tree(prefix) if self._tree is not None else self._special_disk(prefix)
                if i < len(parts):
                    self._dirs_checked[prefix] = found
            if found is not None:
                return found
        return None

    def _special_tree(self, path: str) -> NotAFile | None:
        entry = self._entry(path)
        if entry is None:
            return None
        if entry.type == "submodule":
            return _submodule(path, str(entry.hexsha))
        if entry.type == "blob" and entry.mode == _SYMLINK_MODE:
            return _symlink(path, entry.data_stream.read().decode("utf-8", "replace"))
        return None

    def _special_disk(self, path: str) -> NotAFile | None:
        full = self.root / path
        try:
            info = full.lstat()
        except OSError:
            return None
        if stat.S_ISLNK(info.st_mode):
            try:
                target = os.readlink(full)
            except OSError:
                target = "?"
            return _symlink(path, target)
        if stat.S_ISDIR(info.st_mode) and (full / ".git").exists():
            return _submodule(path, "")  # a checked-out submodule (or a nested repository)
        return None

    def check(self, path: str) -> None:
        """Raise NotAFile if `path`, or a directory on the way to it, is a link or a submodule."""
        found = self._not_a_file(self._norm(path))
        if found is not None:
            raise found

    def tracked(self, path: str) -> bool:
        """Whether Git holds `path` (a file or anything under a directory): in the commit read,
        or, for the working tree, in the index. Untracked files on disk are the runner's."""
        path = self._norm(path)
        if self._tree is not None:
            return self._entry(path) is not None
        if self.repository is None:
            return False
        return bool(self.repository._repo.git.ls_files("--", path or "."))

    def exists(self, path: str) -> bool:
        path = self._norm(path)
        if self._not_a_file(path) is not None:
            return True  # it is there; reading it says what it is
        if self._tree is None:
            return (self.root / path).exists()
        return self._entry(path) is not None

    def is_dir(self, path: str) -> bool:
        path = self._norm(path)
        if self._not_a_file(path) is not None:
            return False
        if self._tree is None:
            return (self.root / path).is_dir()
        entry = self._entry(path)
        return entry is not None and entry.type == "tree"

    def files(self, paths: Sequence[str] = ("",), suffixes: tuple[str, ...] = YAML_SUFFIXES) -> list[str]:
        """Root-relative POSIX paths; directories recursed for `suffixes`; files named
        explicitly are kept whatever their suffix. Links and submodules found on the way are
        kept whatever their name, so that reading them reports what they are."""
        found: set[str] = set()
        for raw in paths:
            path = self._norm(raw)
            if not self.exists(path):
                raise SourceError(f"{raw or '.'}: not found in {self.description}", exit_code=ExitCode.USAGE)
            if self.is_dir(path):
                found.update(p for p, special in self._walk(path) if special or p.endswith(suffixes))
            else:
                found.add(path)
        return sorted(found)

    def _walk(self, path: str) -> Iterator[tuple[str, bool]]:
        """(path, is a link or submodule) of every file under `path`, hidden ones left out."""
        if self._tree is None:
            base = self.root / path
            for dirpath, dirnames, filenames in os.walk(base):  # os.walk never follows directory links
                rel_dir = Path(dirpath).relative_to(self.root)
                kept = []
                for name in sorted(d for d in dirnames if not d.startswith(".")):
                    rel = (rel_dir / name).as_posix()
                    if self._special_disk(rel) is not None:
                        yield rel, True
                    else:
                        kept.append(name)
                dirnames[:] = kept
                for name in filenames:
                    if not name.startswith("."):
                        rel = (rel_dir / name).as_posix()
                        yield rel, os.path.islink(self.root / rel)
            return
        entry = self._entry(path)
        for item in entry.traverse():
            if any(part.startswith(".") for part in PurePosixPath(item.path).parts):
                continue
            if item.type == "submodule":
                yield item.path, True
            elif item.type == "blob":
                yield item.path, item.mode == _SYMLINK_MODE

    def read(self, path: str) -> bytes:
        path = self._norm(path)
        special = self._not_a_file(path)
        if special is not None:
            raise special
        if self._tree is None:
            try:
                data = (self.root / path).read_bytes()
            except OSError as err:
                raise SourceError(f"{path}: cannot read: {err.strerror}") from None
        else:
            entry = self._entry(path)
            if entry is None or entry.type != "blob":
                raise SourceError(f"{path}: not a file in {self.description}", exit_code=ExitCode.USAGE)
            data = entry.data_stream.read()
        if is_lfs_pointer(data):
            raise _lfs_pointer(path, data)
        return data

    def blob_id(self, path: str) -> str:
        path = self._norm(path)
        if self._tree is not None:
            self.check(path)
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
