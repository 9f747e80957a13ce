"""The dashboards: static files for charts and page settings."""

from __future__ import annotations
