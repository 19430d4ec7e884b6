"""The embedded Kubernetes API server (issue 3): `Sandbox` runs one in-process,
`connect` finds the one serving a state directory or starts one. See docs/sandbox.md.
"""

from gitops_ray.sandbox.runtime import Sandbox, connect

__all__ = ["Sandbox", "connect"]
