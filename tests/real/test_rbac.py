"""RBAC is on: a token user with no bindings is refused, and a RoleBinding grants exactly what it names."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request

from gitops_ray.devcluster import ControlPlane


def _get(cp: ControlPlane, path: str, token: str) -> int:
    context = ssl.create_default_context(cafile=str(cp.ca_file))
    request = urllib.request.Request(cp.server + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_token_user_without_bindings_gets_403(control_plane: ControlPlane, namespace: str) -> None:
    token = control_plane.token("nobody")
    assert _get(control_plane, f"/api/v1/namespaces/{namespace}/configmaps", token) == 403
    assert _get(control_plane, f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters", token) == 403
    assert _get(control_plane, "/api/v1/namespaces", "not-a-token") == 401


def test_rolebinding_grants_only_its_namespace(control_plane: ControlPlane, namespace: str) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "alice-view", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    }
    control_plane.api.create(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings", binding)
    token = control_plane.token("alice")
    deadline = time.monotonic() + 10  # the RBAC authorizer reads bindings from an informer
    while _get(control_plane, f"/api/v1/namespaces/{namespace}/configmaps", token) != 200:
        assert time.monotonic() < deadline, "the RoleBinding never took effect"
        time.sleep(0.1)
    assert _get(control_plane, "/api/v1/namespaces/default/configmaps", token) == 403
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "alice",
            "resourceAttributes": {"namespace": namespace, "verb": "delete", "resource": "configmaps"},
        },
    }
    status, body = control_plane.api.request(
        "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=json.dumps(review).encode()
    )
    assert status == 201 and body["status"]["allowed"] is False
