"""Errors of the development control plane, in the project's one exception family."""

from __future__ import annotations

from gitops_ray.errors import GitopsRayError


class DevClusterError(GitopsRayError):
    """The control plane could not be built, started or stopped; the message says which part and why."""


class GoMissingError(DevClusterError):
    """Go is not on PATH and no cached binaries match the pins: nothing can be built or run."""


class BuildError(DevClusterError):
    """`go build` failed (the message carries the tail of its log)."""
