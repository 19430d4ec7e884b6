"""Go's `fmt` renderings of JSON values, so messages read exactly like the API server's.

The API server builds its messages with `%v`, `%q` and `%#v` of decoded JSON
(`int64`, `float64`, `string`, `bool`, `map[string]interface{}`,
`[]interface{}`); Python's `repr` differs for floats, quoting and maps.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any


def go_quote(s: str) -> str:
    """`strconv.Quote`: printable runes kept, the rest escaped."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable() and code > 0x7F:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_float(f: float) -> str:
    """`%v` of a float64 (`strconv` 'g', shortest): exponent form below 1e-4 and from 1e6 on."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sign, digits, exp = Decimal(repr(f)).as_tuple()
    assert isinstance(exp, int)
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    exp += len("".join(map(str, digits))) - len(ds)
    point = len(ds) + exp  # digits before the decimal point
    x = point - 1
    prefix = "-" if sign else ""
    if x < -4 or x >= 6:
        mantissa = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{ds}"
    if point >= len(ds):
        return prefix + ds + "0" * (point - len(ds))
    return f"{prefix}{ds[:point]}.{ds[point:]}"


def go_v(value: Any) -> str:
    """`%v` of a decoded JSON value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(go_v(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_v(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def go_sharp_v(value: Any, *, top: bool = True) -> str:
    """`%#v` of a decoded JSON value (as an element of `interface{}` when not top)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_sharp_v(v, top=False) for v in value) + "}"
    if isinstance(value, dict):
        inner = ", ".join(f"{go_quote(k)}:{go_sharp_v(value[k], top=False)}" for k in sorted(value))
        return "map[string]interface {}{" + inner + "}"
    return repr(value)


def error_value(value: Any) -> str:
    """The bad-value part of a `field.Error` (`ErrorBody`): %q strings, %v numbers, %#v the rest."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool | int | float):
        return go_v(value)
    return go_sharp_v(value)


def go_json(value: Any) -> str:
    """`json.Marshal`: compact, HTML-safe escaping of <, > and &."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def smd_value_string(value: Any) -> str:
    """structured-merge-diff `value.ToString`, used in path renderings like `[name="x"]`."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(smd_value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={smd_value_string(value[k])}" for k in sorted(value)) + "}"
    return str(value)
