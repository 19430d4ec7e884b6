"""The git-note anchor's store: `anchors.NoteStore` over a `source.Repository`.

Notes live under `refs/notes/gitops-ray` on the applied commits; all Git access
goes through `source.Repository`, the module that owns Git.
"""

from __future__ import annotations

from typing import Any

from gitops_ray.record.anchors import NOTES_REF


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

    def noted_commits(self) -> list[str] | None:
        result: list[str] | None = self.repository.noted_commits(ref=self.ref)
        return result

    def has_commit(self, sha: str) -> bool:
        return bool(self.repository.has_commit(sha))
