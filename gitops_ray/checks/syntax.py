"""Small syntaxes the KubeRay operator checks with Go libraries, re-stated for Python.

Each function returns None when the text is valid, else a reason fit for a
message. Behaviour follows the Go code the operator calls (cited per function),
not its text.
"""

from __future__ import annotations

import re

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_GO_DURATION = re.compile(r"^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$")
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_SCALE = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def dns1035_label(value: str) -> str | None:
    """k8s.io/apimachinery/pkg/util/validation IsDNS1035Label."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1035.match(value):
        return ("must consist of lower case alphanumeric characters or '-', start with an alphabetic "
                "character, and end with an alphanumeric character")
    return None


def dns1123_label(value: str) -> str | None:
    """IsDNS1123Label."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1123_LABEL.match(value):
        return ("must consist of lower case alphanumeric characters or '-', and must start and end with "
                "an alphanumeric character")
    return None


def dns1123_subdomain(value: str) -> str | None:
    """IsDNS1123Subdomain: the default rule for object names (apimachinery NameIsDNSSubdomain)."""
    if len(value) > 253:
        return "must be no more than 253 characters"
    if not _DNS1123_SUBDOMAIN.match(value):
        return ("must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character")
    return None


def path_segment_name(value: str) -> str | None:
    """apimachinery path.IsValidPathSegmentName: RBAC object names (they may hold ':' and capitals)."""
    if value in (".", ".."):
        return f"may not be {value!r}"
    for char in "/%":
        if char in value:
            return f"may not contain {char!r}"
    return None


def qualified_name(value: str) -> str | None:
    """IsQualifiedName: an optional DNS-1123 subdomain prefix and `/`, then a name of at most 63 characters."""
    prefix, slash, name = value.rpartition("/")
    if slash:
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix):
            return "prefix part must be a lowercase DNS-1123 subdomain"
        if "/" in prefix:
            return "a qualified name must have at most one '/'"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME.match(name):
        return ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character")
    return None


def label_value(value: str) -> str | None:
    """IsValidLabelValue: empty, or a name part of at most 63 characters."""
    if value == "":
        return None
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _QUALIFIED_NAME.match(value):
        return ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character")
    return None


def go_duration(text: str) -> float | None:
    """Seconds for a Go `time.ParseDuration` string, or None if it does not parse."""
    if text in ("0", "+0", "-0"):
        return 0.0
    if not _GO_DURATION.match(text):
        return None
    sign = -1.0 if text.startswith("-") else 1.0
    return sign * sum(float(num) * _DURATION_SCALE[unit] for num, unit in _GO_DURATION_PART.findall(text))


def ray_version(text: str) -> tuple[int, ...] | None:
    """k8s.io/apimachinery/pkg/util/version ParseGeneric: `2.52.0`, `v2.52`; None if invalid."""
    match = re.match(r"^\s*v?(\d+(?:\.\d+)+)(?:[-+.].*)?\s*$", text)
    if not match:
        return None
    return tuple(int(part) for part in match.group(1).split("."))


# --------------------------------------------------------------------------- cron

_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}),
    ("day of week", 0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
)
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def cron_schedule(spec: str) -> str | None:
    """robfig/cron/v3 `ParseStandard`: five fields or a descriptor (`@daily`, `@every 1h`).

    A leading `TZ=`/`CRON_TZ=` zone is accepted as the library does; callers that
    forbid it (KubeRay >= 1.7) check first."""
    if not spec.strip():
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        zone, _, spec = spec.partition(" ")
        problem = time_zone(zone.partition("=")[2])
        if problem:
            return f"provided bad location {zone.partition('=')[2]}: {problem}"
        spec = spec.strip()
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            return None if go_duration(spec[len("@every "):].strip()) is not None else (
                f"failed to parse duration {spec}")
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: {spec}"
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            problem = _cron_range(part, low, high, names)
            if problem:
                return f"{name} field {text!r}: {problem}"
    return None


def _cron_range(expr: str, low: int, high: int, names: dict[str, int]) -> str | None:
    range_and_step = expr.split("/")
    if len(range_and_step) > 2:
        return f"too many slashes: {expr}"
    bounds = range_and_step[0].split("-")
    if len(bounds) > 2:
        return f"too many hyphens: {expr}"
    try:
        if bounds[0] in ("*", "?"):
            start, end = low, high
        else:
            start = _cron_number(bounds[0], names)
            end = _cron_number(bounds[1], names) if len(bounds) == 2 else start
        if len(range_and_step) == 2:
            step = _cron_number(range_and_step[1], {})
            if step <= 0:
                return f"step of range should be a positive number: {expr}"
            if len(bounds) == 1 and bounds[0] not in ("*", "?"):
                end = high
    except ValueError as err:
        return str(err)
    if start < low:
        return f"beginning of range ({start}) below minimum ({low}): {expr}"
    if end > high:
        return f"end of range ({end}) above maximum ({high}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    return None


def _cron_number(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f"failed to parse int from {text}")
    value = int(text)
    if value < 0:
        raise ValueError(f"negative number ({value}) not allowed: {text}")
    return value


def time_zone(name: str) -> str | None:
    """Go `time.LoadLocation` with the embedded tzdata: an IANA name (or UTC/Local)."""
    if name in ("", "UTC", "Local"):
        return None if name else "empty time zone"
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name}"
    return None
