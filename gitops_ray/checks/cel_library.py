"""The Kubernetes CEL libraries cel-expr-python lacks, as custom functions.

The API server's CEL environment (k8s.io/apiserver/pkg/cel/environment/base.go) adds
Kubernetes' own libraries to cel-go's: regex `find`/`findAll`, list `isSorted`/`sum`/
`min`/`max`, `url()`, `quantity()`, `ip()`/`cidr()` and `semver()`
(k8s.io/apiserver/pkg/cel/library/*.go). cel-expr-python ships the cel-go extension
libraries (strings v2, sets, lists, optional, two-variable comprehensions, bindings) but
none of these, so they are written here, behaviour read from those files, code our own.

cel-expr-python cannot carry an opaque Python object through an evaluation, so a
Quantity, URL, IP, CIDR or Semver is a map tagged with the key `@k8s` (unreachable by
field selection, since `@` cannot start a CEL identifier). Two quantities equal in value
get equal maps, so `==` behaves as Kubernetes' `Quantity.Equal`. What differs is
`type(quantity('1'))`, which is `map` here. Functions declared with a `dyn` parameter
do not dispatch in cel-expr-python 0.1.3, so every parameter has a concrete type and
methods shared by several types (`compareTo`, `isLessThan`, ...) switch on the tag.

Not provided (docs/cel.md, "Gaps"): list `indexOf`/`lastIndexOf` (the strings
extension owns those names and cel-expr-python refuses a second declaration),
`format.*` (returns optionals, which Python functions cannot), `authorizer`, `string()`
of an IP or CIDR.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from cel_expr_python import cel

TAG = "@k8s"
_T = cel.Type
_MAP = _T.Map(_T.STRING, _T.DYN)
_LIST = _T.List(_T.DYN)


class LibraryError(ValueError):
    """An error value raised inside a library function; its text is the CEL error."""


# --------------------------------------------------------------------------- declarations

@dataclass(frozen=True)
class _Fn:
    name: str
    params: tuple[Any, ...]
    returns: Any
    impl: Callable[..., Any]
    member: bool = False


def _tagged(kind: str, value: Any, *names: str) -> dict[str, Any]:
    """`value`, which must be one of the `@k8s` kinds in `names`, as its map."""
    if not isinstance(value, dict) or value.get(TAG) not in names:
        raise LibraryError(f"no such overload: {kind}")
    return value


# --------------------------------------------------------------------------- quantity

_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY_ERROR = ("quantities must match the regular expression "
                   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def parse_quantity(text: str) -> Fraction:
    """The exact value of a resource quantity (apimachinery `resource.ParseQuantity`)."""
    m = _QUANTITY.match(text)
    if not m:
        raise LibraryError(_QUANTITY_ERROR)
    number, suffix, exponent = m.groups()
    value = Fraction(Decimal(number))
    if exponent is not None:
        return value * Fraction(10) ** int(exponent)
    if suffix in _BINARY:
        return value * (1 << _BINARY[suffix])
    return value * Fraction(10) ** _DECIMAL.get(suffix or "", 0)


def _quantity_map(value: Fraction) -> dict[str, Any]:
    return {TAG: "Quantity", "value": f"{value.numerator}/{value.denominator}"}


def _qvalue(q: Any) -> Fraction:
    return Fraction(_tagged("Quantity", q, "Quantity")["value"])


def _q_as_integer(q: Any) -> int:
    v = _qvalue(q)
    if v.denominator != 1 or not -(2**63) <= v.numerator < 2**63:
        raise LibraryError("cannot convert value to integer")
    return v.numerator


def _q_add(q: Any, other: Any) -> dict[str, Any]:
    return _quantity_map(_qvalue(q) + (other if isinstance(other, int) else _qvalue(other)))


def _q_sub(q: Any, other: Any) -> dict[str, Any]:
    return _quantity_map(_qvalue(q) - (other if isinstance(other, int) else _qvalue(other)))


def _sign(x: Fraction | int) -> int:
    return (x > 0) - (x < 0)


# --------------------------------------------------------------------------- semver

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                     r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
                     r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")


def _normalize_semver(text: str) -> str:
    """`v1.2` -> `1.2.0`, leading zeros dropped (semverlib's normalize option)."""
    m = re.match(r"^v?(\d+(?:\.\d+){0,2})(.*)$", text)
    if not m:
        return text
    parts = [str(int(p)) for p in m.group(1).split(".")]
    return ".".join(parts + ["0"] * (3 - len(parts))) + m.group(2)


def _semver(text: str, normalize: bool = False) -> dict[str, Any]:
    m = _SEMVER.match(_normalize_semver(text) if normalize else text)
    if not m:
        raise LibraryError(f"No Major.Minor.Patch elements found: {text}" if "." not in text
                           else f"Invalid character(s) found in version: {text}")
    major, minor, patch, pre, _build = m.groups()
    return {TAG: "Semver", "major": int(major), "minor": int(minor), "patch": int(patch), "pre": pre or ""}


def _semver_key(v: dict[str, Any]) -> tuple[Any, ...]:
    pre: tuple[tuple[int, int | str], ...] = tuple(
        (0, int(p)) if p.isdigit() else (1, p) for p in v["pre"].split(".")) if v["pre"] else ()
    # a version without pre-release sorts after every pre-release of the same core
    return (v["major"], v["minor"], v["patch"], not pre, pre)


def _is_semver(text: str, normalize: bool = False) -> bool:
    try:
        _semver(text, normalize)
    except LibraryError:
        return False
    return True


# --------------------------------------------------------------------------- ip / cidr

def _ip(text: str) -> dict[str, Any]:
    if "%" in text:
        raise LibraryError(f"IP address with zone value is not allowed: {text}")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError as exc:
        raise LibraryError(f"IP Address {text!r} parse error during conversion from string: {exc}") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise LibraryError(f"IPv4-mapped IPv6 address is not allowed: {text}")
    return {TAG: "IP", "value": str(addr)}


def _cidr(text: str) -> dict[str, Any]:
    try:
        net = ipaddress.ip_interface(text)
    except ValueError as exc:
        raise LibraryError(f"network address parse error during conversion from string: {exc}") from None
    if "/" not in text:
        raise LibraryError(f"network address parse error during conversion from string: no '/' in {text}")
    return {TAG: "CIDR", "value": str(net)}


def _addr(v: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(_tagged("IP", v, "IP")["value"])


def _net(v: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    return ipaddress.ip_interface(_tagged("CIDR", v, "CIDR")["value"])


def _is(fn: Callable[[str], Any]) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            fn(text)
        except LibraryError:
            return False
        return True
    return check


def _contains_ip(c: Any, ip: Any) -> bool:
    addr = _addr(_ip(ip) if isinstance(ip, str) else ip)
    return addr in _net(c).network


def _contains_cidr(c: Any, other: Any) -> bool:
    inner = _net(_cidr(other) if isinstance(other, str) else other).network
    outer = _net(c).network
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- url

def _url(text: str) -> dict[str, Any]:
    """Go's `url.ParseRequestURI`: an absolute URI, or an absolute path."""
    absolute = text.startswith("/") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text)
    if not absolute or any(c in text for c in " \t\r\n"):
        raise LibraryError(f"URL {text!r} parse error during conversion from string: invalid URI for request")
    parts = urllib.parse.urlsplit(text)
    return {TAG: "URL", "scheme": parts.scheme, "host": parts.netloc.rpartition("@")[2],
            "path": parts.path, "query": parts.query}


def _hostname(u: Any) -> str:
    host = str(_tagged("URL", u, "URL")["host"])
    if host.startswith("["):
        return host[1:host.index("]")] if "]" in host else host
    return host.rpartition(":")[0] if ":" in host else host


def _port(u: Any) -> str:
    host = str(_tagged("URL", u, "URL")["host"])
    tail = host.rpartition("]")[2] if host.startswith("[") else host
    return tail.rpartition(":")[2] if ":" in tail else ""


def _query(u: Any) -> dict[str, list[str]]:
    return {k: list(v) for k, v in urllib.parse.parse_qs(str(_tagged("URL", u, "URL")["query"]),
                                                         keep_blank_values=True).items()}


# --------------------------------------------------------------------------- shared methods

def _compare(a: Any, b: Any) -> int:
    kind = _tagged("compareTo", a, "Quantity", "Semver")[TAG]
    if kind == "Quantity":
        return _sign(_qvalue(a) - _qvalue(b))
    ka, kb = _semver_key(a), _semver_key(_tagged("compareTo", b, "Semver"))
    return (ka > kb) - (ka < kb)


def _list_sum(items: list[Any]) -> Any:
    if not items:
        return 0
    total = items[0]
    for item in items[1:]:
        total = total + item
    return total


def _list_extreme(name: str, pick: Callable[[Sequence[Any]], Any]) -> Callable[[list[Any]], Any]:
    def run(items: list[Any]) -> Any:
        if not items:
            raise LibraryError(f"{name} called on empty list")
        return pick(items)
    return run


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    found = [m.group(0) for m in re.finditer(pattern, text)]
    return found if limit < 0 else found[:limit]


def _find(text: str, pattern: str) -> str:
    m = re.search(pattern, text)
    return m.group(0) if m else ""


_S, _I, _B, _D = _T.STRING, _T.INT, _T.BOOL, _T.DOUBLE

FUNCTIONS: tuple[_Fn, ...] = (
    # regex.go
    _Fn("find", (_S, _S), _S, _find, member=True),
    _Fn("findAll", (_S, _S), _T.List(_S), _find_all, member=True),
    _Fn("findAll", (_S, _S, _I), _T.List(_S), _find_all, member=True),
    # lists.go (indexOf/lastIndexOf: see the module docstring)
    _Fn("isSorted", (_LIST,), _B, lambda xs: all(xs[i] <= xs[i + 1] for i in range(len(xs) - 1)), member=True),
    _Fn("sum", (_LIST,), _T.DYN, _list_sum, member=True),
    _Fn("min", (_LIST,), _T.DYN, _list_extreme("min", min), member=True),
    _Fn("max", (_LIST,), _T.DYN, _list_extreme("max", max), member=True),
    # quantity.go
    _Fn("quantity", (_S,), _MAP, lambda s: _quantity_map(parse_quantity(s))),
    _Fn("isQuantity", (_S,), _B, _is(parse_quantity)),
    _Fn("sign", (_MAP,), _I, lambda q: _sign(_qvalue(q)), member=True),
    _Fn("isInteger", (_MAP,), _B, lambda q: _qvalue(q).denominator == 1, member=True),
    _Fn("asInteger", (_MAP,), _I, _q_as_integer, member=True),
    _Fn("asApproximateFloat", (_MAP,), _D, lambda q: float(_qvalue(q)), member=True),
    _Fn("add", (_MAP, _MAP), _MAP, _q_add, member=True),
    _Fn("add", (_MAP, _I), _MAP, _q_add, member=True),
    _Fn("sub", (_MAP, _MAP), _MAP, _q_sub, member=True),
    _Fn("sub", (_MAP, _I), _MAP, _q_sub, member=True),
    # quantity.go and semverlib.go share these
    _Fn("isLessThan", (_MAP, _MAP), _B, lambda a, b: _compare(a, b) < 0, member=True),
    _Fn("isGreaterThan", (_MAP, _MAP), _B, lambda a, b: _compare(a, b) > 0, member=True),
    _Fn("compareTo", (_MAP, _MAP), _I, _compare, member=True),
    # semverlib.go
    _Fn("semver", (_S,), _MAP, _semver),
    _Fn("semver", (_S, _B), _MAP, _semver),
    _Fn("isSemver", (_S,), _B, _is_semver),
    _Fn("isSemver", (_S, _B), _B, _is_semver),
    _Fn("major", (_MAP,), _I, lambda v: _tagged("major", v, "Semver")["major"], member=True),
    _Fn("minor", (_MAP,), _I, lambda v: _tagged("minor", v, "Semver")["minor"], member=True),
    _Fn("patch", (_MAP,), _I, lambda v: _tagged("patch", v, "Semver")["patch"], member=True),
    # urls.go
    _Fn("url", (_S,), _MAP, _url),
    _Fn("isURL", (_S,), _B, _is(_url)),
    _Fn("getScheme", (_MAP,), _S, lambda u: _tagged("getScheme", u, "URL")["scheme"], member=True),
    _Fn("getHost", (_MAP,), _S, lambda u: _tagged("getHost", u, "URL")["host"], member=True),
    _Fn("getHostname", (_MAP,), _S, _hostname, member=True),
    _Fn("getPort", (_MAP,), _S, _port, member=True),
    _Fn("getEscapedPath", (_MAP,), _S,
        lambda u: urllib.parse.quote(_tagged("getEscapedPath", u, "URL")["path"], safe="/%:@!$&'()*+,;=-._~"),
        member=True),
    _Fn("getQuery", (_MAP,), _T.Map(_S, _T.List(_S)), _query, member=True),
    # ip.go and cidr.go
    _Fn("ip", (_S,), _MAP, _ip),
    _Fn("isIP", (_S,), _B, _is(_ip)),
    _Fn("ip.isCanonical", (_S,), _B, lambda s: str(_addr(_ip(s))) == s),
    _Fn("family", (_MAP,), _I, lambda v: _addr(v).version, member=True),
    _Fn("isUnspecified", (_MAP,), _B, lambda v: _addr(v).is_unspecified, member=True),
    _Fn("isLoopback", (_MAP,), _B, lambda v: _addr(v).is_loopback, member=True),
    _Fn("isLinkLocalMulticast", (_MAP,), _B,
        lambda v: _addr(v).is_multicast and _addr(v) in ipaddress.ip_network(
            "224.0.0.0/24" if _addr(v).version == 4 else "ff02::/16"), member=True),
    _Fn("isLinkLocalUnicast", (_MAP,), _B, lambda v: _addr(v).is_link_local, member=True),
    _Fn("isGlobalUnicast", (_MAP,), _B,
        lambda v: not (_addr(v).is_unspecified or _addr(v).is_loopback or _addr(v).is_multicast
                       or _addr(v).is_link_local or str(_addr(v)) == "255.255.255.255"), member=True),
    _Fn("cidr", (_S,), _MAP, _cidr),
    _Fn("isCIDR", (_S,), _B, _is(_cidr)),
    _Fn("containsIP", (_MAP, _MAP), _B, _contains_ip, member=True),
    _Fn("containsIP", (_MAP, _S), _B, _contains_ip, member=True),
    _Fn("containsCIDR", (_MAP, _MAP), _B, _contains_cidr, member=True),
    _Fn("containsCIDR", (_MAP, _S), _B, _contains_cidr, member=True),
    _Fn("ip", (_MAP,), _MAP, lambda c: {TAG: "IP", "value": str(_net(c).ip)}, member=True),
    _Fn("masked", (_MAP,), _MAP, lambda c: {TAG: "CIDR", "value": str(_net(c).network)}, member=True),
    _Fn("prefixLength", (_MAP,), _I, lambda c: _net(c).network.prefixlen, member=True),
)


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Python exceptions from a library function become CEL error values with their text."""
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except LibraryError:
            raise
        except (ValueError, TypeError, KeyError, re.error) as exc:
            raise LibraryError(str(exc)) from None
    return call


def declarations() -> list[Any]:
    """`cel.FunctionDecl`s for `cel.NewEnv(functions=...)`, one per name, overloads in order."""
    by_name: dict[str, list[Any]] = {}
    for fn in FUNCTIONS:
        overloads = by_name.setdefault(fn.name, [])
        overload_id = f"k8s_{fn.name}_{len(overloads)}"
        overloads.append(cel.Overload(overload_id, fn.returns, list(fn.params), is_member=fn.member,
                                      impl=_guarded(fn.impl)))
    return [cel.FunctionDecl(name, overloads) for name, overloads in by_name.items()]
