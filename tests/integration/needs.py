"""What an integration test needs from the machine, found once and reported the same way."""

from __future__ import annotations

import os
import shutil

import pytest

KUBECTL_REQUIRED = os.environ.get("GITOPS_RAY_REQUIRE_KUBECTL") == "1" or os.environ.get("CI") == "true"
KUBECTL_MISSING = "kubectl is not on PATH: kubectl tests skipped (see README, Prerequisites)"


def kubectl_binary() -> str:
    """kubectl's path; without it the test skips with one line, except in CI (.ci/run sets
    GITOPS_RAY_REQUIRE_KUBECTL=1), where the independent client must not be silently missing."""
    binary = shutil.which("kubectl")
    if binary is None:
        if KUBECTL_REQUIRED:
            pytest.fail("kubectl is not on PATH and GITOPS_RAY_REQUIRE_KUBECTL=1")
        pytest.skip(KUBECTL_MISSING)
    return binary
