"""Offline checks: schemas, validation, the KubeRay operator's own rules, policy, CEL.

Everything here is a pure function of manifests, schemas and the environment:
no cluster, no record. `plan` and `apply` call the same checks as `validate`,
so CI and the apply on merge cannot disagree.
"""
