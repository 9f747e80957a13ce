"""Plotly figures from selector data, rendered as HTML fragments.

Each ``*_figure`` function turns selector output into a plotly figure (as a plain dict, so
tests can read it); ``to_div`` renders one as a ``<div>`` with the figure as a JSON data
block beside it, which ``static/js/charts.js`` draws once it has loaded plotly.js from our
static files. No fragment holds a script that runs: the Content-Security-Policy allows no
inline script.
Figures only draw what the selectors computed: no number is derived here.

Figures are plain dicts rendered with ``validate=False``: building ``graph_objects`` and
validating every property cost ~25 ms a chart, most of a page's time budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
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
# A rate from fewer runs than this is drawn faded (and its bars hatched): at 50 % its 95 %
# interval is wider than ±18 points (1.96·√(0.25/30)), too wide to read as a level.
SMALL_SAMPLE_RUNS = 30
SMALL_OPACITY = 0.35
PARTIAL_OPACITY = 0.45
HATCH = "/"
# Below this many runs at the top of a count axis, ticks are set one apart: plotly's own
# would fall on halves (0.5, 1.5), which a count never is.
UNIT_TICKS_BELOW = 10


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
        # Above the plot: below it, a phone's two-line tick labels ran into it. Plotly
        # grows the top margin to the legend's rows.
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        "hovermode": "x unified",
    }
    return {"data": data, "layout": base | layout}


# What Django's json_script escapes: JSON inside <script> can then never close the element
# or open a comment, whatever a client-supplied label holds.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def to_div(figure: Figure, markers: Sequence[ChartMarker] = ()) -> SafeString:
    """The chart's ``<div>`` and its figure (with ``markers`` drawn on its time axis, see
    ``with_markers``) as inert JSON for static/js/charts.js."""
    element_id = f"chart-{uuid4().hex[:12]}"
    # plotly's encoder, as to_html used: NaN and infinities become null, not invalid JSON.
    payload = pio.to_json({**with_markers(figure, markers), "config": CONFIG}, validate=False)
    return format_html(
        '<div id="{}" class="plotly-chart"></div>'
        '<script type="application/json" data-plotly-figure="{}">{}</script>',
        element_id,
        element_id,
        mark_safe(payload.translate(_JSON_SCRIPT_ESCAPES)),  # noqa: S308 (escaped above)
    )


def _x(points: Sequence[SeriesPoint]) -> list[str]:
    return [p.bucket.isoformat() for p in points]


def _time_axis(points: Sequence[SeriesPoint]) -> dict[str, Any]:
    """One-line tick labels (hours, or days), which plotly thins to fit: its default
    two-line ones ("18:00 / Nov 30, 2026") overlapped on a phone. The page's heading
    gives the period's dates."""
    hourly = len(points) > 1 and points[1].bucket - points[0].bucket < timedelta(hours=20)
    return {
        "type": "date",
        "tickformat": "%H:%M" if hourly else "%b %-d",
        "automargin": True,
        # Clear of the y axis's "0" at the corner.
        "ticklabelstandoff": 8,
    }


def _local(moment: Any) -> str:
    return timezone.localtime(moment).isoformat()


def _count_axis(largest: int, title: str) -> dict[str, Any]:
    """An axis of run counts: whole-number ticks only."""
    axis: dict[str, Any] = {"title": {"text": title}, "rangemode": "tozero", "tickformat": ",d"}
    if largest < UNIT_TICKS_BELOW:
        axis |= {"tick0": 0, "dtick": 1}
    return axis


def _clock(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def partial_note(point: SeriesPoint) -> str:
    """Why a bucket's figures are not a whole bucket's ("" for a whole one)."""
    if point.covered is None:
        return ""
    start, end = (_clock(m) for m in point.covered)
    if start[:10] == end[:10]:
        end = end[11:]
    return f"partial: only {start}\u2013{end} is in the period"


def _hover(name: str, value: str, note: str = "") -> str:
    """A hover line for one point; plotly's own fields stay in %{...}."""
    text = f"{_plain(name)}: {value}"
    return (text + f"<br><i>{note}</i>" if note else text) + "<extra></extra>"


def _small(runs: int) -> bool:
    return 0 < runs < SMALL_SAMPLE_RUNS


def _line_traces(
    points: Sequence[SeriesPoint],
    values: Sequence[float | None],
    *,
    name: str,
    color: str,
    value_format: str,
) -> list[dict[str, Any]]:
    """A series as a solid line over whole buckets, each partial bucket (the current hour
    or day, a rolling period's first one) as an open marker joined by a dotted segment,
    and every point from fewer than SMALL_SAMPLE_RUNS runs faded; the hover gives n and
    says why a point is partial."""
    x = _x(points)
    # A rate is "of" its runs; a mean is taken over the bucket's runs.
    joiner = "of" if value_format.endswith("%") else "over"
    value = f"%{{y:{value_format}}} {joiner} %{{customdata}} runs"
    main = {
        "type": "scatter",
        "name": name,
        "x": x,
        "y": [None if p.partial else v for p, v in zip(points, values, strict=True)],
        "customdata": [p.total for p in points],
        "mode": "lines+markers",
        "line": {"color": color},
        "marker": {
            "color": color,
            "opacity": [SMALL_OPACITY if _small(p.total) else 1 for p in points],
        },
        "hovertemplate": [
            _hover(name, value, f"fewer than {SMALL_SAMPLE_RUNS} runs" if _small(p.total) else "")
            for p in points
        ],
    }
    traces: list[dict[str, Any]] = [main]
    partial = [i for i, p in enumerate(points) if p.partial and values[i] is not None]
    for i in partial:
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(points)]
        for j in neighbours:
            if not points[j].partial and values[j] is not None:
                traces.append(
                    {
                        "type": "scatter",
                        "name": f"{name} (partial)",
                        "x": [x[j], x[i]],
                        "y": [values[j], values[i]],
                        "mode": "lines",
                        "line": {"color": color, "dash": "dot"},
                        "hoverinfo": "skip",
                        "showlegend": False,
                    }
                )
    if partial:
        traces.append(
            {
                "type": "scatter",
                "name": f"{name} (partial)",
                "x": [x[i] for i in partial],
                "y": [values[i] for i in partial],
                "customdata": [points[i].total for i in partial],
                "mode": "markers",
                "marker": {"color": color, "symbol": "circle-open", "size": 9},
                "hovertemplate": [_hover(name, value, partial_note(points[i])) for i in partial],
                "showlegend": False,
                "meta": {"partial": True},
            }
        )
    return traces


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
    """Runs per bucket, stacked by status; a partial bucket's bars faded and hatched."""
    notes = [partial_note(p) for p in points]
    return _figure(
        [
            {
                "type": "bar",
                "name": status.label,
                "x": _x(points),
                "y": [p.by_status.get(status.value, 0) for p in points],
                "marker": {
                    "color": STATUS_COLORS[status],
                    "opacity": [PARTIAL_OPACITY if n else 1 for n in notes],
                    "pattern": {"shape": [HATCH if n else "" for n in notes]},
                },
                "hovertemplate": [_hover(status.label, "%{y:,d}", n) for n in notes],
            }
            for status in LogStatus
        ],
        barmode="stack",
        xaxis=_time_axis(points),
        yaxis=_count_axis(max((p.total for p in points), default=0), "runs"),
    )


def success_rate_figure(points: Sequence[SeriesPoint]) -> Figure:
    return _figure(
        _line_traces(
            points,
            [p.success_rate for p in points],
            name="success rate",
            color=STATUS_COLORS[LogStatus.SUCCESS],
            value_format=".1%",
        ),
        xaxis=_time_axis(points),
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
    )


def quality_figure(points: Sequence[SeriesPoint]) -> Figure:
    """Average confidence and hallucination risk per bucket."""
    return _figure(
        [
            *_line_traces(
                points,
                [p.avg_confidence for p in points],
                name="avg confidence",
                color=ACCENT,
                value_format=".2f",
            ),
            *_line_traces(
                points,
                [p.avg_hallucination_risk for p in points],
                name="avg hallucination risk",
                color=RISK,
                value_format=".2f",
            ),
        ],
        xaxis=_time_axis(points),
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
                "hovertemplate": "%{x}: %{y:,d} runs<extra></extra>",
            }
        ],
        xaxis={"title": {"text": "execution time"}},
        yaxis=_count_axis(max((b.count for b in buckets), default=0), "runs"),
        hovermode="closest",
    )


def _perfectly_calibrated(labels: list[str], buckets: Sequence[Any]) -> dict[str, Any]:
    """The diagonal a calibration chart is read against: each bucket's middle."""
    return {
        "type": "scatter",
        "name": "perfectly calibrated",
        "x": labels,
        "y": [(b.low + b.high) / 2 for b in buckets],
        "mode": "lines",
        "line": {"dash": "dot", "color": "#888"},
        "hoverinfo": "skip",
    }


def calibration_figure(buckets: Sequence[CalibrationBucket]) -> Figure:
    """Success rate per confidence bucket against the diagonal a calibrated model follows.

    Each bar is labelled with its runs; a bar from fewer than SMALL_SAMPLE_RUNS is faded
    and hatched, so three runs never look as solid as three hundred.
    """
    labels = [b.label for b in buckets]
    small = [_small(b.runs) for b in buckets]
    return _figure(
        [
            {
                "type": "bar",
                "name": "success rate",
                "x": labels,
                "y": [b.success_rate for b in buckets],
                "customdata": [b.runs for b in buckets],
                "text": [f"n={b.runs:,}" if b.runs else "" for b in buckets],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": [
                    "%{y:.0%} of %{customdata:,d} runs"
                    + (f"<br><i>fewer than {SMALL_SAMPLE_RUNS} runs</i>" if s else "")
                    + "<extra></extra>"
                    for s in small
                ],
                "marker": {
                    "color": STATUS_COLORS[LogStatus.SUCCESS],
                    "opacity": [SMALL_OPACITY if s else 1 for s in small],
                    "pattern": {"shape": [HATCH if s else "" for s in small]},
                },
            },
            _perfectly_calibrated(labels, buckets),
        ],
        xaxis={"title": {"text": "confidence"}},
        # Room above a full bar for its count.
        yaxis={"tickformat": ".0%", "range": [0, 1.15]},
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
        xaxis=_count_axis(max((g.count for g in shown), default=0), "runs"),
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
    span = chart.points[-1].bucket - chart.points[0].bucket if chart.points else timedelta(0)
    figure = _figure(
        data,
        height=ALERT_CHART_HEIGHT,
        # One-line ticks, as on the dashboard: the two-line default overlapped on a phone.
        xaxis={
            "type": "date",
            "tickformat": "%H:%M" if span <= timedelta(hours=36) else "%b %-d",
            "automargin": True,
            "ticklabelstandoff": 8,
        },
        margin={"l": 48, "r": 8, "t": 8, "b": 28},
        showlegend=False,
        hovermode="closest",
        yaxis={"tickformat": ".0%"} if percent else {},
    )
    return with_markers(figure, events)


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
            _perfectly_calibrated(labels, buckets),
        ],
        xaxis={"title": {"text": "confidence"}},
        yaxis={"tickformat": ".0%", "range": [0, 1.15]},
        hovermode="closest",
    )
