"""Nothing in a commit executes or redirects (issue 9, deliverable 1): a kubeconfig or a sandbox
state the commit supplies is refused; credential plugins run only from a kubeconfig the user
supplied. Each malicious input is committed to a temporary repository; each plugin is a script
that would create a marker file, and the tests assert whether that file appears.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gitops_ray.cli.main import cli
from gitops_ray.errors import ExitCode
from gitops_ray.sandbox import Sandbox
from gitops_ray.sandbox.runtime import kubeconfig_text

NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ray-dev}\n"


def environment(cluster: str) -> str:
    return f"""apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {{name: dev}}
spec:
  cluster: {cluster}
  kuberayVersion: "1.5.1"
  namespaces: [ray-dev]
"""


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "plugin-ran"


@pytest.fixture
def plugin(tmp_path: Path, marker: Path) -> Path:
    """An exec credential plugin that leaves a marker and hands out the sandbox's token."""
    script = tmp_path / "plugin.sh"
    credential = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": "sandbox"}}
    script.write_text(f"#!/bin/sh\ntouch '{marker}'\necho '{json.dumps(credential)}'\n")
    script.chmod(0o755)
    return script


def exec_kubeconfig(server: str, plugin: Path) -> str:
    return f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server}"}}}}]
users:
- name: u
  user:
    exec: {{apiVersion: client.authentication.k8s.io/v1beta1, command: "{plugin}", interactiveMode: Never}}
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
"""


@pytest.fixture
def box(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # ~/.kube/config is not the test's
    monkeypatch.delenv("KUBECONFIG", raising=False)


def plan(repo: Any, tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["plan", "--env", "dev", "--repo", str(repo.path),
                                    "--record-dir", str(tmp_path / "records"), *args])


def refused(result: Result, code: int, *fragments: str) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------- kubeconfigs


def test_exec_plugin_in_a_committed_kubeconfig_never_runs(git_repo, tmp_path, box, plugin, marker):
    committed = exec_kubeconfig(box.url, plugin)
    repo = git_repo({"environments/dev/environment.yaml": environment("{kubeconfig: {path: kubeconfig.yaml}}"),
                     "environments/dev/ns.yaml": NS, "kubeconfig.yaml": committed})
    refused(plan(repo, tmp_path), ExitCode.FAILED, "spec.cluster.kubeconfig.path: 'kubeconfig.yaml' is a relative path")
    inside = repo.path / "kubeconfig.yaml"
    repo.commit({"environments/dev/environment.yaml": environment(f'{{kubeconfig: {{path: "{inside}"}}}}')})
    refused(plan(repo, tmp_path), ExitCode.FAILED, "is inside the repository")
    # a link outside the repository that leads back into it is inside too
    link = tmp_path / "innocent-looking.yaml"
    link.symlink_to(inside)
    repo.commit({"environments/dev/environment.yaml": environment(f'{{kubeconfig: {{path: "{link}"}}}}')})
    refused(plan(repo, tmp_path), ExitCode.FAILED, "is inside the repository")
    assert not marker.exists()


def test_a_kubeconfig_the_environment_names_outside_the_repo_may_not_run_a_plugin(git_repo, tmp_path, box, plugin,
                                                                                 marker):
    named = tmp_path / "elsewhere" / "kubeconfig"
    named.parent.mkdir()
    named.write_text(exec_kubeconfig(box.url, plugin))
    repo = git_repo({"environments/dev/environment.yaml": environment(f'{{kubeconfig: {{path: "{named}"}}}}'),
                     "environments/dev/ns.yaml": NS})
    refused(plan(repo, tmp_path), ExitCode.FAILED,
            f"spec.cluster.kubeconfig names {named}, whose user 'u' (context 'x') runs a credential plugin "
            f"(exec: {plugin})", "--kubeconfig, $KUBECONFIG, ~/.kube/config")
    assert not marker.exists()


def test_auth_provider_in_an_environment_named_kubeconfig_is_refused_too(git_repo, tmp_path, box, marker):
    named = tmp_path / "oidc-kubeconfig"
    named.write_text(exec_kubeconfig(box.url, Path("/unused")).replace(
        "exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: \"/unused\", interactiveMode: Never}",
        "auth-provider: {name: oidc, config: {idp-issuer-url: 'https://issuer.invalid', client-id: x}}"))
    repo = git_repo({"environments/dev/environment.yaml": environment(f'{{kubeconfig: {{path: "{named}"}}}}'),
                     "environments/dev/ns.yaml": NS})
    refused(plan(repo, tmp_path), ExitCode.FAILED, "runs a credential plugin (auth-provider: oidc)")


@pytest.mark.parametrize("how", ["--kubeconfig", "$KUBECONFIG"])
def test_plugins_run_from_a_kubeconfig_the_user_supplied(git_repo, tmp_path, box, plugin, marker, monkeypatch, how):
    own = tmp_path / "mine" / "kubeconfig"
    own.parent.mkdir()
    own.write_text(exec_kubeconfig(box.url, plugin))
    repo = git_repo({"environments/dev/environment.yaml": environment(f'{{kubeconfig: {{path: "{own}"}}}}'),
                     "environments/dev/ns.yaml": NS})
    if how == "--kubeconfig":
        result = plan(repo, tmp_path, "--kubeconfig", str(own))
    else:
        monkeypatch.setenv("KUBECONFIG", str(own))
        result = plan(repo, tmp_path)  # the environment names it, and the user supplied the same file
    assert result.exit_code == ExitCode.CHANGES, result.output
    assert marker.exists()


# --------------------------------------------------------------------------- sandbox state


def test_a_committed_sandbox_state_dir_is_refused(git_repo, tmp_path, box, monkeypatch):
    server = {"pid": os.getpid(), "url": box.url, "kubeconfig": str(box.kubeconfig)}
    files = {"environments/dev/ns.yaml": NS, "state/server.json": json.dumps(server),
             "state/kubeconfig": kubeconfig_text(box.url)}
    repo = git_repo({**files, "environments/dev/environment.yaml": environment("{sandbox: {stateDir: state}}")})
    refused(plan(repo, tmp_path), ExitCode.FAILED, "spec.cluster.sandbox.stateDir: 'state' is a relative path")
    repo.commit({"environments/dev/environment.yaml": environment(f'{{sandbox: {{stateDir: "{repo.path}/state"}}}}')})
    refused(plan(repo, tmp_path), ExitCode.FAILED, "is inside the repository")
    # the default state directory, under the current directory: the repository's root here
    repo.commit({"environments/dev/environment.yaml": environment("{sandbox: {}}"),
                 ".gitops-ray/sandbox/server.json": json.dumps(server),
                 ".gitops-ray/sandbox/kubeconfig": kubeconfig_text(box.url)})
    monkeypatch.chdir(repo.path)
    refused(plan(repo, tmp_path), ExitCode.FAILED, "the repository holds .gitops-ray/sandbox/")
    assert not any("ray-dev" in r.get("path", "") for r in _requests(box))  # nothing was read from it


def _requests(box: Sandbox) -> list[dict[str, Any]]:
    return [json.loads(line) for line in box.request_log.read_text().splitlines() if line.strip()]


def test_server_json_pointing_off_this_machine_is_refused_before_any_request(git_repo, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "server.json").write_text(json.dumps({"pid": os.getpid(), "url": "http://10.66.0.1:6443",
                                                   "kubeconfig": str(state / "kubeconfig")}))
    (state / "kubeconfig").write_text(kubeconfig_text("http://10.66.0.1:6443"))
    repo = git_repo({"environments/dev/environment.yaml": environment(f'{{sandbox: {{stateDir: "{state}"}}}}'),
                     "environments/dev/ns.yaml": NS})
    refused(plan(repo, tmp_path), ExitCode.ERROR,
            "server.json: url 'http://10.66.0.1:6443' is not a loopback http address")


def test_server_json_names_no_kubeconfig_and_a_doctored_one_is_refused(git_repo, tmp_path, box, plugin, marker):
    """server.json's `kubeconfig` is ignored (the state directory's own is used), and that one
    must be exactly what the sandbox writes: an exec plugin cannot ride along."""
    state = tmp_path / "state"
    state.mkdir()
    doctored = tmp_path / "doctored"
    doctored.write_text(exec_kubeconfig(box.url, plugin))
    (state / "server.json").write_text(json.dumps({"pid": os.getpid(), "url": box.url, "kubeconfig": str(doctored)}))
    (state / "kubeconfig").write_text(kubeconfig_text(box.url))
    repo = git_repo({"environments/dev/environment.yaml": environment(f'{{sandbox: {{stateDir: "{state}"}}}}'),
                     "environments/dev/ns.yaml": NS})
    assert plan(repo, tmp_path).exit_code == ExitCode.CHANGES  # the state directory's own kubeconfig
    assert not marker.exists()
    (state / "kubeconfig").write_text(exec_kubeconfig(box.url, plugin))
    refused(plan(repo, tmp_path), ExitCode.ERROR, "not the kubeconfig the sandbox writes for")
    assert not marker.exists()
