"""What a commit may name, and what never leaves gitops-ray: the threat model's shared rules.

docs/security.md is the threat model. A commit (above all a pull request from a fork) is
untrusted: it may describe objects, never choose how gitops-ray authenticates, which
endpoint it trusts or which files on the runner it reads. These are the checks every
stage applies the same way, so they live below all of them:

* a path the environment file names (a kubeconfig, a sandbox's state directory) must be
  absolute (or `~/...`) and must not resolve inside the repository, where the commit
  itself could have put the file;
* a server gitops-ray did not configure itself (a sandbox's `server.json`) must be on
  this machine (loopback);
* credentials inside URLs (`https://user:password@host`, `https://token@host`) are
  masked wherever a manifest value can be shown or recorded.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gitops_ray.errors import ConfigError

HIDDEN = "(hidden)"

# scheme://userinfo@ : the userinfo runs to the last '@' before the authority ends ('/', '?',
# '#', whitespace or a quote), so a raw '@' inside a password is masked too.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s?#\"'<>\\]*)@")


def mask_url_credentials(text: str) -> str:
    """`https://user:pw@host/x` -> `https://(hidden)@host/x`; text without one is returned as is."""
    if "@" not in text or "://" not in text:
        return text
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{HIDDEN}@" if m.group("userinfo") != HIDDEN
                             else m.group(0), text)


def mask_urls(value: Any) -> Any:
    """`mask_url_credentials` over every string of a JSON-like tree (keys included)."""
    if isinstance(value, str):
        return mask_url_credentials(value)
    if isinstance(value, Mapping):
        return {mask_urls(k) if isinstance(k, str) else k: mask_urls(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_urls(v) for v in value]
    return value


def url_credentials(text: str) -> Iterable[str]:
    """Secret parts of URLs in `text`, for redactors that scrub known values everywhere:
    only what is long enough not to collide with names (a value scrubbed from the record is
    scrubbed from object names too)."""
    if "@" not in text or "://" not in text:
        return
    for match in _URL_USERINFO.finditer(text):
        userinfo = match.group("userinfo")
        if not userinfo or userinfo == HIDDEN:
            continue
        _, colon, password = userinfo.partition(":")
        if colon and len(password) >= 8:  # user:password; the user name alone is no secret
            yield userinfo
            yield password
        elif not colon and len(userinfo) >= 16:  # https://<token>@host; short names are users (git@)
            yield userinfo


# --------------------------------------------------------------------------- secret fields

_SECRET_FIELD = re.compile(r"(^|/)(env/\d+/value|gcsFaultToleranceOptions/redisPassword/value"
                           r"|rayStartParams/redis-password)$")


def is_secret_field(kind: str, pointer: str) -> bool:
    """Fields whose values are never shown (names of their keys are): a Secret's data and
    stringData, container env values, Redis passwords. `pointer` is a JSON pointer."""
    if kind == "Secret" and (pointer in ("/data", "/stringData") or pointer.startswith(("/data/", "/stringData/"))):
        return True
    return bool(_SECRET_FIELD.search(pointer))


def holds_secret(kind: str, pointer: str, value: Any, *, depth: int = 12) -> bool:
    """Whether `value` (found at `pointer`) is, or contains, a secret field."""
    if is_secret_field(kind, pointer):
        return True
    if depth <= 0:
        return False
    if isinstance(value, Mapping):
        return any(holds_secret(kind, f"{pointer}/{k}", v, depth=depth - 1) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_secret(kind, f"{pointer}/{i}", v, depth=depth - 1) for i, v in enumerate(value))
    return False


# --------------------------------------------------------------------------- paths a commit names


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def outside_repository(text: str, *, root: Path | None, field: str, file: str) -> str:
    """A path the environment file names for gitops-ray to read: refused when relative (to
    what? the commit cannot know the runner's current directory, and on CI it is the
    checkout) or when it resolves, links followed, inside the repository."""
    if not text.startswith(("/", "~")):
        raise ConfigError(f"{file}: {field}: {text!r} is a relative path; a path the environment names must be "
                          "absolute or start with ~/, outside the repository (the commit must not supply it)")
    resolved = Path(text).expanduser().resolve()
    if root is not None and _inside(resolved, root.resolve()):
        raise ConfigError(f"{file}: {field}: {text!r} is inside the repository: gitops-ray never reads a "
                          "kubeconfig or sandbox state the commit itself could supply")
    return text


def is_inside(path: Path, root: Path) -> bool:
    return _inside(path.resolve(), root.resolve())


# --------------------------------------------------------------------------- servers


def is_loopback_url(url: str) -> bool:
    """`http://127.0.0.1:port` and the like: a server on this machine, never one across the network."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        return False
    if parts.scheme != "http" or parts.username or parts.password or parts.path not in ("", "/"):
        return False
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


# --------------------------------------------------------------------------- private files


def private_dir(path: Path, *, base: Path) -> Path:
    """`path` and every directory from `base` down to it, created 0700 (and made 0700 if an
    older version left them open): caches hold manifests and live objects."""
    path.mkdir(parents=True, exist_ok=True)
    current = path
    chain = [path]
    while current != base and base in current.parents:
        current = current.parent
        chain.append(current)
    for directory in chain:
        info = directory.stat()
        if stat.S_IMODE(info.st_mode) != 0o700 and info.st_uid == os.getuid():
            directory.chmod(0o700)
    return path


def private_write(path: Path, data: bytes) -> None:
    """Write atomically into a file only its owner can read (0600, whatever the umask)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
