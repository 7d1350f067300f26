"""Kubernetes resource quantities (``64Gi``, ``500m``, ``8``) as numbers, and back.

Only what the builders need: reading a memory quantity as bytes and writing bytes in the largest
binary unit that keeps it whole (half of ``64Gi`` is ``32Gi``, half of ``1G`` is ``500M``).
"""

from __future__ import annotations

import re
from decimal import Decimal

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$")
_BINARY_UNITS = ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki")
_DECIMAL_UNITS = ("E", "P", "T", "G", "M", "k")


def parse_quantity(value: int | str) -> Decimal:
    """``"64Gi"`` → 68719476736; ``"500m"`` → 0.5; an int stays itself."""
    if isinstance(value, int):
        return Decimal(value)
    match = _QUANTITY.match(value.strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r} (expected e.g. 8, 500m or 64Gi)")
    number, exponent, suffix = match.groups()
    scale = Decimal(10) ** int(exponent[1:]) if exponent else _SUFFIXES[suffix or ""]
    return Decimal(number) * scale


def format_bytes(amount: Decimal | int) -> str:
    """Bytes as the shortest whole quantity: binary units first, then decimal ones, else plain."""
    whole = int(amount)
    for unit in _BINARY_UNITS + _DECIMAL_UNITS:
        size = int(_SUFFIXES[unit])
        if whole >= size and whole % size == 0:
            return f"{whole // size}{unit}"
    return str(whole)


def half(value: int | str) -> str:
    """Half of a memory quantity, e.g. the default /dev/shm size for a given memory limit."""
    return format_bytes(parse_quantity(value) / 2)
