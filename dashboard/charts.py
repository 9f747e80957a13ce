"""Plotly figures from selector data, rendered as HTML fragments.

Each ``*_figure`` function turns selector output into a plotly figure (as a plain dict, so
tests can read it); ``*_chart`` renders it as a ``<div>`` with the figure as a JSON data
block beside it, which ``static/js/charts.js`` draws once it has loaded plotly.js from our
static files. No fragment holds a script that runs: the Content-Security-Policy allows no
inline script.
Figures only draw what the selectors computed: no number is derived here.

Figures are plain dicts rendered with ``validate=False``: building ``graph_objects`` and
validating every property cost ~25 ms a chart, most of a page's time budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any
from uuid import uuid4

import plotly.io as pio
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from collector.models import LogStatus
from dashboard.monitors.selectors.alerts import AlertChart, ChartMarker
from dashboard.selectors import CalibrationBucket, ErrorGroup, HistogramBucket, SeriesPoint
from dashboard.selectors.verdicts import VerdictCalibrationBucket

Figure = dict[str, Any]

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
ERRORS_SHOWN = 12
ALERT_CHART_HEIGHT = 180
# Marker kinds: (legend name, symbol, colour).
MARKER_KINDS = {
    "alert": ("alert opened", "triangle-down", "#d9534f"),
    "version": ("new version", "diamond", "#6c5ce7"),
    "resolved": ("resolved", "circle", "#888"),
}
BAND = "rgba(47, 158, 107, 0.14)"


@cache
def _template() -> dict[str, Any]:
    return pio.templates["plotly_white"].to_plotly_json()


def _plain(label: str) -> str:
    """A client-supplied label without the angle brackets plotly reads as markup."""
    return label.replace("<", "\u2039").replace(">", "\u203a")


def _figure(data: list[dict[str, Any]], **layout: Any) -> Figure:
    base: dict[str, Any] = {
        "template": _template(),
        "height": CHART_HEIGHT,
        "margin": {"l": 48, "r": 16, "t": 16, "b": 40},
        "legend": {"orientation": "h", "y": -0.18},
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        "hovermode": "x unified",
    }
    return {"data": data, "layout": base | layout}


# What Django's json_script escapes: JSON inside <script> can then never close the element
# or open a comment, whatever a client-supplied label holds.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def to_div(figure: Figure) -> SafeString:
    """The chart's ``<div>`` and its figure as inert JSON for static/js/charts.js."""
    element_id = f"chart-{uuid4().hex[:12]}"
    # plotly's encoder, as to_html used: NaN and infinities become null, not invalid JSON.
    payload = pio.to_json({**figure, "config": CONFIG}, validate=False)
    return format_html(
        '<div id="{}" class="plotly-chart"></div>'
        '<script type="application/json" data-plotly-figure="{}">{}</script>',
        element_id,
        element_id,
        mark_safe(payload.translate(_JSON_SCRIPT_ESCAPES)),  # noqa: S308 (escaped above)
    )


def _x(points: Sequence[SeriesPoint]) -> list[str]:
    return [p.bucket.isoformat() for p in points]


def _local(moment: Any) -> str:
    return timezone.localtime(moment).isoformat()


def with_markers(figure: Figure, markers: Sequence[ChartMarker]) -> Figure:
    """The figure with a dotted vertical line at each marker and, on a hidden axis over
    the whole height, a triangle at its top whose hover names what happened there
    (shapes alone have no hover)."""
    if not markers:
        return figure
    layout = dict(figure["layout"])
    layout["shapes"] = [
        *layout.get("shapes", []),
        *(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": _local(m.at),
                "x1": _local(m.at),
                "y0": 0,
                "y1": 1,
                "line": {"color": MARKER_KINDS[m.kind][2], "width": 1, "dash": "dot"},
            }
            for m in markers
        ),
    ]
    layout["yaxis2"] = {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True}
    data = list(figure["data"])
    for kind, (name, symbol, color) in MARKER_KINDS.items():
        chosen = [m for m in markers if m.kind == kind]
        if chosen:
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": name,
                    "x": [_local(m.at) for m in chosen],
                    "y": [0.97] * len(chosen),
                    "yaxis": "y2",
                    "text": [_plain(m.label) for m in chosen],
                    "hovertemplate": "%{text}<extra></extra>",
                    "marker": {"color": color, "symbol": symbol, "size": 10},
                    "meta": {"marker_kind": kind},
                }
            )
    return {"data": data, "layout": layout}


def volume_figure(points: Sequence[SeriesPoint]) -> Figure:
    """Runs per bucket, stacked by status."""
    return _figure(
        [
            {
                "type": "bar",
                "name": status.label,
                "x": _x(points),
                "y": [p.by_status.get(status.value, 0) for p in points],
                "marker": {"color": STATUS_COLORS[status]},
            }
            for status in LogStatus
        ],
        barmode="stack",
        yaxis={"title": {"text": "runs"}},
    )


def success_rate_figure(points: Sequence[SeriesPoint]) -> Figure:
    return _figure(
        [
            {
                "type": "scatter",
                "name": "success rate",
                "x": _x(points),
                "y": [p.success_rate for p in points],
                "mode": "lines+markers",
                "line": {"color": STATUS_COLORS[LogStatus.SUCCESS]},
            }
        ],
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
    )


def quality_figure(points: Sequence[SeriesPoint]) -> Figure:
    """Average confidence and hallucination risk per bucket."""
    return _figure(
        [
            {
                "type": "scatter",
                "name": "avg confidence",
                "x": _x(points),
                "y": [p.avg_confidence for p in points],
                "mode": "lines+markers",
                "line": {"color": ACCENT},
            },
            {
                "type": "scatter",
                "name": "avg hallucination risk",
                "x": _x(points),
                "y": [p.avg_hallucination_risk for p in points],
                "mode": "lines+markers",
                "line": {"color": RISK},
            },
        ],
        yaxis={"range": [0, 1.05]},
    )


def execution_time_figure(buckets: Sequence[HistogramBucket]) -> Figure:
    return _figure(
        [
            {
                "type": "bar",
                "name": "runs",
                "x": [b.label for b in buckets],
                "y": [b.count for b in buckets],
                "marker": {"color": ACCENT},
            }
        ],
        xaxis={"title": {"text": "execution time"}},
        yaxis={"title": {"text": "runs"}},
        hovermode="closest",
    )


def calibration_figure(buckets: Sequence[CalibrationBucket]) -> Figure:
    """Success rate per confidence bucket against the diagonal a calibrated model follows."""
    labels = [b.label for b in buckets]
    return _figure(
        [
            {
                "type": "bar",
                "name": "success rate",
                "x": labels,
                "y": [b.success_rate for b in buckets],
                "customdata": [b.runs for b in buckets],
                "hovertemplate": "%{y:.0%} of %{customdata} runs<extra></extra>",
                "marker": {"color": STATUS_COLORS[LogStatus.SUCCESS]},
            },
            {
                "type": "scatter",
                "name": "perfectly calibrated",
                "x": labels,
                "y": [(b.low + b.high) / 2 for b in buckets],
                "mode": "lines",
                "line": {"dash": "dot", "color": "#888"},
                "hoverinfo": "skip",
            },
        ],
        xaxis={"title": {"text": "confidence"}},
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
        hovermode="closest",
    )


def errors_figure(groups: Sequence[ErrorGroup]) -> Figure:
    """Horizontal bars of the largest groups, largest at the top."""
    shown = list(groups)[:ERRORS_SHOWN][::-1]
    return _figure(
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [g.count for g in shown],
                "y": [_plain(g.key) for g in shown],
                "marker": {"color": STATUS_COLORS[LogStatus.FAILED]},
            }
        ],
        height=max(160, 40 + 28 * len(shown)),
        xaxis={"title": {"text": "runs"}},
        margin={"l": 160, "r": 16, "t": 8, "b": 40},
        hovermode="closest",
        showlegend=False,
    )


def alert_figure(chart: AlertChart) -> Figure:
    """An alert's metric per hour: the baseline band shaded, its median dashed, the
    opening (and the resolution) marked."""
    x = [_local(p.bucket) for p in chart.points]
    percent = chart.kind == "pct"
    data: list[dict[str, Any]] = []
    if chart.low is not None and chart.high is not None and x:
        data.append(
            {
                "type": "scatter",
                "name": "normal band",
                "x": [x[0], x[-1], x[-1], x[0]],
                "y": [chart.low, chart.low, chart.high, chart.high],
                "fill": "toself",
                "fillcolor": BAND,
                "line": {"width": 0},
                "mode": "lines",
                "hoverinfo": "skip",
            }
        )
    if chart.median is not None and x:
        data.append(
            {
                "type": "scatter",
                "name": "baseline median",
                "x": [x[0], x[-1]],
                "y": [chart.median, chart.median],
                "mode": "lines",
                "line": {"dash": "dash", "color": "#2f9e6b", "width": 1},
                "hoverinfo": "skip",
            }
        )
    data.append(
        {
            "type": "scatter",
            "name": _plain(chart.label),
            "x": x,
            "y": [p.value for p in chart.points],
            "customdata": [p.samples for p in chart.points],
            "hovertemplate": ("%{y:.1%}" if percent else "%{y:.3g}")
            + " (%{customdata} runs)<extra></extra>",
            "mode": "lines+markers",
            "line": {"color": ACCENT},
        }
    )
    events = [ChartMarker(at=chart.opened_at, kind="alert", label="opened")]
    if chart.resolved_at is not None:
        events.append(ChartMarker(at=chart.resolved_at, kind="resolved", label="resolved"))
    figure = _figure(
        data,
        height=ALERT_CHART_HEIGHT,
        margin={"l": 48, "r": 8, "t": 8, "b": 28},
        showlegend=False,
        hovermode="closest",
        yaxis={"tickformat": ".0%"} if percent else {},
    )
    return with_markers(figure, events)


def alert_chart(chart: AlertChart) -> str:
    return to_div(alert_figure(chart))


def volume_chart(points: Sequence[SeriesPoint], markers: Sequence[ChartMarker] = ()) -> str:
    return to_div(with_markers(volume_figure(points), markers))


def success_rate_chart(points: Sequence[SeriesPoint], markers: Sequence[ChartMarker] = ()) -> str:
    return to_div(with_markers(success_rate_figure(points), markers))


def quality_chart(points: Sequence[SeriesPoint], markers: Sequence[ChartMarker] = ()) -> str:
    return to_div(with_markers(quality_figure(points), markers))


def execution_time_chart(buckets: Sequence[HistogramBucket]) -> str:
    return to_div(execution_time_figure(buckets))


def calibration_chart(buckets: Sequence[CalibrationBucket]) -> str:
    return to_div(calibration_figure(buckets))


def errors_chart(groups: Sequence[ErrorGroup]) -> str:
    return to_div(errors_figure(groups))


# Bars resting on fewer reviewed runs than this are drawn faint: a bar from 3 verdicts
# must not look as solid as one from 300.
VERDICT_SMALL_SAMPLE = 10


def verdict_calibration_figure(buckets: Sequence[VerdictCalibrationBucket]) -> Figure:
    """Share of reviewed runs judged correct per confidence bucket, each bar labelled with
    the reviewed runs it rests on, against the diagonal a calibrated workflow follows."""
    labels = [b.label for b in buckets]
    return _figure(
        [
            {
                "type": "bar",
                "name": "judged correct",
                "x": labels,
                "y": [b.correct_rate for b in buckets],
                "text": [str(b.reviewed) if b.reviewed else "" for b in buckets],
                "textposition": "outside",
                "customdata": [[b.correct, b.reviewed] for b in buckets],
                "hovertemplate": "%{y:.0%}: %{customdata[0]} of %{customdata[1]} reviewed runs"
                "<extra></extra>",
                "marker": {
                    "color": ACCENT,
                    "opacity": [
                        1.0 if b.reviewed >= VERDICT_SMALL_SAMPLE else 0.4 for b in buckets
                    ],
                },
            },
            {
                "type": "scatter",
                "name": "perfectly calibrated",
                "x": labels,
                "y": [(b.low + b.high) / 2 for b in buckets],
                "mode": "lines",
                "line": {"dash": "dot", "color": "#888"},
                "hoverinfo": "skip",
            },
        ],
        xaxis={"title": {"text": "confidence"}},
        yaxis={"tickformat": ".0%", "range": [0, 1.15]},
        hovermode="closest",
    )


def verdict_calibration_chart(buckets: Sequence[VerdictCalibrationBucket]) -> str:
    return to_div(verdict_calibration_figure(buckets))
