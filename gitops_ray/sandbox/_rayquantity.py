"""Kubernetes resource quantities the way `resource.Quantity` adds and prints them.

RayCluster `status.desiredCPU/Memory/GPU/TPU` are sums of pod-template
requests (limits where a request is missing) times replicas, printed in
canonical form: `1500m`, `3Gi`, `2k`, `0` (apimachinery `pkg/api/resource`
`Quantity.Add`, `CanonicalizeBytes`). A sum keeps the format of its first
non-zero operand, so `1Gi + 512Mi` prints `1536Mi` and `1G + 1G` prints `2G`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, localcontext
from typing import Any

BINARY = "BinarySI"
DECIMAL = "DecimalSI"
EXPONENT = "DecimalExponent"

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_SUFFIX = {exp: suffix for suffix, exp in _BINARY.items()}
_PATTERN = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                      r"(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$")


class Quantity:
    """An exact value with the format it prints in; zero has no format (prints `0`)."""

    __slots__ = ("fmt", "value")

    def __init__(self, value: Decimal = Decimal(0), fmt: str = "") -> None:
        self.value = value
        self.fmt = fmt

    @classmethod
    def parse(cls, raw: Any) -> Quantity | None:
        if isinstance(raw, bool) or raw is None:
            return None
        text = str(raw).strip() if not isinstance(raw, float) else repr(raw)
        match = _PATTERN.match(text)
        if not match:
            return None
        number, suffix, exponent = match.groups()
        with localcontext() as ctx:
            ctx.prec = 60
            base = Decimal(number)
            if exponent is not None:
                return cls(base.scaleb(int(exponent)), EXPONENT)
            if suffix in _BINARY:
                return cls(base * (Decimal(1024) ** _BINARY[suffix]), BINARY)
            return cls(base.scaleb(_DECIMAL[suffix or ""]), DECIMAL)

    def add(self, other: Quantity) -> Quantity:
        fmt = self.fmt if self.value != 0 else other.fmt
        with localcontext() as ctx:
            ctx.prec = 60
            return Quantity(self.value + other.value, fmt)

    def mul(self, factor: int) -> Quantity:
        with localcontext() as ctx:
            ctx.prec = 60
            return Quantity(self.value * factor, self.fmt)

    def is_zero(self) -> bool:
        return self.value == 0

    def __str__(self) -> str:
        if self.value == 0:
            return "0"
        fmt = self.fmt or DECIMAL
        if fmt == BINARY and (abs(self.value) < 1024 or self.value != self.value.to_integral_value()):
            fmt = DECIMAL
        if fmt == BINARY:
            amount, power = int(self.value), 0
            while amount % 1024 == 0 and power < 6:
                amount //= 1024
                power += 1
            return f"{amount}{_BINARY_SUFFIX.get(power, '')}"
        sign, digits, exp = self.value.normalize().as_tuple()
        assert isinstance(exp, int)
        mantissa = int("".join(map(str, digits)) or "0")
        while exp % 3:
            mantissa *= 10
            exp -= 1
        text = f"{'-' if sign else ''}{mantissa}"
        if fmt == EXPONENT:
            return text if exp == 0 else f"{text}e{exp}"
        suffix = _DECIMAL_SUFFIX.get(exp)
        return text + suffix if suffix is not None else f"{text}e{exp}"


def pod_resources(pod_spec: Mapping[str, Any]) -> dict[str, Quantity]:
    """Requests of every container, a limit standing in for a missing request (`CalculatePodResource`)."""
    total: dict[str, Quantity] = {}
    for container in pod_spec.get("containers") or ():
        resources = container.get("resources") or {}
        merged: dict[str, Any] = dict(resources.get("requests") or {})
        for name, raw in (resources.get("limits") or {}).items():
            merged.setdefault(name, raw)
        for name, raw in merged.items():
            quantity = Quantity.parse(raw)
            if quantity is not None:
                total[name] = total[name].add(quantity) if name in total else quantity
    return total


def sum_resources(lists: Iterable[Mapping[str, Quantity]]) -> dict[str, Quantity]:
    total: dict[str, Quantity] = {}
    for resources in lists:
        for name, quantity in resources.items():
            total[name] = total[name].add(quantity) if name in total else quantity
    return total


_MIG = re.compile(r"nvidia\.com/mig-\d+g\.\d+gb$")


def is_gpu(name: str) -> bool:
    """`utils.IsGPUResourceKey`: any key ending in `gpu`, or an NVIDIA MIG slice."""
    return name.endswith("gpu") or bool(_MIG.search(name))
