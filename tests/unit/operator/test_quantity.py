"""Kubernetes quantities read as numbers and written back in their shortest whole unit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kubefactory.operator.quantity import format_bytes, half, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (8, Decimal(8)),
        ("8", Decimal(8)),
        ("500m", Decimal("0.5")),
        ("64Gi", Decimal(64 * 2**30)),
        ("1G", Decimal(10**9)),
        ("1.5Ki", Decimal(1536)),
        ("2e3", Decimal(2000)),
    ],
)
def test_parse_quantity(text: int | str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("amount", "text"),
    [(64 * 2**30, "64Gi"), (3 * 2**20, "3Mi"), (500 * 10**6, "500M"), (1000, "1k"), (1023, "1023"), (0, "0")],
)
def test_format_bytes(amount: int, text: str) -> None:
    assert format_bytes(amount) == text


@pytest.mark.parametrize(("memory", "shm"), [("64Gi", "32Gi"), ("1G", "500M"), ("3Gi", "1536Mi"), (8, "4")])
def test_half(memory: int | str, shm: str) -> None:
    assert half(memory) == shm


def test_a_bad_quantity_names_what_was_expected() -> None:
    with pytest.raises(
        ValueError, match=r"not a Kubernetes quantity: '64 GB' \(expected e.g. 8, 500m or 64Gi\)"
    ):
        parse_quantity("64 GB")
