"""Build the control plane's binaries from the Go modules under tools/kube/, into the user cache.

Every pin lives in a go.mod/go.sum under tools/kube/ (one module per component family, so that the
Kubernetes release pinned for the apiserver does not force its libraries on KubeRay or kwok). A
module's binaries go to `${XDG_CACHE_HOME:-~/.cache}/gitops-ray/kube/<key>/bin`, where the key is the
module's name, a hash of its go.mod, go.sum and build flags, and the Go version: a changed pin or Go
builds afresh, an unchanged one starts in seconds. Without Go on PATH, a cached build of the same
pins by any Go version is used.

Build ahead of time with `scripts/dev-cluster build [--kuberay VERSION ...]` (or `make real-cluster-build`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gitops_ray.devcluster.errors import BuildError, DevClusterError, GoMissingError
from gitops_ray.devcluster.process import child_setup

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / "tools" / "kube"
# Changing how binaries are built (flags, names) must change every key: bump this.
RECIPE = "1: CGO_ENABLED=0 -trimpath -ldflags=-s -w"

Log = Callable[[str], None]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-ray" / "kube"


def _required_version(gomod: str, module: str) -> str:
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", gomod, re.MULTILINE)
    if not match:
        raise DevClusterError(f"no requirement on {module} in the go.mod under {TOOLS_DIR}")
    return match.group(1)


@dataclass(frozen=True)
class GoModule:
    """One wrapper module under tools/kube/ and the binaries built from it."""

    name: str
    directory: Path
    packages: tuple[str, ...]
    # go's default output name -> the name in bin/
    outputs: tuple[tuple[str, str], ...]
    ldflags: str = ""

    def fingerprint(self) -> str:
        digest = hashlib.sha256(RECIPE.encode())
        digest.update(self.ldflags.encode())
        for name in ("go.mod", "go.sum"):
            digest.update(name.encode() + b"\0" + (self.directory / name).read_bytes() + b"\0")
        return digest.hexdigest()[:12]

    @property
    def binaries(self) -> tuple[str, ...]:
        return tuple(final for _, final in self.outputs)


def kubernetes_version() -> str:
    return _required_version((TOOLS_DIR / "k8s" / "go.mod").read_text(), "k8s.io/kubernetes")


def kuberay_versions() -> list[str]:
    """The KubeRay operator releases with a module under tools/kube/kuberay/, newest first."""
    found = [p.name.removeprefix("v") for p in (TOOLS_DIR / "kuberay").glob("v*") if (p / "go.mod").is_file()]
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)


def default_kuberay_version() -> str:
    versions = kuberay_versions()
    if not versions:
        raise DevClusterError(f"no KubeRay operator module under {TOOLS_DIR / 'kuberay'}")
    return versions[0]


def pins() -> dict[str, str]:
    """What each component is pinned to, read from the go.mod files (for docs, logs and `status`)."""
    k8s = (TOOLS_DIR / "k8s" / "go.mod").read_text()
    return {
        "kubernetes": kubernetes_version(),
        "etcd": _required_version(k8s, "go.etcd.io/etcd/server/v3"),
        "kwok": _required_version((TOOLS_DIR / "kwok" / "go.mod").read_text(), "sigs.k8s.io/kwok"),
        "kuberay": ",".join(kuberay_versions()),
    }


def _k8s_module() -> GoModule:
    version = kubernetes_version()
    major, minor = version.removeprefix("v").split(".")[:2]
    stamps = []
    # What `hack/lib/version.sh` stamps upstream, so /version and kubectl's skew check see the release.
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamps += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.gitCommit=",
        ]
    return GoModule(
        name=f"k8s-{version}",
        directory=TOOLS_DIR / "k8s",
        packages=(
            "go.etcd.io/etcd/server/v3",
            "k8s.io/kubernetes/cmd/kube-apiserver",
            "k8s.io/kubernetes/cmd/kube-controller-manager",
            "k8s.io/kubernetes/cmd/kube-scheduler",
        ),
        outputs=(
            ("server", "etcd"),
            ("kube-apiserver", "kube-apiserver"),
            ("kube-controller-manager", "kube-controller-manager"),
            ("kube-scheduler", "kube-scheduler"),
        ),
        ldflags=" ".join(stamps),
    )


def _kwok_module() -> GoModule:
    directory = TOOLS_DIR / "kwok"
    version = _required_version((directory / "go.mod").read_text(), "sigs.k8s.io/kwok")
    return GoModule(
        name=f"kwok-{version}",
        directory=directory,
        packages=("sigs.k8s.io/kwok/cmd/kwok",),
        outputs=(("kwok", "kwok"),),
    )


def _kuberay_module(version: str) -> GoModule:
    directory = TOOLS_DIR / "kuberay" / f"v{version}"
    if not (directory / "go.mod").is_file():
        known = ", ".join(kuberay_versions()) or "none"
        raise DevClusterError(
            f"no KubeRay operator module for {version} (tools/kube/kuberay/v{version}; have: {known})"
        )
    return GoModule(
        name=f"kuberay-v{version}",
        directory=directory,
        packages=("github.com/ray-project/kuberay/ray-operator",),
        outputs=(("ray-operator", "ray-operator"),),
    )


@dataclass(frozen=True)
class Binaries:
    """Paths of the built executables one control plane runs."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kwok: Path
    ray_operator: Path
    kubernetes_version: str
    kuberay_version: str


def go_version() -> str | None:
    """`go1.26.8`, or None when Go is not on PATH."""
    go = shutil.which("go")
    if go is None:
        return None
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


def _complete(directory: Path, module: GoModule) -> bool:
    return (directory / "build.json").is_file() and all((directory / "bin" / b).is_file() for b in module.binaries)


def _cached(module: GoModule, go: str | None) -> Path | None:
    root = cache_root()
    prefix = f"{module.name}-{module.fingerprint()}-"
    if go is not None:
        exact = root / f"{prefix}{go}"
        return exact if _complete(exact, module) else None
    candidates = [d for d in root.glob(f"{prefix}go*") if _complete(d, module)]
    return max(candidates, key=lambda d: d.stat().st_mtime) if candidates else None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CGO_ENABLED="0",
        GOWORK="off",
        GOTOOLCHAIN="local",  # never download a toolchain: build with the Go on this machine
        GOFLAGS=f"{env.get('GOFLAGS', '')} -mod=readonly".strip(),  # go.mod/go.sum are the pins; never edit them
    )
    return env


def _build(module: GoModule, go: str, log: Log) -> Path:
    target = cache_root() / f"{module.name}-{module.fingerprint()}-{go}"
    with _locked(target.with_name(target.name + ".lock")):
        if _complete(target, module):
            return target
        tmp = target / "tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        logfile = target / "build.log"
        cmd = ["go", "build", "-trimpath", "-ldflags", f"-s -w {module.ldflags}".strip(), "-o", f"{tmp}/"]
        log(f"dev-cluster: building {module.name} ({', '.join(module.binaries)}) with {go} into {target}")
        log(f"dev-cluster: the first build downloads modules and compiles for minutes; log: {logfile}")
        started = time.monotonic()
        with logfile.open("w") as out:
            proc = subprocess.Popen(
                [*cmd, *module.packages],
                cwd=module.directory,
                env=_go_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=child_setup(os.getpid(), nice=10),
            )
            # wait4: this build's own peak memory (its largest compiler or linker), which run() cannot tell
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        if proc.returncode != 0:
            tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-15:])
            raise BuildError(f"go build of {module.name} failed (exit {proc.returncode}); log {logfile}:\n{tail}")
        (target / "bin").mkdir(exist_ok=True)
        for produced, final in module.outputs:
            os.replace(tmp / produced, target / "bin" / final)
        shutil.rmtree(tmp, ignore_errors=True)
        record = {
            "module": module.name,
            "directory": str(module.directory),
            "go": go,
            "seconds": round(seconds, 1),
            "peakRssMiB": round(usage.ru_maxrss / 1024),
            "packages": list(module.packages),
        }
        (target / "build.json").write_text(json.dumps(record, indent=1) + "\n")
        log(f"dev-cluster: built {module.name} in {seconds:.0f}s")
        return target


def _modules(kuberay_version: str) -> list[GoModule]:
    return [_k8s_module(), _kwok_module(), _kuberay_module(kuberay_version)]


def cached_binaries(kuberay_version: str | None = None) -> Binaries | None:
    """The binaries if every one is cached for the current pins (and Go, when Go is present); no build."""
    version = kuberay_version or default_kuberay_version()
    go = go_version()
    dirs = [_cached(m, go) for m in _modules(version)]
    if any(d is None for d in dirs):
        return None
    return _binaries([d for d in dirs if d is not None], version)


def ensure_binaries(kuberay_version: str | None = None, *, build: bool = True, log: Log | None = None) -> Binaries:
    """The binaries for the pins, building what is missing (unless `build` is false)."""
    version = kuberay_version or default_kuberay_version()
    emit = log or (lambda line: print(line, file=sys.stderr, flush=True))
    go = go_version()
    dirs: list[Path] = []
    for module in _modules(version):
        found = _cached(module, go)
        if found is None:
            if go is None:
                raise GoMissingError(
                    f"Go is not on PATH and {module.name} is not built for these pins under {cache_root()}"
                )
            if not build:
                raise DevClusterError(f"{module.name} is not built under {cache_root()} (building is off)")
            found = _build(module, go, emit)
        dirs.append(found)
    return _binaries(dirs, version)


def _binaries(dirs: Sequence[Path], kuberay_version: str) -> Binaries:
    k8s, kwok, kuberay = (d / "bin" for d in dirs)
    return Binaries(
        etcd=k8s / "etcd",
        kube_apiserver=k8s / "kube-apiserver",
        kube_controller_manager=k8s / "kube-controller-manager",
        kube_scheduler=k8s / "kube-scheduler",
        kwok=kwok / "kwok",
        ray_operator=kuberay / "ray-operator",
        kubernetes_version=kubernetes_version(),
        kuberay_version=kuberay_version,
    )
