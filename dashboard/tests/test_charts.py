"""Charts draw the selectors' data, and plotly.js comes from our own static files."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import plotly
from django.contrib.staticfiles import finders
from django.templatetags.static import static

from dashboard import charts
from dashboard.selectors import CalibrationBucket, ErrorGroup, HistogramBucket, SeriesPoint
from dashboard.staticfinders import PLOTLY_STATIC_PATH, PlotlyFinder

DAY1 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DAY2 = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
POINTS = [
    SeriesPoint(
        bucket=DAY1,
        total=4,
        by_status={"SUCCESS": 3, "FAILED": 1, "ERROR": 0, "ESCALATED": 0},
        avg_confidence=0.75,
        avg_hallucination_risk=0.2,
    ),
    SeriesPoint(bucket=DAY2, by_status={"SUCCESS": 0, "FAILED": 0, "ERROR": 0, "ESCALATED": 0}),
]


def test_volume_figure_stacks_one_bar_trace_per_status():
    figure = charts.volume_figure(POINTS)
    traces = {t["name"]: t for t in figure["data"]}
    assert set(traces) == {"Success", "Failed", "Error", "Escalated"}
    assert traces["Success"]["y"] == [3, 0]
    assert traces["Failed"]["y"] == [1, 0]
    assert traces["Success"]["x"] == [DAY1.isoformat(), DAY2.isoformat()]
    assert figure["layout"]["barmode"] == "stack"


def test_success_rate_figure_leaves_a_gap_for_a_bucket_without_runs():
    figure = charts.success_rate_figure(POINTS)
    assert figure["data"][0]["y"] == [0.75, None]


def test_quality_figure_plots_confidence_and_risk():
    figure = charts.quality_figure(POINTS)
    assert [t["y"] for t in figure["data"]] == [[0.75, None], [0.2, None]]


def test_execution_time_and_calibration_figures_use_the_buckets():
    histogram = [HistogramBucket("0-2 s", 0, 2, 5), HistogramBucket("≥ 2 s", 2, None, 1)]
    assert charts.execution_time_figure(histogram)["data"][0]["y"] == [5, 1]
    calibration = [CalibrationBucket(0.0, 0.5, 4, 1), CalibrationBucket(0.5, 1.0, 0, 0)]
    bars, diagonal = charts.calibration_figure(calibration)["data"]
    assert bars["y"] == [0.25, None]
    assert bars["customdata"] == [4, 0]
    assert diagonal["y"] == [0.25, 0.75]


def test_errors_figure_puts_the_largest_group_on_top_and_defuses_markup():
    groups = [ErrorGroup("<b>Big</b>", 9, DAY1), ErrorGroup("Small", 1, DAY1)]
    trace = charts.errors_figure(groups)["data"][0]
    assert trace["x"] == [1, 9]  # plotly draws the first category at the bottom
    assert trace["y"] == ["Small", "\u2039b\u203aBig\u2039/b\u203a"]


def test_chart_html_is_a_div_and_its_figure_as_inert_json_for_charts_js():
    html = charts.to_div(charts.volume_figure(POINTS))
    match = re.fullmatch(
        r'<div id="(chart-\w+)" class="plotly-chart"></div>'
        r'<script type="application/json" data-plotly-figure="(chart-\w+)">(.*)</script>',
        html,
        re.DOTALL,
    )
    assert match and match[1] == match[2]
    figure = json.loads(match[3])
    assert figure["config"] == {"displayModeBar": False, "responsive": True}
    assert [trace["type"] for trace in figure["data"]] == ["bar"] * 4
    assert "Plotly" not in html  # no code at all: the Content-Security-Policy runs none inline


def test_chart_json_cannot_close_its_script_element_whatever_a_label_holds():
    html = charts.to_div(
        charts.errors_figure([ErrorGroup("</script><script>alert(1)</script>&", 3, DAY1)])
    )
    assert html.count("</script>") == 1
    assert "<script>" not in html and "&" not in html.split('">', 2)[2]
    figure = json.loads(re.search(r">(\{.*\})</script>", html, re.DOTALL)[1])
    assert figure["data"][0]["y"] == [
        "\u2039/script\u203a\u2039script\u203aalert(1)\u2039/script\u203a&"
    ]


def test_plotly_js_is_found_by_the_static_files_finders():
    found = finders.find(PLOTLY_STATIC_PATH)
    assert found == str(Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js")
    assert static(PLOTLY_STATIC_PATH) == "/static/vendor/plotly/plotly.min.js"


def test_collectstatic_collects_plotly_js_under_its_prefix():
    [(path, storage)] = list(PlotlyFinder().list(None))
    assert f"{storage.prefix}/{path}" == PLOTLY_STATIC_PATH
    assert storage.exists(path)


def test_the_finder_finds_nothing_else():
    assert PlotlyFinder().find("vendor/plotly/other.js") == []
    assert PlotlyFinder().find("vendor/plotly/other.js", find_all=True) == []
    assert PlotlyFinder().find(PLOTLY_STATIC_PATH, find_all=True) != []


def test_a_missing_static_file_is_not_found_by_any_finder():
    """A finder answering "" made finders.find() return [""], and WhiteNoise then failed
    with a 500 on every unknown /static/ path in development."""
    assert finders.find("no/such/file.js") is None
    assert finders.find("no/such/file.js", find_all=True) == []


def test_plotly_js_is_served_by_the_running_server(live_server):
    from urllib.request import urlopen

    with urlopen(live_server.url + static(PLOTLY_STATIC_PATH)) as response:
        head = response.read(200)
    assert response.status == 200
    assert b"plotly" in head.lower()


# Reading right: partial buckets, counts, whole-number ticks, small samples ---------------

STATUSES_EMPTY = {"SUCCESS": 0, "FAILED": 0, "ERROR": 0, "ESCALATED": 0}
DAY3 = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
# The current day of a rolling period: only its first 14 h 30 min are in the period.
PARTIAL = [
    SeriesPoint(bucket=DAY1, total=300, by_status=STATUSES_EMPTY | {"SUCCESS": 300}),
    SeriesPoint(bucket=DAY2, total=3, by_status=STATUSES_EMPTY | {"SUCCESS": 2, "FAILED": 1}),
    SeriesPoint(
        bucket=DAY3,
        total=40,
        by_status=STATUSES_EMPTY | {"SUCCESS": 20, "FAILED": 20},
        covered=(DAY3, DAY3 + dt.timedelta(hours=14, minutes=30)),
    ),
]


def test_the_partial_day_is_faded_hatched_and_says_why_in_its_hover():
    success = next(t for t in charts.volume_figure(PARTIAL)["data"] if t["name"] == "Success")
    assert success["marker"]["opacity"] == [1, 1, charts.PARTIAL_OPACITY]
    assert success["marker"]["pattern"]["shape"] == ["", "", "/"]
    assert "partial" not in success["hovertemplate"][0]
    assert (
        "partial: only 2026-11-03 00:00\u201314:30 is in the period" in success["hovertemplate"][2]
    )


def test_a_partial_point_of_a_line_is_an_open_marker_on_a_dotted_segment():
    data = charts.success_rate_figure(PARTIAL)["data"]
    main, segment, marker = data
    # The solid line stops at the last whole day.
    assert main["y"] == [1.0, 2 / 3, None]
    assert segment["line"]["dash"] == "dot"
    assert segment["x"] == [DAY2.isoformat(), DAY3.isoformat()]
    assert segment["y"] == [2 / 3, 0.5]
    assert marker["marker"]["symbol"] == "circle-open"
    assert marker["y"] == [0.5]
    assert "partial" in marker["hovertemplate"][0]


def test_a_rate_from_few_runs_is_faded_and_its_hover_gives_the_runs():
    main = charts.success_rate_figure(PARTIAL)["data"][0]
    assert main["marker"]["opacity"] == [1, charts.SMALL_OPACITY, 1]
    assert main["customdata"] == [300, 3, 40]
    assert "of %{customdata} runs" in main["hovertemplate"][0]
    assert f"fewer than {charts.SMALL_SAMPLE_RUNS} runs" in main["hovertemplate"][1]
    assert "fewer than" not in main["hovertemplate"][0]


def test_calibration_bars_are_labelled_with_their_runs_and_small_ones_are_hatched():
    calibration = [
        CalibrationBucket(0.0, 0.5, 3, 1),
        CalibrationBucket(0.5, 0.9, 300, 240),
        CalibrationBucket(0.9, 1.0, 0, 0),
    ]
    bars, _ = charts.calibration_figure(calibration)["data"]
    assert bars["text"] == ["n=3", "n=300", ""]
    assert bars["textposition"] == "outside"
    assert bars["marker"]["opacity"] == [charts.SMALL_OPACITY, 1, 1]
    assert bars["marker"]["pattern"]["shape"] == ["/", "", ""]
    assert "fewer than 30 runs" in bars["hovertemplate"][0]


def test_run_counts_have_whole_number_ticks():
    few = charts.volume_figure(POINTS)["layout"]["yaxis"]
    assert few["tickformat"] == ",d"
    # At most 4 runs: ticks one apart, never on halves.
    assert few["dtick"] == 1 and few["tick0"] == 0
    many = charts.volume_figure(PARTIAL)["layout"]["yaxis"]
    assert many["tickformat"] == ",d" and "dtick" not in many
    histogram = [HistogramBucket("0-2 s", 0, 2, 2)]
    assert charts.execution_time_figure(histogram)["layout"]["yaxis"]["dtick"] == 1
    errors = charts.errors_figure([ErrorGroup("Timeout", 3, DAY1)])["layout"]["xaxis"]
    assert errors["dtick"] == 1


def test_the_favicon_is_named_by_every_page_and_favicon_ico_answers_it(live_server):
    """Browsers ask for /favicon.ico where a page names none (admin, the API docs)."""
    from urllib.request import urlopen

    from django.template.loader import get_template

    favicon = static("favicon.svg")
    assert f'<link rel="icon" href="{favicon}" type="image/svg+xml">' in (
        get_template("base.html").template.source.replace("{% static 'favicon.svg' %}", favicon)
    )
    with urlopen(live_server.url + "/favicon.ico") as response:
        body = response.read()
    assert response.status == 200
    assert response.url.endswith(favicon)
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    assert body.startswith(b"<svg")


def test_a_mean_is_over_its_runs_and_a_rate_of_them_in_the_hover():
    rate = charts.success_rate_figure(PARTIAL)["data"][0]["hovertemplate"][0]
    mean = charts.quality_figure(PARTIAL)["data"][0]["hovertemplate"][0]
    assert "%{y:.1%} of %{customdata} runs" in rate
    assert "%{y:.2f} over %{customdata} runs" in mean
