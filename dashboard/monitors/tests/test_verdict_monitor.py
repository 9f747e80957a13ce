"""The judged-correct monitor: a drop in the share of reviewed runs judged correct opens
an alert against the client's own weeks (or a threshold), never on a small sample; it
reads the verdict counts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from collector.models import WorkflowLog
from collector.tests.factories import ClientFactory
from dashboard.monitors.models import Alert, AlertState, Comparison, Metric, MonitorKind
from dashboard.monitors.selectors.alerts import alert_chart
from dashboard.monitors.services.evaluation import monitors_evaluate
from dashboard.monitors.tests.factories import MonitorFactory
from dashboard.monitors.tests.series import WEEK, T, run, seed
from dashboard.reviews.models import Verdict, VerdictKind
from dashboard.reviews.readmodel import verdict_counts_rebuild
from dashboard.reviews.tests.factories import VerdictFactory
from dashboard.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db
DAYS_7 = 7 * 24 * 60


@pytest.fixture
def reviewed():
    """A client with runs over seven weeks before T (2 an hour) and no verdicts yet."""
    client = ClientFactory(slug="reviewed-co")
    seed(client, T - 7 * WEEK, T + dt.timedelta(hours=1), per_hour=2)
    return client


def judge(client, end: dt.datetime, *, correct: int, incorrect: int) -> None:
    """Verdicts on the first runs of the week before ``end``: ``correct`` judged correct,
    then ``incorrect`` judged incorrect."""
    logs = (
        WorkflowLog.objects.for_client(client)
        .filter(timestamp__gte=end - WEEK, timestamp__lt=end)
        .order_by("timestamp")[: correct + incorrect]
    )
    for index, log in enumerate(logs):
        kind = VerdictKind.CORRECT if index < correct else VerdictKind.INCORRECT
        VerdictFactory(client=client, log=log, kind=kind)


def baseline(client, *, correct: int = 36, incorrect: int = 4) -> None:
    """Six baseline weeks at 90 % judged correct (36 of 40 a week)."""
    for week in range(1, 7):
        judge(client, T - week * WEEK, correct=correct, incorrect=incorrect)


def monitor(client, **fields):
    return MonitorFactory(
        client=client, metric=Metric.JUDGED_CORRECT, window_minutes=DAYS_7, **fields
    )


def test_a_real_drop_in_the_judged_correct_share_opens_an_alert(reviewed):
    baseline(reviewed)
    judge(reviewed, T, correct=20, incorrect=20)  # this week: 50 %
    verdict_counts_rebuild(client_ids=[reviewed.pk])
    monitor(reviewed)
    run(T)
    alert = Alert.objects.get()
    assert (alert.metric, alert.environment, alert.state) == (
        Metric.JUDGED_CORRECT,
        "production",
        AlertState.OPEN,
    )
    assert alert.value == pytest.approx(0.5)
    assert alert.sample_size == 40
    assert alert.baseline_median == pytest.approx(0.9)
    assert alert.detail["baseline_weeks"] == [1, 2, 3, 4, 5, 6]
    # 20 of 40 incorrect against 24 of 240: Fisher's one-sided p far below 1e-5.
    assert alert.p_value < 1e-5
    # Its chart: the share per day over the two weeks before it opened.
    chart = alert_chart(client=reviewed, alert=alert, now=T)
    assert chart.kind == "pct"
    assert len(chart.points) == 14  # the 13 days before T's and T's own, up to T
    shares = [point.value for point in chart.points if point.value is not None]
    assert shares and all(0 <= share <= 1 for share in shares)


def test_a_drop_on_a_small_sample_opens_nothing(reviewed):
    baseline(reviewed)
    judge(reviewed, T, correct=2, incorrect=8)  # 20 %, but only 10 verdicts this week
    verdict_counts_rebuild(client_ids=[reviewed.pk])
    monitor(reviewed, min_samples=20)
    summary = monitors_evaluate(now=T)
    assert not Alert.objects.exists()
    assert summary.skipped["few samples"] == 1


def test_a_week_like_the_others_opens_nothing(reviewed):
    baseline(reviewed)
    judge(reviewed, T, correct=34, incorrect=6)  # 85 %: within the weeks' noise
    verdict_counts_rebuild(client_ids=[reviewed.pk])
    monitor(reviewed)
    run(T)
    assert not Alert.objects.exists()


def test_without_baseline_verdicts_the_monitor_waits(reviewed):
    judge(reviewed, T, correct=5, incorrect=35)
    verdict_counts_rebuild(client_ids=[reviewed.pk])
    monitor(reviewed)
    summary = monitors_evaluate(now=T)
    assert not Alert.objects.exists()
    assert summary.skipped["no baseline yet"] == 1


def test_a_threshold_on_the_judged_correct_share_opens_and_resolves(reviewed):
    judge(reviewed, T, correct=24, incorrect=16)  # 60 %
    verdict_counts_rebuild(client_ids=[reviewed.pk])
    monitor(reviewed, kind=MonitorKind.THRESHOLD, comparison=Comparison.BELOW, threshold=0.8)
    run(T)
    alert = Alert.objects.get()
    assert alert.value == pytest.approx(0.6)
    assert alert.sample_size == 40
    # The reviewers go back over this week's runs and find them right after all.
    Verdict.objects.filter(client=reviewed).update(kind=VerdictKind.CORRECT)
    verdict_counts_rebuild(client_ids=[reviewed.pk])
    run(T + dt.timedelta(minutes=1))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_the_monitor_reads_the_verdict_counts_not_the_verdicts(reviewed):
    """Counts that say otherwise than the Verdict table win: the monitor never scans it
    for whole hours (only sub-hour edges, where there are none here)."""
    baseline(reviewed)
    judge(reviewed, T, correct=20, incorrect=20)
    monitor(reviewed)  # no rebuild: the factory's verdicts are not in the counts
    run(T)
    assert not Alert.objects.exists()


def test_the_alerts_page_counts_reviewed_runs_over_the_whole_week(reviewed):
    baseline(reviewed)
    judge(reviewed, T, correct=20, incorrect=20)
    verdict_counts_rebuild(client_ids=[reviewed.pk])
    monitor(reviewed)
    run(T)
    http = HttpClient()
    http.force_login(MembershipFactory(client=reviewed, user__email="rita@reviewed.example").user)
    html = http.get(reverse("dashboard:alerts", args=[reviewed.slug])).content.decode()
    value = re.search(r'data-testid="alert-value">(.*?)</dd>', html, re.S).group(1)
    text = re.sub(r"<[^>]+>", "", value)
    assert text == "50.0% over 2026-11-11 15:00\u20132026-11-18 15:00, 40 reviewed runs"
