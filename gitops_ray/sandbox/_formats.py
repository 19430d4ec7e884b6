"""String formats the API server checks, and Go RE2 patterns run on Python's `re`.

Only the formats apiextensions-apiserver keeps (`validation/formats.go`
`supportedFormats`) are checked; every other `format` (int32, int64, ...) only
names a type. The checks follow kube-openapi `pkg/validation/strfmt`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

_UUID = r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?%s[0-9a-f]{3}-?%s[0-9a-f]{3}-?[0-9a-f]{12}$"
_RX = {
    "uuid": re.compile(_UUID % ("[0-9a-f]", "[0-9a-f]")),
    "uuid3": re.compile(_UUID % ("3", "[0-9a-f]")),
    "uuid4": re.compile(_UUID % ("4", "[89ab]")),
    "uuid5": re.compile(_UUID % ("5", "[89ab]")),
    "bsonobjectid": re.compile(r"^[0-9a-fA-F]{24}\Z"),
    "hexcolor": re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})\Z"),
    "rgbcolor": re.compile(
        r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,"
        r"\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)\Z"),
    "ssn": re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}\Z"),
    "mac": re.compile(r"^([0-9A-Fa-f]{2}[:-]){5,19}[0-9A-Fa-f]{2}\Z|^([0-9A-Fa-f]{4}\.){2,9}[0-9A-Fa-f]{4}\Z"),
    "email": re.compile(r"^[^@\s<>]+@[^@\s<>]+\Z"),
    "date": re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\Z"),
    "time": re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))\Z"),
    "hostname": re.compile(r"^[A-Za-z0-9\u00a0-\uffff]([A-Za-z0-9\u00a0-\uffff-]{0,62})?"
                           r"(\.[A-Za-z0-9\u00a0-\uffff]([A-Za-z0-9\u00a0-\uffff-]{0,62})?)*\Z"),
    "duration": re.compile(r"^([+-]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+\Z|^0\Z"),
    "scala_duration": re.compile(r"(\d+)\s*([A-Za-zµ]+)"),
}
_DURATION_UNITS = ("ns", "nano", "us", "µs", "micro", "ms", "milli", "s", "sec", "m", "min", "h", "hr", "hour",
                   "d", "day", "w", "wk", "week")


def _date(s: str) -> bool:
    return bool(_RX["date"].match(s))


def _datetime(s: str) -> bool:
    parts = s.lower().split("t")
    if len(s) < 4 or len(parts) < 2 or not _date(parts[0]):
        return False
    m = _RX["time"].match(parts[1])
    return m is not None and m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"


def _duration(s: str) -> bool:
    if _RX["duration"].match(s):
        return True
    for _, unit in _RX["scala_duration"].findall(s):
        unit = unit.lower()
        if unit in _DURATION_UNITS or unit.startswith(("nano", "micro", "milli", "sec", "min", "hour", "day", "week")):
            return True
    return False


def _ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(".".join(str(int(p)) if p.isdigit() else p for p in s.split(".")))
    except ValueError:
        return False
    return True


def _ipv6(s: str) -> bool:
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


def _cidr(s: str) -> bool:
    address, _, bits = s.partition("/")
    if not bits.isdigit():
        return False
    if _ipv4(address):
        return int(bits) <= 32
    return _ipv6(address) and int(bits) <= 128


def _uri(s: str) -> bool:
    if not s:
        return False
    try:
        parts = urlsplit(s)
    except ValueError:
        return False
    return bool(parts.scheme) or s.startswith("/")


def _base64(s: str) -> bool:
    try:
        base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _isbn10(s: str) -> bool:
    digits = re.sub(r"[\s-]", "", s)
    if not re.fullmatch(r"\d{9}[\dX]", digits):
        return False
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
    return total % 11 == 0


def _isbn13(s: str) -> bool:
    digits = re.sub(r"[\s-]", "", s)
    if not re.fullmatch(r"\d{13}", digits):
        return False
    return sum((3 if i % 2 else 1) * int(c) for i, c in enumerate(digits)) % 10 == 0


def _creditcard(s: str) -> bool:
    digits = re.sub(r"[^0-9]", "", s)
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _hostname(s: str) -> bool:
    return bool(_RX["hostname"].match(s)) and len(s) <= 255 and all(len(p) <= 63 for p in s.split("."))


_CHECKS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": lambda s: bool(_RX["bsonobjectid"].match(s)),
    "uri": _uri,
    "email": lambda s: bool(_RX["email"].match(s.strip().strip("<>"))),
    "hostname": _hostname,
    "ipv4": lambda s: "." in s and _ipv4(s),
    "ipv6": _ipv6,
    "cidr": _cidr,
    "mac": lambda s: bool(_RX["mac"].match(s)),
    "uuid": lambda s: bool(_RX["uuid"].match(s)),
    "uuid3": lambda s: bool(_RX["uuid3"].match(s)),
    "uuid4": lambda s: bool(_RX["uuid4"].match(s)),
    "uuid5": lambda s: bool(_RX["uuid5"].match(s)),
    "isbn": lambda s: _isbn10(s) or _isbn13(s),
    "isbn10": _isbn10,
    "isbn13": _isbn13,
    "creditcard": _creditcard,
    "ssn": lambda s: bool(_RX["ssn"].match(s)),
    "hexcolor": lambda s: bool(_RX["hexcolor"].match(s)),
    "rgbcolor": lambda s: bool(_RX["rgbcolor"].match(s)),
    "byte": _base64,
    "password": lambda s: True,
    "date": _date,
    "duration": _duration,
    "datetime": _datetime,
}
SUPPORTED_FORMATS = frozenset(_CHECKS)


def check_format(fmt: str, value: str) -> bool:
    """True when `value` is valid for `fmt` (format names normalized as go-openapi does)."""
    check = _CHECKS.get(fmt.replace("-", ""))
    return True if check is None else check(value)


_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}


@lru_cache(maxsize=512)
def compile_go_regexp(pattern: str) -> Any:
    """Compile a Go RE2 pattern for `re.search` with Go's meaning: `$` is end of text
    (Python's also matches before a final newline), `\\z`, POSIX classes, `\\Q...\\E`,
    `(?<name>` and ASCII-only `\\d \\w \\s`. Returns None for a pattern Python cannot compile."""
    out: list[str] = []
    i, in_class, multiline = 0, False, "(?m" in pattern or "(?sm" in pattern
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
                out.append(re.escape(literal))
                i = len(pattern) if end < 0 else end + 2
                continue
            out.append("\\Z" if nxt == "z" else pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                name = pattern[i + 2:end] if end > 0 else ""
                if name in _POSIX:
                    out.append(_POSIX[name])
                    i = end + 2
                    continue
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        elif c == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        elif pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    try:
        return re.compile("".join(out), re.ASCII)
    except re.error:
        return None
