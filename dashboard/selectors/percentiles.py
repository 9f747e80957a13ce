"""Percentiles computed by the database: PostgreSQL's percentile_cont, or a portable fallback."""

from __future__ import annotations

import math
from typing import Any

from django.db import connections
from django.db.models import Aggregate, FloatField, QuerySet


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(f) WITHIN GROUP (ORDER BY expr)`` (ordered-set aggregate)."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        fraction = float(fraction)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("A percentile is a fraction between 0 and 1.")
        # A float formatted by Python, never user text: safe to place in the SQL.
        super().__init__(expression, fraction=repr(fraction), **extra)


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
