"""The git-note anchor's store: `anchors.NoteStore` over a `source.Repository`.

Notes live under `refs/notes/gitops-ray` on the applied commits. Listing notes
and testing for a commit are not (yet) part of `source.Repository`, so this
adapter reaches its GitPython handle; the lead may fold `noted_commits` and
`has_commit` into source.py, which is the module that owns Git.
"""

from __future__ import annotations

from typing import Any

from gitops_ray.anchors import NOTES_REF


def _git_error() -> type[Exception]:
    from gitops_ray.source import _git

    error: type[Exception] = _git().GitCommandError
    return error


class RepositoryNotes:
    """`anchors.NoteStore` over a source.Repository (its notes ref, read and written through Git)."""

    def __init__(self, repository: Any, ref: str = NOTES_REF) -> None:
        self.repository = repository
        self.ref = ref

    def read_note(self, sha: str) -> str | None:
        text = self.repository.read_note(sha, ref=self.ref)
        return None if text is None else str(text)

    def add_note(self, sha: str, text: str) -> None:
        self.repository.add_note(sha, text, ref=self.ref)

    def _git(self) -> Any:
        return self.repository._repo.git

    def noted_commits(self) -> list[str] | None:
        try:
            self._git().rev_parse("--verify", "--quiet", self.ref)
            listing = str(self._git().notes("--ref", self.ref, "list"))
        except _git_error():  # no notes ref in this repository
            return None
        return [line.split()[1] for line in listing.splitlines() if len(line.split()) == 2]

    def has_commit(self, sha: str) -> bool:
        try:
            self._git().cat_file("-e", f"{sha}^{{commit}}")
        except _git_error():  # not a commit of this repository
            return False
        return True

