"""gitops-ray: GitOps for Ray workloads on Kubernetes.

Reads KubeRay manifests from a Git commit, validates them, plans the difference
against a live cluster, applies it in a safe order, and records every action.
"""

__version__ = "0.1.0"
