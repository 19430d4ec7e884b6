"""Redaction: known secret values never reach the record, whatever path they take.

Defence in depth: diffs arrive masked (diff.py) and facts never read values
(facts.py), but an API error message can quote a rejected value, and a RayJob's
status message can echo its environment. The recorder learns the values from
the plan's objects and scrubs every string it writes: Secret values (as given
and base64-decoded), GCS Redis passwords and the credentials of URLs
(`https://user:token@host`, in any string of a manifest) everywhere, container
env values (long enough not to collide with ordinary words) in free text; and
every string written has URL credentials masked whether learned or not.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gitops_ray.record.entries import canonical_json, sha256_hex
from gitops_ray.record.podfacts import walk as _walk
from gitops_ray.trust import mask_url_credentials, mask_urls, url_credentials

HIDDEN = "(hidden)"
MAX_VALUE_BYTES = 16_384


class Redactor:
    """Removes known secret values from what is recorded (defence in depth: diffs arrive masked)."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()  # removed everywhere
        self.env_values: set[str] = set()  # removed from free text (messages, diffs)

    def learn(self, body: Mapping[str, Any] | None) -> None:
        if not body:
            return
        if body.get("kind") == "Secret":
            for value in (body.get("data") or {}).values():
                self._secret(str(value))
                with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):
                    self._secret(base64.b64decode(str(value), validate=True).decode())
            for value in (body.get("stringData") or {}).values():
                self._secret(str(value))
        for key, value, _ in _walk(body):
            if isinstance(value, str):
                self._urls(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, str):
                        self._urls(item)
            if key == "env" and isinstance(value, list):
                self._env(str(e["value"]) for e in value if isinstance(e, Mapping) and e.get("value") is not None)
            elif key == "redisPassword" and isinstance(value, Mapping) and value.get("value"):
                self._secret(str(value["value"]))
            elif key == "redis-password" and isinstance(value, str):
                self._secret(value)
            elif key in ("runtimeEnvYAML", "serveConfigV2") and isinstance(value, str):
                self._env(_runtime_env_values(value))

    def _urls(self, text: str) -> None:
        for credential in url_credentials(text):
            self._secret(credential)

    def _env(self, values: Iterable[str]) -> None:
        self.env_values.update(v for v in values if len(v) >= 8)

    def _secret(self, value: str) -> None:
        if len(value) >= 4:
            self.secrets.add(value)

    def scrub(self, value: Any, *, free_text: bool = False) -> Any:
        words = self.secrets | self.env_values if free_text else self.secrets
        if words:
            value = _replace(value, sorted(words, key=len, reverse=True))
        return mask_urls(value)


def _runtime_env_values(text: str) -> list[str]:
    """`env_vars` values of a runtime env (RayJob runtimeEnvYAML, Serve applications), which
    reach the diff inside the whole YAML string."""
    import yaml

    try:
        doc = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return []
    found: list[str] = []
    for key, value, _ in _walk(doc):
        if key == "env_vars" and isinstance(value, Mapping):
            found.extend(str(v) for v in value.values())
    return found


def mask_env_vars(text: str) -> str:
    """A runtime env YAML string (RayJob `runtimeEnvYAML`, RayService `serveConfigV2`) with
    every `env_vars` value replaced by HIDDEN, for diffs a reviewer reads: what changed in
    pip, working_dir or the variable names stays visible. Text that does not parse is
    hidden whole (it could hold anything)."""
    import yaml

    try:
        doc = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return HIDDEN
    changed = False
    for key, value, _ in _walk(doc):
        if key == "env_vars" and isinstance(value, dict):
            for name in value:
                value[name] = HIDDEN
                changed = True
    if not changed:
        return mask_url_credentials(text)
    dumped: str = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    return mask_url_credentials(dumped)


def _replace(value: Any, words: Sequence[str]) -> Any:
    if isinstance(value, str):
        for word in words:
            if word in value:
                value = value.replace(word, HIDDEN)
        return value
    if isinstance(value, Mapping):
        return {k: _replace(v, words) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace(v, words) for v in value]
    return value


def bounded(value: Any) -> Any:
    """Large diff values are kept as a digest, so one huge object cannot bloat the log."""
    raw = canonical_json(value)
    if len(raw) <= MAX_VALUE_BYTES:
        return value
    return {"sha256": sha256_hex(raw), "bytes": len(raw), "truncated": True}
