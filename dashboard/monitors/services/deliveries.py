"""Telling channels and opted-in users about alert events (owned by the channels work).

``deliveries_run(now=...)`` fans out every alert event not yet fanned out into Delivery
rows, then sends every delivery that is due, and returns how many it sent. Until the
channels work lands it sends nothing.
"""

from __future__ import annotations

import datetime as dt


def deliveries_run(*, now: dt.datetime | None = None) -> int:
    return 0
