"""The threat model's shared rules (gitops_ray/trust.py, docs/security.md): URL credentials are
masked wherever values are shown, schema messages never quote secret fields, paths a commit
names stay out of the repository, caches are private and hold no Secret."""

from __future__ import annotations

import json
import os
import stat

import pytest

from gitops_ray.checks import schemas
from gitops_ray.checks.validate import validate_manifests
from gitops_ray.engine.diff import compare
from gitops_ray.engine.pipeline import load_desired
from gitops_ray.environment import load_environment, parse_environment
from gitops_ray.errors import ConfigError
from gitops_ray.manifests import load_text
from gitops_ray.record.redact import Redactor, mask_env_vars
from gitops_ray.source import Repository
from gitops_ray.trust import is_loopback_url, mask_url_credentials, mask_urls, outside_repository


@pytest.mark.parametrize(("text", "masked"), [
    ("https://user:s3cret@host/x", "https://(hidden)@host/x"),
    ("git+https://ghp_0123456789abcdef@github.com/o/r.git", "git+https://(hidden)@github.com/o/r.git"),
    ("--index-url https://u:p@ss@pypi.example.com/simple --trusted-host x",
     "--index-url https://(hidden)@pypi.example.com/simple --trusted-host x"),
    ("a https://u:1@a.com and s3://k:2@bucket/b", "a https://(hidden)@a.com and s3://(hidden)@bucket/b"),
    ('{"url": "https://u:p@h"}', '{"url": "https://(hidden)@h"}'),
    ("https://example.com/a@b", "https://example.com/a@b"),  # '@' in the path: no userinfo
    ("git@github.com:o/r.git", "git@github.com:o/r.git"),  # scp form: a user name, no credential
    ("mail me@example.com", "mail me@example.com"),
])
def test_url_credentials_are_masked_and_nothing_else(text, masked):
    assert mask_url_credentials(text) == masked
    assert mask_url_credentials(masked) == masked  # idempotent


def test_mask_urls_walks_keys_lists_and_values():
    doc = {"args": ["--from", "https://t:secretsecret@h/x"], "https://k:v@h": 1, "n": 3}
    assert mask_urls(doc) == {"args": ["--from", "https://(hidden)@h/x"], "https://(hidden)@h": 1, "n": 3}


def test_diffs_mask_url_credentials_in_args_env_and_runtime_envs():
    desired = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "j", "namespace": "n"},
               "spec": {"entrypoint": "python x.py https://a:entrypw12@h",
                        "runtimeEnvYAML": "working_dir: https://ci:wdpassword@h/w.zip\nenv_vars: {T: tokval}\n",
                        "submitterPodTemplate": {"spec": {"containers": [{
                            "name": "c", "args": ["https://argtoken0123456789@h"],
                            "env": [{"name": "U", "value": "https://u:envpw1234@h"}]}]}}}}
    live = json.loads(json.dumps(desired).replace("pw12@", "pw13@").replace("wdpassword", "wdpassw0rd")
                      .replace("argtoken0", "argtoken1").replace("tokval", "tokva1"))
    shown = json.dumps([c.to_json() for c in compare(desired, live, kind="RayJob")])
    assert shown.count("(hidden)@") >= 4, shown
    for secret in ("entrypw1", "wdpassw", "argtoken", "envpw", "tokva"):
        assert secret not in shown, secret
    assert "https://(hidden)@h/w.zip" in mask_env_vars("working_dir: https://ci:wdpassword@h/w.zip\n")


def test_the_record_learns_url_credentials_and_scrubs_them_from_free_text():
    redactor = Redactor()
    redactor.learn({"kind": "RayJob", "spec": {"entrypoint": "run --from https://svc:longpassword9@h/x",
                                               "args": ["https://tok0123456789abcdef0@h"]}})
    message = "admission: fetch of longpassword9 failed; token tok0123456789abcdef0 rejected; https://a:bbbbbbbbb@h"
    scrubbed = redactor.scrub(message, free_text=True)
    assert "longpassword9" not in scrubbed and "tok0123456789abcdef0" not in scrubbed
    assert "https://(hidden)@h" in scrubbed  # never learned, masked all the same
    # short user names are not learned: they would be scrubbed out of object names
    redactor.learn({"kind": "RayJob", "spec": {"x": "git+ssh://git@github.com/o/r", "y": "https://deploy@h"}})
    assert redactor.scrub("ConfigMap/ns/deploy-config") == "ConfigMap/ns/deploy-config"


def _findings(text: str) -> list[str]:
    loaded = load_text("m.yaml", text, default_namespace="ns")
    assert not loaded.findings
    found = validate_manifests(loaded.manifests, version=schemas.select_version(None))
    return [f"{f.path}: {f.message}" for f in found]


def test_schema_messages_never_quote_env_values_or_secret_data():
    cluster = ("apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: r, namespace: ns}\nspec:\n"
               "  headGroupSpec:\n    rayStartParams: {}\n    template:\n      spec:\n        containers:\n"
               "        - name: ray-head\n          image: rayproject/ray:2.46.0\n          env:\n"
               "          - {name: A, value: 424242424242}\n          - {name: B, value: [envsecretlist]}\n")
    shown = _findings(cluster)
    assert len(shown) == 2 and all("the value (hidden)" in s for s in shown), shown
    assert "424242424242" not in str(shown) and "envsecretlist" not in str(shown)
    secret = ("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns}\n"
              "stringData: {token: [secretdatavalue]}\ndata: {k: 12345678}\n")
    shown = _findings(secret)
    assert shown and "secretdatavalue" not in str(shown) and "12345678" not in str(shown), shown
    # other fields still quote what is wrong: the reader needs it
    assert any("'three'" in s for s in _findings(
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ns}\nspec: {ports: [{port: three}]}\n"))


def test_paths_a_commit_names_must_be_absolute_and_outside_the_repository(tmp_path):
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    for bad, why in (("kc.yaml", "relative path"), ("./kc", "relative path"), ("../kc", "relative path"),
                     (str(root / "sub" / "kc"), "inside the repository"), (str(root), "inside the repository")):
        with pytest.raises(ConfigError, match=why):
            outside_repository(bad, root=root, field="f", file="e.yaml")
    assert outside_repository(str(tmp_path / "elsewhere"), root=root, field="f", file="e.yaml")
    assert outside_repository("~/.kube/config", root=root, field="f", file="e.yaml")


def test_environment_without_a_repository_still_refuses_relative_paths():
    text = ("apiVersion: gitops-ray.io/v1alpha1\nkind: Environment\nmetadata: {name: dev}\nspec:\n"
            "  cluster: {kubeconfig: {path: kc.yaml}}\n  namespaces: [ray-dev]\n")
    with pytest.raises(ConfigError, match=r"spec\.cluster\.kubeconfig\.path: 'kc\.yaml' is a relative path"):
        parse_environment("environments/dev/environment.yaml", text.encode())


@pytest.mark.parametrize(("url", "ok"), [
    ("http://127.0.0.1:8080", True), ("http://localhost:1", True), ("http://[::1]:2", True),
    ("http://0.0.0.0:3", True), ("https://127.0.0.1:4", False), ("http://10.0.0.1:5", False),
    ("http://evil.example.com:6", False), ("http://u:p@127.0.0.1:7", False), ("http://127.0.0.1:8/x", False),
    ("http://127.0.0.1:notaport", False), ("", False),
])
def test_only_loopback_http_is_a_sandbox(url, ok):
    assert is_loopback_url(url) is ok


def test_manifest_cache_is_private_and_never_holds_a_secret(git_repo, tmp_path):
    old = os.umask(0o022)
    try:
        repo = git_repo({
            "environments/dev/environment.yaml": "apiVersion: gitops-ray.io/v1alpha1\nkind: Environment\n"
                                                 "metadata: {name: dev}\nspec:\n  cluster: {sandbox: {}}\n"
                                                 "  namespaces: [ray-dev]\n",
            "environments/dev/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ray-dev}\n"
                                        "data: {mode: fast}\n",
            "environments/dev/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ray-dev}\n"
                                            "stringData: {token: cachedsecretvalue}\n"})
        cache = tmp_path / "cache" / "gitops-ray" / "manifests"
        cache.parent.mkdir(parents=True, mode=0o755)
        snapshot = Repository.open(repo.path).snapshot()
        load_desired(snapshot, load_environment(snapshot, "dev"), cache_dir=cache)
    finally:
        os.umask(old)
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert len(files) == 1  # the ConfigMap's file; the Secret's is never cached
    assert all(b"cachedsecretvalue" not in p.read_bytes() for p in files)
    for path in [*files, *(p for p in cache.rglob("*") if p.is_dir()), cache, cache.parent]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o600 if path.is_file() else 0o700), (path, oct(mode))
