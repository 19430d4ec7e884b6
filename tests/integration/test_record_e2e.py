"""The record end to end (issue 5 checks that need a cluster): the real engine
(`run_apply` / `make_plan`) and the real CLI (`python -m gitops_ray ...`) against the
embedded sandbox with the simulated KubeRay operator, kubectl on the side.

Each test builds its own Git repository, sandbox and record directory; the
operator's timings are shrunk so a RayJob runs to the end in about a second.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from needs import kubectl_binary

from gitops_ray import __version__
from gitops_ray.changes import Action
from gitops_ray.engine.run import make_plan, run_apply
from gitops_ray.sandbox import Sandbox
from gitops_ray.sandbox._raycommon import OperatorTimings

NS = "ray-rec"
FAST = OperatorTimings(tick=0.05, head_ready=0.1, workers_ready=0.1, job_pending=0.1, job_runtime=0.3,
                       autoscaler_scale_up_after=None)

ENV = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: rec}
spec:
  cluster: {sandbox: {}}
  kuberayVersion: "1.5.1"
  namespaces: [ray-rec]
  sync: {prune: true, concurrency: %(concurrency)d}
"""
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ray-rec}\n"


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: ray-rec}}\ndata: {{mode: {value}}}\n"


def rayjob(name: str = "train", *, entrypoint: str = "python train.py", cleanup: str = "", env: str = "",
           runtime_env: str = "") -> str:
    """A RayJob with a GPU head (so the record has accelerators to show) and optional extras."""
    return f"""apiVersion: ray.io/v1
kind: RayJob
metadata: {{name: {name}, namespace: ray-rec}}
spec:
  entrypoint: {entrypoint}
{cleanup}{runtime_env}  rayClusterSpec:
    rayVersion: "2.46.0"
    headGroupSpec:
      rayStartParams: {{}}
      template:
        spec:
          containers:
            - name: ray-head
              image: rayproject/ray:2.46.0-gpu
              resources: {{limits: {{nvidia.com/gpu: 1}}}}
{env}"""


def ttl_cleanup(seconds: int) -> str:
    return f"  shutdownAfterJobFinishes: true\n  ttlSecondsAfterFinished: {seconds}\n"


class World:
    """One repository, one sandbox, one record directory; the engine in-process, the CLI as a process."""

    def __init__(self, repo: Any, box: Sandbox, tmp: Path, *, concurrency: int = 4) -> None:
        self.repo, self.box, self.tmp = repo, box, tmp
        self.record_dir = tmp / "records"
        self.concurrency = concurrency

    @property
    def log(self) -> Path:
        return self.record_dir / "rec.jsonl"

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        content: dict[str, str | None] = {
            "environments/rec/environment.yaml": ENV % {"concurrency": self.concurrency},
            "environments/rec/namespace.yaml": NAMESPACE}
        for name, text in files.items():
            path = f"environments/rec/{name}"
            if text is not None or (self.repo.path / path).exists():
                content[path] = text
        return str(self.repo.commit(content, message))

    def apply(self, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout_s", 30)
        return run_apply(env="rec", repo=str(self.repo.path), kubeconfig=str(self.box.kubeconfig),
                         record_dir=str(self.record_dir), **kwargs)

    def plan(self, **kwargs: Any) -> Any:
        return make_plan(env="rec", repo=str(self.repo.path), kubeconfig=str(self.box.kubeconfig),
                         record_dir=str(self.record_dir), **kwargs).plan

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`python -m gitops_ray ...` from the repository's directory (where git notes are found)."""
        return subprocess.run([sys.executable, "-m", "gitops_ray", *args], cwd=self.repo.path, capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "NO_COLOR": "1"})

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        binary = kubectl_binary()
        done = subprocess.run([binary, "--kubeconfig", str(self.box.kubeconfig), "--cache-dir",
                               str(self.tmp / "kubectl-cache"), *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done

    def history(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli("history", "--env", "rec", "--record-dir", str(self.record_dir), *args)

    def verify(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli("audit", "verify", "--env", "rec", "--record-dir", str(self.record_dir),
                        "--kubeconfig", str(self.box.kubeconfig), *args)

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_bytes().split(b"\n"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a torn line
        return out

    def predicates(self, kind: str) -> list[dict[str, Any]]:
        return [e["predicate"] for e in self.entries() if e["predicate"]["entry"]["kind"] == kind]

    def observations(self, kind: str) -> list[dict[str, Any]]:
        return [p["observation"] for p in self.predicates("observation") if p["observation"].get("type") == kind]

    def requests(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.box.request_log.read_text().splitlines() if line.strip()]

    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        version = "ray.io/v1" if plural.startswith("ray") else "v1"
        assert self.box.client is not None
        return self.box.client.get(version, plural, NS, name)

    def list(self, plural: str) -> list[dict[str, Any]]:
        version = "ray.io/v1" if plural.startswith("ray") else "v1"
        assert self.box.client is not None
        return self.box.client.list(version, plural, NS)


def wait_for(predicate: Callable[[], object], timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        time.sleep(0.05)


@pytest.fixture
def make_world(git_repo: Callable[..., Any], make_sandbox: Callable[..., Sandbox],
               tmp_path: Path) -> Iterator[Callable[..., World]]:
    def make(timings: OperatorTimings = FAST, **kwargs: Any) -> World:
        box = make_sandbox(operator=True, operator_timings=timings)
        return World(git_repo(), box, tmp_path, **kwargs)

    yield make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


# --------------------------------------------------------------------------- Audit-ID


def test_every_write_of_an_apply_carries_an_audit_id_found_in_the_record_and_the_request_log(world: World) -> None:
    first = world.commit({"settings.yaml": configmap("settings", "fast"), "extra.yaml": configmap("extra", "x"),
                          "job.yaml": rayjob(cleanup=ttl_cleanup(60))})
    assert world.apply().ok
    second = world.commit({"settings.yaml": configmap("settings", "slow"), "extra.yaml": None,
                           "job.yaml": rayjob(cleanup=ttl_cleanup(60))})
    result = world.apply()
    assert result.ok, [r.message for r in result.results]
    assert {(r.change.ref.name, r.change.action) for r in result.results if r.change.action.writes} == {
        ("settings", Action.UPDATE), ("extra", Action.DELETE)}

    recorded: dict[str, str] = {}  # Audit-ID -> resource, from outcome entries
    for pred in world.predicates("outcome"):
        for audit_id in pred["result"].get("auditIDs") or ():
            recorded[audit_id] = pred["action"]["ref"]
    intents = {e["predicate"]["entry"]["id"]: e["predicate"] for e in world.entries()
               if e["predicate"]["entry"]["kind"] == "intent"}
    checkpoints = {e["predicate"]["entry"]["id"] for e in world.entries()
                   if e["predicate"]["entry"]["kind"] == "checkpoint"}
    writes = [r for r in world.requests() if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]
    ours = [r for r in writes if r["userAgent"].startswith("gitops-ray/")]
    assert len(ours) == len(writes), [r for r in writes if r not in ours]  # the operator writes in-process
    object_writes = [r for r in ours if "gitops-ray-record-rec" not in r["path"]]
    anchor_writes = [r for r in ours if "gitops-ray-record-rec" in r["path"]]
    # Run 1 creates the namespace, two ConfigMaps and the RayJob; run 2 updates one and prunes one.
    assert len(object_writes) == 6 and len(anchor_writes) == 2
    assert {r["auditID"] for r in object_writes} == set(recorded)
    for request in object_writes:
        prefix = request["auditID"].rsplit("-", 1)[0]
        assert prefix in intents, request  # <intent entry id>-<n>
        assert request["path"].endswith("/" + recorded[request["auditID"]].rsplit("/", 1)[-1])
    for request in anchor_writes:  # the anchor's write names the checkpoint it publishes
        assert request["auditID"].rsplit("-", 1)[0] in checkpoints
    commits = {first: 0, second: 0}
    for request in ours:
        agent = request["userAgent"]
        assert agent.startswith(f"gitops-ray/{__version__} ")
        commit = next(c for c in commits if f"commit {c[:12]}" in agent)
        commits[commit] += 1
    assert commits[first] >= 4 and commits[second] >= 2


# --------------------------------------------------------------------------- Ray cleanup keeps its evidence


@pytest.mark.parametrize("ttl", [0, 3], ids=["cluster-gone-before-any-listing", "cluster-listed-then-gone"])
def test_rayjob_cleaned_up_by_its_ttl_keeps_final_status_and_the_clusters_disappearance(world: World,
                                                                                         ttl: int) -> None:
    set_ttl = world.commit({"settings.yaml": configmap("settings", "fast"),
                            "job.yaml": rayjob(cleanup=ttl_cleanup(ttl))}, message="train: shut the cluster down")
    result = world.apply(wait="jobs")
    assert result.ok, [r.message for r in result.results]
    job = world.get("rayjobs", "train")
    assert job is not None and job["status"]["jobDeploymentStatus"] == "Complete"
    cluster_name = job["status"]["rayClusterName"]
    wait_for(lambda: not world.list("rayclusters"), what="the operator deleting the RayCluster")
    # A later, unrelated commit: the disappearance must still name the commit that set the TTL.
    later = world.commit({"settings.yaml": configmap("settings", "slow"), "job.yaml": rayjob(cleanup=ttl_cleanup(ttl))})
    assert later != set_ttl
    assert world.apply().ok

    shown = world.history("--resource", "RayJob/ray-rec/train", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)["rows"]
    [final] = [r for r in rows if r["kind"] == "final-status"]
    status = final["detail"]["status"]
    assert (status["jobDeploymentStatus"], status["jobStatus"]) == ("Complete", "SUCCEEDED")
    assert status["jobId"] == job["status"]["jobId"] and status["endTime"] == job["status"]["endTime"]
    assert final["commit"] == set_ttl and final["author"] == "ada@example.com"
    facts = final["detail"]["facts"]
    assert facts["images"] == ["rayproject/ray:2.46.0-gpu"]
    assert facts["accelerators"]["gpu"] == {"nvidia.com/gpu": 1}
    [gone] = [r for r in rows if r["kind"] == "disappearance"]
    assert gone["resource"] == f"RayCluster/ray-rec/{cluster_name}" and gone["outcome"] == "ray-cleanup-rule"
    assert gone["commit"] == set_ttl
    assert gone["detail"]["authorizedBy"]["rule"] == f"shutdownAfterJobFinishes=true, ttlSecondsAfterFinished={ttl}"
    if ttl:  # seconds to spare: apply's post-apply inventory listed the cluster (by uid) before it went
        assert gone["detail"]["uid"] and not gone["detail"]["authorizedBy"].get("neverListed")
    [created] = [r for r in rows if r["kind"] == "outcome"]
    assert (created["action"], created["commit"], created["author"]) == ("create", set_ttl, "ada@example.com")

    text = world.history("--resource", "RayJob/ray-rec/train")
    assert text.returncode == 0, text.stderr
    for shown_value in ("Complete/SUCCEEDED", job["status"]["jobId"], "rayproject/ray:2.46.0-gpu", "nvidia.com/gpu",
                        "ray-cleanup-rule", cluster_name, set_ttl[:12], "ada@example.com"):
        assert shown_value in text.stdout, (shown_value, text.stdout)
    checked = world.history("--check")
    assert checked.returncode == 0, checked.stdout  # nothing unexplained: Ray's own rule removed the cluster
    review = world.history("--commit", set_ttl, "-o", "markdown")
    assert "| RayCluster/ray-rec/" + cluster_name + " | ray-cleanup-rule |" in review.stdout
    assert job["status"]["jobId"] in review.stdout


def test_self_deleted_rayjob_nobody_saw_finish_is_completed_in_plan_and_history(
        make_world: Callable[..., World]) -> None:
    # The job runs for a second: apply's post-apply inventory sees it New, the next run sees it gone.
    world = make_world(OperatorTimings(tick=0.05, head_ready=0.1, job_pending=0.1, job_runtime=1.0))
    delete_self = ("  deletionStrategy:\n    deletionRules:\n"
                   "      - {policy: DeleteSelf, condition: {jobStatus: SUCCEEDED, ttlSeconds: 0}}\n")
    applied = world.commit({"job.yaml": rayjob(cleanup=delete_self)})
    assert world.apply(wait="none").ok
    wait_for(lambda: world.get("rayjobs", "train") is None, what="the RayJob deleting itself")

    planned = world.cli("plan", "--env", "rec", "--repo", str(world.repo.path), "--kubeconfig",
                        str(world.box.kubeconfig), "--record-dir", str(world.record_dir), "-o", "json")
    assert planned.returncode == 0, planned.stdout + planned.stderr  # in sync: nothing to re-run
    [job] = [c for c in json.loads(planned.stdout)["changes"] if c["kind"] == "RayJob"]
    assert job["action"] == "noop"
    assert job["reason"].startswith("completed: finished and was deleted by its cleanup rule (deletionRules: "
                                    "DeleteSelf after 0s (jobStatus=SUCCEEDED))")
    assert not world.observations("final-status")  # no run saw it finish
    shown = world.history("--resource", "RayJob/ray-rec/train", "--check", "-o", "json")
    assert shown.returncode == 0, shown.stdout
    [gone] = [r for r in json.loads(shown.stdout)["rows"] if r["kind"] == "disappearance"]
    assert (gone["outcome"], gone["commit"]) == ("ray-cleanup-rule", applied)
    assert gone["detail"]["authorizedBy"]["finalStatusRecorded"] is False


# --------------------------------------------------------------------------- unexplained disappearances


def test_kubectl_delete_of_an_owned_object_is_an_unexplained_disappearance_flagged_by_history_check(
        world: World) -> None:
    world.commit({"settings.yaml": configmap("settings", "fast"), "extra.yaml": configmap("extra", "x")})
    assert world.apply().ok
    assert world.history("--check").returncode == 0
    world.kubectl("delete", "configmap", "settings", "-n", NS)
    plan = world.plan()  # the next run notices before it plans the re-creation
    assert {c.ref.name: c.action for c in plan.changes}["settings"] is Action.CREATE
    [gone] = world.observations("disappearance")
    assert (gone["ref"], gone["cause"]) == ("ConfigMap/ray-rec/settings", "unexplained")

    checked = world.history("--check")
    assert checked.returncode == 1
    assert "! unexplained" in checked.stdout and "ConfigMap/ray-rec/settings" in checked.stdout
    assert "1 unexplained disappearance" in checked.stdout
    as_json = world.history("--check", "-o", "json")
    assert as_json.returncode == 1
    assert [r["resource"] for r in json.loads(as_json.stdout)["unexplained"]] == ["ConfigMap/ray-rec/settings"]
    # Only that object: another resource's history is clean, and the next runs record nothing new.
    assert world.history("--check", "--resource", "ConfigMap/ray-rec/extra").returncode == 0
    assert world.apply().ok
    assert len(world.observations("disappearance")) == 1


# --------------------------------------------------------------------------- anchors against tampering


def test_audit_verify_checks_the_chain_against_the_real_configmap_and_git_note_anchors(world: World) -> None:
    first = world.commit({"settings.yaml": configmap("settings", "fast")})
    assert world.apply().ok
    world.commit({"settings.yaml": configmap("settings", "slow")})
    assert world.apply().ok
    context = world.kubectl("config", "current-context").stdout.strip()
    ok = world.verify("--context", context)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "intact" in ok.stdout
    assert f"anchor checked: ConfigMap {NS}/gitops-ray-record-rec" in ok.stdout
    assert f"anchor checked: git note on {first[:12]}" in ok.stdout
    note = world.repo.git("notes", "--ref", "refs/notes/gitops-ray", "show", first)
    assert note.startswith("gitops-ray/rec\n")

    pristine = world.log.read_bytes()
    lines = pristine.split(b"\n")[:-1]
    # Edit one byte inside an early entry (keeps the JSON valid: a letter of a value).
    at = lines[1].index(b'"created"') + 2
    edited = bytearray(pristine)
    edited[len(lines[0]) + 1 + at] ^= 0x20
    world.log.write_bytes(bytes(edited))
    broken = world.verify("--no-cluster")  # the chain alone shows an edit
    edited_id = json.loads(lines[1])["predicate"]["entry"]["id"]
    assert broken.returncode == 1, broken.stdout
    assert broken.stdout.startswith(f"rec: BROKEN — line 2, entry {edited_id}: does not match"), broken.stdout

    # Truncate the tail: whole entries gone, the chain alone is still valid; the anchors are not.
    world.log.write_bytes(b"".join(line + b"\n" for line in lines[:-3]))
    truncated = world.verify("-o", "json")
    assert truncated.returncode == 1
    problems = json.loads(truncated.stdout)["environments"][0]["problems"]
    assert any("truncated" in p["message"] and p["anchor"] == f"ConfigMap {NS}/gitops-ray-record-rec"
               for p in problems), problems

    world.log.write_bytes(pristine)
    world.kubectl("delete", "configmap", "gitops-ray-record-rec", "-n", NS)
    deleted = world.verify()
    assert deleted.returncode == 1
    assert f"ConfigMap {NS}/gitops-ray-record-rec: missing" in deleted.stdout, deleted.stdout


# --------------------------------------------------------------------------- crash consistency


def test_apply_killed_between_writes_leaves_intents_for_every_change_and_the_next_run_records_outcomes(
        make_world: Callable[..., World]) -> None:
    world = make_world(concurrency=1)  # one write at a time, so the kill lands between two of them
    names = [f"cm-{i}" for i in range(5)]
    world.commit({f"{n}.yaml": configmap(n, "v1") for n in names})
    assert world.apply().ok
    before_kill = world.log.read_bytes()
    world.commit({f"{n}.yaml": configmap(n, "v2") for n in names})
    world.box.faults.add(path=r"/configmaps/cm-", verbs=("PATCH",), latency=0.3)

    process = subprocess.Popen(
        [sys.executable, "-m", "gitops_ray", "apply", "--env", "rec", "--repo", str(world.repo.path), "--kubeconfig",
         str(world.box.kubeconfig), "--record-dir", str(world.record_dir), "--no-wait"],
        cwd=world.repo.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def killed_run() -> str:
            intents = world.predicates("intent")
            return str(intents[-1]["entry"]["runId"]) if len(intents) == 2 else ""

        def changed_by(run: str) -> list[str]:
            return sorted(o["metadata"]["name"] for o in world.list("configmaps")
                          if (o["metadata"].get("annotations") or {}).get("gitops-ray.io/run") == run)

        wait_for(lambda: killed_run() and changed_by(killed_run()), what="the intent and a first write")
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    run = killed_run()
    time.sleep(0.8)  # a request already in flight still lands (the server finishes it)
    changed = changed_by(run)
    assert 1 <= len(changed) < len(names), changed

    after_kill = world.log.read_bytes()
    assert after_kill.startswith(before_kill)  # nothing earlier lost
    [intent] = [p for p in world.predicates("intent") if p["entry"]["runId"] == run]
    planned = {a["ref"]: a for a in intent["actions"]}
    assert {f"ConfigMap/{NS}/{n}" for n in changed} <= set(planned)  # every change was intended first
    torn = world.verify()
    assert torn.returncode == 0, torn.stdout
    assert ("torn tail" in torn.stdout) == (not after_kill.endswith(b"\n"))
    world.box.faults.clear()

    assert world.apply().ok  # recovers first, then applies what the killed run did not
    outcomes = [p for e in world.entries() for p in [e["predicate"]]
                if p["entry"]["kind"] == "outcome" and p["entry"].get("intentId") == intent["entry"]["id"]]
    by_ref = {p["action"]["ref"]: p["result"] for p in outcomes}
    kinds = [(e["predicate"]["entry"]["kind"], e["predicate"]["entry"].get("recovery", False)) for e in world.entries()]
    assert kinds.index(("outcome", True)) < len(kinds) - kinds[::-1].index(("intent", False)) - 1  # recovery first
    assert set(by_ref) == {a["ref"] for a in intent["actions"] if a["op"] != "noop"}
    for name in changed:
        result = by_ref[f"ConfigMap/{NS}/{name}"]
        assert result["outcome"] == "applied" or result.get("state") == "applied", result
    for name in set(names) - set(changed):
        assert by_ref[f"ConfigMap/{NS}/{name}"]["state"].startswith("not-applied")
    assert all(o["data"]["mode"] == "v2" for o in world.list("configmaps") if o["metadata"]["name"] in names)
    verified = world.verify("-o", "json")
    assert verified.returncode == 0, verified.stdout
    assert world.log.read_bytes().startswith(after_kill.rsplit(b"\n", 1)[0])


# --------------------------------------------------------------------------- secrets never recorded


CANARIES = {
    "stringData": "canary-stringdata-4f1e9a",
    "data": "canary-b64data-7c2d5b",
    "env": "canary-envvalue-3a8e1f",
    "runtimeEnv": "canary-runtimeenv-9b6c2d",
    "redis": "canary-redispass-5e7f0a",
}


def secret_manifest(version: str) -> str:
    import base64

    encoded = base64.b64encode((CANARIES["data"] + version).encode()).decode()
    return (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: ray-rec}}\n"
            f"stringData: {{token: {CANARIES['stringData']}{version}}}\ndata: {{password: {encoded}}}\n")


def secret_rayjob(version: str) -> str:
    env = f"              env:\n                - {{name: API_TOKEN, value: {CANARIES['env']}{version}}}\n"
    runtime = (f"  runtimeEnvYAML: |\n    pip: [requests]\n    env_vars:\n"
               f"      HF_TOKEN: {CANARIES['runtimeEnv']}{version}\n")
    return rayjob("secret-job", cleanup=ttl_cleanup(60), env=env, runtime_env=runtime)


def secret_raycluster(version: str) -> str:
    return f"""apiVersion: ray.io/v1
kind: RayCluster
metadata: {{name: ft, namespace: ray-rec}}
spec:
  rayVersion: "2.46.0"
  gcsFaultToleranceOptions:
    redisAddress: "redis.ray-rec.svc:6379"
    redisPassword: {{value: {CANARIES['redis']}{version}}}
  headGroupSpec:
    rayStartParams: {{}}
    template: {{spec: {{containers: [{{name: ray-head, image: "rayproject/ray:2.46.0"}}]}}}}
"""


def secret_files(version: str) -> dict[str, str | None]:
    return {"secret.yaml": secret_manifest(version), "job.yaml": secret_rayjob(version),
            "cluster.yaml": secret_raycluster(version)}


def leaked(text: str | bytes) -> list[str]:
    """Canary values (and the base64 forms a Secret's data may carry) found in `text`."""
    import base64

    blob = text.decode(errors="replace") if isinstance(text, bytes) else text
    found = []
    for name, value in CANARIES.items():
        forms = [value, base64.b64encode(value.encode()).decode()[:16]]
        if any(form in blob for form in forms):
            found.append(name)
    return found


def test_secret_values_never_reach_the_record_history_request_log_or_stderr(world: World) -> None:
    outputs: dict[str, str] = {}

    def run(*args: str, check_stdout: bool = True) -> str:
        done = world.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        name = f"#{len(outputs)} {' '.join(a for a in args if not a.startswith('/'))}"
        outputs[f"{name}: stderr"] = done.stderr
        if check_stdout:
            outputs[f"{name}: stdout"] = done.stdout
        return done.stdout

    common = ("--env", "rec", "--repo", str(world.repo.path), "--kubeconfig", str(world.box.kubeconfig),
              "--record-dir", str(world.record_dir))
    first = world.commit(secret_files("-v1"))
    # apply's stdout shows diffs, which diff.py masks: see the plan-output test below.
    run("apply", *common, "--wait-jobs", check_stdout=False)
    world.commit(secret_files("-v2"))  # every value changes: update diffs carry before and after
    run("apply", *common, "-o", "json", check_stdout=False)  # the finished RayJob is replaced
    for fmt in ("text", "json"):
        run("history", "--env", "rec", "--record-dir", str(world.record_dir), "-o", fmt)
    run("history", "--env", "rec", "--record-dir", str(world.record_dir), "--commit", first, "-o", "markdown")
    run("audit", "export", "--env", "rec", "--record-dir", str(world.record_dir))
    run("audit", "verify", "--env", "rec", "--record-dir", str(world.record_dir), "--no-cluster")

    # The record did see the values go by: three objects changed twice, a final status kept.
    assert world.get("secrets", "creds") is not None
    assert {a["op"] for p in world.predicates("intent") for a in p["actions"]} >= {"create", "update", "replace"}
    assert any(o["ref"] == "RayJob/ray-rec/secret-job" for o in world.observations("final-status"))
    leaks = {name: leaked(text) for name, text in outputs.items() if leaked(text)}
    assert not leaks, leaks
    for path in sorted(world.record_dir.iterdir()):  # the log and its derived index and state files
        assert not leaked(path.read_bytes()), (path.name, leaked(path.read_bytes()))
    assert not leaked(world.box.request_log.read_bytes())


def test_secret_values_never_reach_plan_or_apply_output_in_any_format(world: World) -> None:
    common = ("--env", "rec", "--repo", str(world.repo.path), "--kubeconfig", str(world.box.kubeconfig),
              "--record-dir", str(world.record_dir))
    found: dict[str, list[str]] = {}

    def run(*args: str, code: int) -> None:
        done = world.cli(*args)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        name = f"#{len(found)} " + " ".join(a for a in args if not a.startswith("/"))
        found[name] = leaked(done.stdout + done.stderr)

    world.commit(secret_files("-v1"))
    assert world.apply(wait="none").ok
    world.commit(secret_files("-v2"))
    for fmt in ("text", "json", "markdown"):
        run("plan", *common, "-o", fmt, code=2)  # update: before and after of each value
    run("apply", *common, "--dry-run", "-o", "json", code=0)
    run("apply", *common, "--no-wait", code=0)
    assert not leaked(world.log.read_bytes())
    assert not any(found.values()), {k: v for k, v in found.items() if v}
