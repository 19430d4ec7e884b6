"""The one exception family users can cause.

Every error a user can trigger (bad input, unreachable repository, API refusal)
is a `GitopsRayError` carrying a message fit to print as one line; the CLI turns
it into that line and an exit code. Anything else reaching the user is a bug.
"""

from __future__ import annotations


class GitopsRayError(Exception):
    """Base class: `str(err)` is the one line shown to the user."""

    exit_code: int = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class SourceError(GitopsRayError):
    """Git: not a repository, unknown ref, unreachable remote."""


class ManifestError(GitopsRayError):
    """A manifest file that cannot be read at all (as opposed to a finding in it)."""


class SchemaError(GitopsRayError):
    """A schema that cannot be found, converted or imported."""


class ConfigError(GitopsRayError):
    """An environment file that is missing or invalid."""


class ClusterError(GitopsRayError):
    """The Kubernetes API refused or failed a request."""

    exit_code = 1


class ApplyError(GitopsRayError):
    """An apply that stopped part way; the result says what was done."""

    exit_code = 1


class RecordError(GitopsRayError):
    """The record store cannot be read, written or verified."""

    exit_code = 1
