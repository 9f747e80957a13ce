"""Plotly figures from selector data, rendered as HTML fragments.

The page loads plotly.js once from our static files, so fragments never include it.
Figures only draw what the selectors computed; no number is derived here.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from collector.models import LogStatus
from dashboard.selectors import CalibrationBucket, ErrorGroup, HistogramBucket, SeriesPoint

STATUS_COLORS = {
    LogStatus.SUCCESS: "#2f9e6b",
    LogStatus.ESCALATED: "#e2a03f",
    LogStatus.FAILED: "#d9534f",
    LogStatus.ERROR: "#8e44ad",
}
ACCENT = "#3565d8"
RISK = "#d9534f"
CONFIG = {"displayModeBar": False, "responsive": True}
CHART_HEIGHT = 300


def _plain(label: str) -> str:
    """A client-supplied label without the angle brackets plotly reads as markup."""
    return label.replace("<", "\u2039").replace(">", "\u203a")


def _layout(fig: go.Figure, **extra: object) -> go.Figure:
    layout: dict[str, object] = {
        "template": "plotly_white",
        "height": CHART_HEIGHT,
        "margin": {"l": 48, "r": 16, "t": 16, "b": 40},
        "legend": {"orientation": "h", "y": -0.18},
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        "hovermode": "x unified",
    }
    fig.update_layout(**(layout | extra))
    return fig


def to_div(fig: go.Figure) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config=CONFIG)


def volume_chart(points: Sequence[SeriesPoint]) -> str:
    """Runs per bucket, stacked by status."""
    x = [p.bucket for p in points]
    fig = go.Figure(
        [
            go.Bar(
                name=status.label,
                x=x,
                y=[p.by_status.get(status.value, 0) for p in points],
                marker_color=STATUS_COLORS[status],
            )
            for status in LogStatus
        ]
    )
    return to_div(_layout(fig, barmode="stack", yaxis_title="runs"))


def success_rate_chart(points: Sequence[SeriesPoint]) -> str:
    fig = go.Figure(
        go.Scatter(
            name="success rate",
            x=[p.bucket for p in points],
            y=[p.success_rate for p in points],
            mode="lines+markers",
            line_color=STATUS_COLORS[LogStatus.SUCCESS],
            connectgaps=False,
        )
    )
    return to_div(_layout(fig, yaxis={"tickformat": ".0%", "range": [0, 1.05]}))


def quality_chart(points: Sequence[SeriesPoint]) -> str:
    """Average confidence and hallucination risk per bucket."""
    x = [p.bucket for p in points]
    fig = go.Figure(
        [
            go.Scatter(
                name="avg confidence",
                x=x,
                y=[p.avg_confidence for p in points],
                mode="lines+markers",
                line_color=ACCENT,
            ),
            go.Scatter(
                name="avg hallucination risk",
                x=x,
                y=[p.avg_hallucination_risk for p in points],
                mode="lines+markers",
                line_color=RISK,
            ),
        ]
    )
    return to_div(_layout(fig, yaxis={"range": [0, 1.05]}))


def execution_time_chart(buckets: Sequence[HistogramBucket]) -> str:
    fig = go.Figure(
        go.Bar(
            x=[b.label for b in buckets],
            y=[b.count for b in buckets],
            marker_color=ACCENT,
            name="runs",
        )
    )
    return to_div(_layout(fig, xaxis_title="execution time", yaxis_title="runs"))


def calibration_chart(buckets: Sequence[CalibrationBucket]) -> str:
    """Success rate per confidence bucket against the diagonal a calibrated model follows."""
    labels = [b.label for b in buckets]
    fig = go.Figure(
        [
            go.Bar(
                name="success rate",
                x=labels,
                y=[b.success_rate for b in buckets],
                marker_color=STATUS_COLORS[LogStatus.SUCCESS],
                customdata=[b.runs for b in buckets],
                hovertemplate="%{y:.0%} of %{customdata} runs<extra></extra>",
            ),
            go.Scatter(
                name="perfectly calibrated",
                x=labels,
                y=[(b.low + b.high) / 2 for b in buckets],
                mode="lines",
                line={"dash": "dot", "color": "#888"},
                hoverinfo="skip",
            ),
        ]
    )
    return to_div(
        _layout(
            fig,
            xaxis_title="confidence",
            yaxis={"tickformat": ".0%", "range": [0, 1.05]},
            hovermode="closest",
        )
    )


def errors_chart(groups: Sequence[ErrorGroup], *, title: str) -> str:
    """Horizontal bars, largest at the top."""
    shown = list(groups)[:12]
    fig = go.Figure(
        go.Bar(
            x=[g.count for g in reversed(shown)],
            y=[_plain(g.key) for g in reversed(shown)],
            orientation="h",
            marker_color=STATUS_COLORS[LogStatus.FAILED],
            name=title,
        )
    )
    height = max(160, 40 + 28 * len(shown))
    return to_div(
        _layout(fig, height=height, xaxis_title="runs", hovermode="closest", showlegend=False)
    )
