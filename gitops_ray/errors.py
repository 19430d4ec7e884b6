"""The one exception family users can cause, and the one exit-code table every command uses.

Every error a user can trigger (bad input, unreachable repository, API refusal)
is a `GitopsRayError` carrying a message fit to print as one line; the CLI turns
it into that line and an exit code. Anything else reaching the user is a bug.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What every command's exit status means (README, `gitops-ray --help`).

    A usage or system error never shares a code with a meaningful outcome, so CI can
    tell "changes pending" (2) from "the command could not run" (4, 64).
    """

    OK = 0  # success: valid, in sync, applied, intact
    FAILED = 1  # the command ran and the answer is no: invalid, failed, blocked, broken, unexplained
    CHANGES = 2  # the command ran and found work: changes pending (plan, review), drift not healed (reconcile)
    LOCKED = 3  # another run holds the environment's lock; nothing was written
    ERROR = 4  # the command could not reach an answer: Git, the cluster, the API, the disk, a timeout
    USAGE = 64  # usage error: unknown option, command, environment, ref or path; a bad value (sysexits EX_USAGE)
    INTERRUPTED = 130  # Ctrl-C / SIGINT


class GitopsRayError(Exception):
    """Base class: `str(err)` is the one line shown to the user."""

    exit_code: int = ExitCode.ERROR

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(GitopsRayError):
    """The user named something that does not exist or gave a value that cannot work."""

    exit_code = ExitCode.USAGE


class SourceError(GitopsRayError):
    """Git: not a repository, unknown ref, unreachable remote."""


class ManifestError(GitopsRayError):
    """A manifest file that cannot be read at all (as opposed to a finding in it)."""


class SchemaError(GitopsRayError):
    """A schema that cannot be found, converted or imported (mostly: a version or file the user named)."""

    exit_code = ExitCode.USAGE


class ConfigError(GitopsRayError):
    """An environment file that is invalid: the repository's content is wrong, like an invalid manifest."""

    exit_code = ExitCode.FAILED


class ClusterError(GitopsRayError):
    """The Kubernetes API refused or failed a request, or cannot be reached."""


class ApplyError(GitopsRayError):
    """An apply that stopped part way; the result says what was done."""

    exit_code = ExitCode.FAILED


class RecordError(GitopsRayError):
    """The record store cannot be read or written."""
