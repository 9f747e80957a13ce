"""Percentiles computed by the database: PostgreSQL's percentile_cont, or a portable fallback."""

from __future__ import annotations

import math
from typing import Any

from django.db import connections
from django.db.models import Aggregate, FloatField, QuerySet


def _fraction(value: float) -> str:
    fraction = float(value)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("A percentile is a fraction between 0 and 1.")
    # A float formatted by Python, never user text: safe to place in the SQL.
    return repr(fraction)


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(f) WITHIN GROUP (ORDER BY expr)`` (ordered-set aggregate)."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=_fraction(fraction), **extra)


class PercentilesCont(Aggregate):
    """Several percentiles from one sort: ``percentile_cont(ARRAY[...]) WITHIN GROUP (...)``.

    Returns a list of floats in the order of ``fractions`` (PostgreSQL only).
    """

    function = "PERCENTILE_CONT"
    name = "PercentilesCont"
    template = (
        "%(function)s(ARRAY[%(fractions)s]::float8[]) WITHIN GROUP (ORDER BY %(expressions)s)"
    )

    def __init__(self, expression: Any, fractions: list[float], **extra: Any) -> None:
        from django.contrib.postgres.fields import ArrayField  # PostgreSQL-only field

        super().__init__(
            expression,
            fractions=", ".join(_fraction(f) for f in fractions),
            output_field=ArrayField(FloatField()),
            **extra,
        )


def supports_percentile_cont(queryset: QuerySet[Any]) -> bool:
    return connections[queryset.db].vendor == "postgresql"


def percentile_cont_by_offset(
    queryset: QuerySet[Any], field: str, fraction: float, count: int
) -> float | None:
    """percentile_cont for databases without it, still computed by the database.

    ``count`` is the number of non-null values of ``field`` in ``queryset`` (callers have
    it from their aggregate query). The one or two values around the position are read
    with ORDER BY … LIMIT/OFFSET and interpolated linearly, as percentile_cont does.
    """
    if count <= 0:
        return None
    position = fraction * (count - 1)
    low = math.floor(position)
    high = math.ceil(position)
    values = list(
        queryset.filter(**{f"{field}__isnull": False})
        .order_by(field)
        .values_list(field, flat=True)[low : high + 1]
    )
    if not values:
        return None
    if len(values) == 1 or low == high:
        return float(values[0])
    return float(values[0]) + (float(values[1]) - float(values[0])) * (position - low)
