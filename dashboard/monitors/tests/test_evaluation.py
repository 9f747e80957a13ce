"""Evaluation against real time series (a baseline of six weeks, then a drift, a recovery,
a silence, ...), driven through ``manage.py monitors_run --now`` as cron runs it."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from collector.tests.factories import ClientFactory
from dashboard.monitors.models import (
    Alert,
    AlertEvent,
    AlertState,
    Comparison,
    Metric,
    Monitor,
    MonitorKind,
)
from dashboard.monitors.services.defaults import monitors_ensure_defaults
from dashboard.monitors.services.evaluation import monitors_evaluate
from dashboard.monitors.tests.factories import MonitorFactory
from dashboard.monitors.tests.series import WEEK, T, run, seed, seed_poisson, seed_weeks

pytestmark = pytest.mark.django_db
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
HOURLY = {(Metric.SUCCESS_RATE, 60), (Metric.ERROR_RATE, 60)}
SUCCESS_AND_ERROR = HOURLY | {(Metric.SUCCESS_RATE, 360), (Metric.ERROR_RATE, 360)}


def alerts(**filters) -> set[tuple[str, int]]:
    return {
        (alert.metric, alert.monitor.window_minutes)
        for alert in Alert.objects.filter(**filters).select_related("monitor")
    }


def alert(metric: str, window: int, **filters) -> Alert:
    return Alert.objects.get(metric=metric, monitor__window_minutes=window, **filters)


@pytest.fixture
def steady():
    """A client with six weeks of baseline around T (30 runs an hour, 90 % success) and
    the current week normal until an hour before T."""
    client = ClientFactory(slug="steady-co")
    seed_weeks(client, T, before=7 * H, after=5 * H)
    seed(client, T - 7 * H, T - H)
    return client


def test_a_drift_in_success_opens_its_alerts_once_with_what_was_seen(steady):
    # A new version deployed an hour ago succeeds 30 % of the time.
    seed(steady, T - H, T, success_rate=0.3, workflow_version="v2.0")
    run(T)
    # The six-hour windows hold 36 failures in 180 runs against 108 in 1,080: p = 2e-4,
    # not proof at 1e-5 (RATE_P_VALUE); the hourly ones say it (p = 1e-11).
    assert alerts() == HOURLY
    hourly = alert(Metric.SUCCESS_RATE, 60)
    assert hourly.environment == "production"
    assert hourly.state == AlertState.OPEN
    assert (hourly.window_start, hourly.window_end) == (T - H, T)
    assert hourly.value == pytest.approx(0.3)
    assert hourly.sample_size == 30
    assert hourly.baseline_median == pytest.approx(0.9)
    # spread floored at the binomial standard error sqrt(0.9 x 0.1 / 30) = 0.0548
    assert hourly.baseline_low == pytest.approx(0.9 - 3 * 0.05477, abs=1e-4)
    assert hourly.p_value < 1e-10
    assert hourly.detail["baseline_weeks"] == [1, 2, 3, 4, 5, 6]

    events = AlertEvent.objects.count()
    assert "0 opened" in run(T)  # the same moment again: nothing new
    assert AlertEvent.objects.count() == events == 2


def test_a_longer_or_deeper_drift_opens_the_six_hour_window_too(steady):
    seed(steady, T - H, T, success_rate=0.0)  # every run of the last hour fails
    run(T)
    assert alerts() == SUCCESS_AND_ERROR
    six_hours = alert(Metric.SUCCESS_RATE, 360)
    assert six_hours.value == pytest.approx(5 * 27 / 180)
    assert six_hours.p_value < 1e-5


def test_a_recovery_resolves_the_short_window_first_then_the_long_one(steady):
    seed(steady, T - H, T, success_rate=0.0)
    seed(steady, T, T + 6 * H)  # back to 90 %
    run(T)
    run(T + 30 * M)  # half the hour still drifting: stays open, latest value kept
    hourly = alert(Metric.SUCCESS_RATE, 60)
    assert hourly.state == AlertState.OPEN
    assert hourly.last_value == pytest.approx(13 / 30)  # 0 of 15, then 13 of 15
    assert hourly.last_evaluated_at == T + 30 * M

    run(T + 2 * H)
    hourly.refresh_from_db()
    assert hourly.state == AlertState.RESOLVED
    assert hourly.resolved_at == T + 2 * H and hourly.resolved_by is None
    assert hourly.events.filter(kind="resolved").count() == 1
    # The six-hour window still holds the bad hour.
    assert alert(Metric.SUCCESS_RATE, 360).state == AlertState.OPEN

    run(T + 6 * H)  # the bad hour has left the six-hour window
    assert alerts(state=AlertState.RESOLVED) == SUCCESS_AND_ERROR
    assert not alerts(state=AlertState.OPEN)


def test_hysteresis_a_value_between_the_bands_keeps_the_alert_open(steady):
    seed(steady, T - H, T, success_rate=0.3)
    # 80 %: inside the full band (low 0.736) but outside the half band (low 0.818).
    seed(steady, T, T + H, success_rate=0.8)
    run(T)
    run(T + H)
    assert alert(Metric.SUCCESS_RATE, 60).state == AlertState.OPEN


def test_cool_down_holds_a_new_alert_back_after_a_resolve(steady):
    seed(steady, T - H, T, success_rate=0.3)
    seed(steady, T, T + 2 * H)
    seed(steady, T + 2 * H, T + 4 * H, success_rate=0.3)
    run(T)
    run(T + 2 * H)  # resolved at T + 2h; cool-down 60 minutes
    run(T + 2 * H + 50 * M)  # drifting again, but cooling down
    assert Alert.objects.filter(metric=Metric.SUCCESS_RATE, monitor__window_minutes=60).count() == 1
    run(T + 3 * H + 5 * M)
    hourly = Alert.objects.filter(metric=Metric.SUCCESS_RATE, monitor__window_minutes=60)
    assert [a.state for a in hourly.order_by("opened_at")] == ["resolved", "open"]


def test_a_silence_opens_an_alert_naming_the_last_log(steady):
    # The current week's logs stop three hours before T (steady's last hour is not seeded
    # here); logs after T exist but an evaluation as of T does not see them.
    client = ClientFactory(slug="quiet-co")
    seed_weeks(client, T, before=7 * H, after=3 * H)
    last = seed_until = T - 3 * H
    seed(client, T - 7 * H, seed_until)
    seed(client, T + H, T + 2 * H)
    run(T)
    silence = Alert.objects.get(client=client, metric=Metric.SILENCE)
    last_log = last - dt.timedelta(minutes=2)  # 30 an hour: every 2 minutes
    assert silence.detail["last_log_at"] == last_log.isoformat()
    assert silence.window_start == last_log
    assert silence.baseline_median == pytest.approx(91, abs=1)  # 3h 2m at 30 an hour
    assert silence.p_value < 1e-30
    # Logs come again: the silence resolves.
    run(T + 2 * H)
    silence.refresh_from_db()
    assert silence.state == AlertState.RESOLVED


def test_silence_waits_longer_for_a_client_that_sends_hourly():
    client = ClientFactory(slug="hourly-co")
    seed_weeks(client, T, before=12 * H, after=16 * H, per_hour=1)
    seed(client, T - 12 * H, T - 3 * H, per_hour=1)
    run(T)  # 3 hours without a log: 3 expected, P(none) = 0.05, ordinary
    run(T + 5 * H)  # 8 hours: 8 expected, P(none) = 0.0003, not yet proof at 1e-6
    assert not Alert.objects.filter(metric=Metric.SILENCE).exists()
    run(T + 12 * H)  # 15 hours: 15 expected, P(none) = 3e-7
    assert Alert.objects.filter(metric=Metric.SILENCE, state=AlertState.OPEN).count() == 1
    # Volume never alerts on so few runs (baseline below 10 an hour).
    assert not Alert.objects.filter(metric=Metric.VOLUME).exists()


def test_a_new_client_with_one_week_of_data_opens_nothing():
    client = ClientFactory(slug="new-co")
    seed_weeks(client, T, before=7 * H, after=3 * H, weeks=range(1, 2))
    seed(client, T - 7 * H, T - H)
    seed(client, T - H, T, success_rate=0.3)
    output = run(T)
    assert not Alert.objects.exists()
    assert "no baseline yet" in output


def test_a_steady_client_with_noise_never_alerts_over_a_day_of_evaluations():
    client = ClientFactory(slug="noisy-co")
    rng = random.Random(4)
    seed_weeks(client, T, before=7 * H, after=7 * H, rng=rng)
    seed(client, T - 7 * H, T + 7 * H, rng=rng)
    monitors_ensure_defaults()
    for step in range(0, 7 * 60, 20):  # every 20 minutes for 7 hours
        summary = monitors_evaluate(now=T + dt.timedelta(minutes=step))
        # Every monitor was judged against a baseline, none skipped for want of one.
        assert summary.evaluated == 15 and not summary.skipped, summary.line()
    assert not Alert.objects.exists()


def test_a_disabled_monitor_never_opens_and_a_muted_one_does(steady):
    seed(steady, T - H, T, success_rate=0.0)
    monitors_ensure_defaults()
    Monitor.objects.filter(metric=Metric.SUCCESS_RATE, window_minutes=60).update(enabled=False)
    Monitor.objects.filter(metric=Metric.ERROR_RATE, window_minutes=60).update(
        muted_until=T + 24 * H
    )
    run(T)
    assert alerts() == SUCCESS_AND_ERROR - {(Metric.SUCCESS_RATE, 60)}


def test_environments_are_judged_separately(steady):
    seed_weeks(steady, T, before=7 * H, after=H, environment="staging")
    seed(steady, T - 7 * H, T - H, environment="staging", success_rate=0.3)
    seed(steady, T - H, T, environment="staging", success_rate=0.3)
    seed(steady, T - H, T)  # production stays normal
    run(T)
    assert {a.environment for a in Alert.objects.all()} == {"staging"}
    assert alerts(environment="staging") == SUCCESS_AND_ERROR


def test_a_monitor_set_to_one_environment_watches_only_that_one(steady):
    seed_weeks(steady, T, before=7 * H, after=H, environment="staging")
    seed(steady, T - 7 * H, T, environment="staging", success_rate=0.3)
    seed(steady, T - H, T, success_rate=0.3)
    MonitorFactory(client=steady, metric=Metric.SUCCESS_RATE, environment="production")
    monitors_ensure_defaults()
    Monitor.objects.filter(is_default=True).update(enabled=False)
    run(T)
    assert set(Alert.objects.values_list("environment", flat=True)) == {"production"}


def test_a_threshold_monitor_opens_and_resolves_without_a_baseline():
    client = ClientFactory(slug="contract-co")
    monitor = MonitorFactory(
        client=client,
        kind=MonitorKind.THRESHOLD,
        metric=Metric.SUCCESS_RATE,
        comparison=Comparison.BELOW,
        threshold=0.95,
    )
    seed(client, T - H, T)  # 90 % < 95 %
    seed(client, T, T + H, success_rate=0.96)  # above 95 % but within the 5 % margin
    seed(client, T + H, T + 2 * H, success_rate=1.0)
    run(T)
    found = Alert.objects.get(monitor=monitor)
    assert (found.environment, found.value, found.detail["threshold"]) == ("", 0.9, 0.95)
    run(T + H)
    found.refresh_from_db()
    assert found.state == AlertState.OPEN
    run(T + 2 * H)
    found.refresh_from_db()
    assert found.state == AlertState.RESOLVED


def test_a_threshold_monitor_waits_for_min_samples():
    client = ClientFactory(slug="small-co")
    MonitorFactory(
        client=client,
        kind=MonitorKind.THRESHOLD,
        metric=Metric.ESCALATION_RATE,
        comparison=Comparison.ABOVE,
        threshold=0.0,
        min_samples=50,
    )
    seed(client, T - H, T, success_rate=0.0)  # 30 runs only
    assert "few samples" in run(T)
    assert not Alert.objects.exists()


def test_default_monitors_are_made_once_and_an_owners_tuning_stays():
    client = ClientFactory()
    ClientFactory(slug="gone-co", is_active=False)
    assert monitors_ensure_defaults() == 15
    Monitor.objects.filter(metric=Metric.VOLUME, window_minutes=60).update(
        sensitivity=5.0, enabled=False
    )
    assert monitors_ensure_defaults() == 0
    run(T)
    assert Monitor.objects.filter(client=client).count() == 15
    assert not Monitor.objects.filter(client__slug="gone-co").exists()
    tuned = Monitor.objects.get(metric=Metric.VOLUME, window_minutes=60)
    assert (tuned.sensitivity, tuned.enabled) == (5.0, False)


def test_a_threshold_silence_monitor_watches_a_client_of_a_few_days():
    client = ClientFactory(slug="fresh-co")
    monitor = MonitorFactory(
        client=client,
        kind=MonitorKind.THRESHOLD,
        metric=Metric.SILENCE,
        comparison=Comparison.ABOVE,
        threshold=120,  # minutes
    )
    seed(client, T - 3 * 24 * H, T - 10 * H, per_hour=2)
    run(T)
    found = Alert.objects.get(monitor=monitor)
    assert found.value == pytest.approx(10 * 60 + 30)  # the last log came at T - 10h30
    assert found.window_start == T - 10 * H - 30 * M


def test_a_client_that_never_sends_at_night_is_not_silent_at_night():
    client = ClientFactory(slug="office-hours-co")
    wednesday_8 = T - 7 * H  # T is a Wednesday, 15:00 UTC
    for week in range(7):
        back = week * 7 * 24 * H
        if week:  # the baseline weeks also worked on Thursday morning
            seed(client, wednesday_8 + 24 * H - back, wednesday_8 + 28 * H - back, per_hour=10)
        seed(client, wednesday_8 - back, wednesday_8 + 10 * H - back, per_hour=10)
    run(T + 8 * H)  # Wednesday 23:00, five hours after the last log: normal
    assert not Alert.objects.filter(metric=Metric.SILENCE).exists()
    run(T + 19 * H)  # Thursday 10:00: two working hours without a log
    silence = Alert.objects.get(metric=Metric.SILENCE)
    # 20 on Thursday morning, and 1 for Wednesday 17:54-18:00 (a tenth of that hour's 10)
    assert silence.baseline_median == pytest.approx(21)


def _only(*metrics: str) -> None:
    """The default monitors, with all but ``metrics`` turned off."""
    monitors_ensure_defaults()
    Monitor.objects.exclude(metric__in=metrics).update(enabled=False)


def test_a_steady_client_with_rare_random_errors_opens_no_rate_alert_over_two_days():
    # 1 % of runs fail at random, 100 runs an hour, the same in every week: a few errors
    # in an hour against a baseline hour of none is luck, re-tested at every evaluation.
    # (The z-test at p < 0.01 opened error and success rate alerts here.)
    client = ClientFactory(slug="rare-errors-co")
    rng = random.Random(11)
    options = {"per_hour": 100, "rng": rng, "success_rate": 0.99}
    seed_weeks(client, T, before=8 * H, after=38 * H, **options)
    seed(client, T - 8 * H, T + 38 * H, **options)
    _only(Metric.SUCCESS_RATE, Metric.ERROR_RATE)
    for step in range(0, 36 * 60, 10):  # every 10 minutes for 36 hours
        summary = monitors_evaluate(now=T + dt.timedelta(minutes=step))
        assert summary.evaluated == 4 and not summary.skipped, summary.line()
    assert not Alert.objects.exists()


def test_a_busy_client_with_random_arrivals_is_never_silent_but_an_outage_is():
    # 100 logs an hour at random (Poisson): its longest gap in a day is 4 to 6 minutes,
    # where P(none) = exp(-expected) falls below 0.001 (the old rule opened on it). This
    # seed's day has a 6.3-minute lull (10.5 expected), as one day in five does.
    client = ClientFactory(slug="poisson-co")
    rng = random.Random(8)
    for week in range(1, 7):
        seed_poisson(
            client, T - week * WEEK - 26 * H, T - week * WEEK + 3 * H, per_hour=100, rng=rng
        )
    moments = seed_poisson(client, T - 24 * H, T, per_hour=100, rng=rng)
    _only(Metric.SILENCE)
    gaps = sorted(itertools.pairwise(moments), key=lambda pair: pair[0] - pair[1])[:8]
    assert gaps[0][1] - gaps[0][0] > 6 * M  # the day does hold such a lull
    for _, following in gaps:  # the end of each of the day's 8 longest gaps
        monitors_evaluate(now=following - dt.timedelta(seconds=1))
    assert not Alert.objects.exists()
    # Then nothing for two hours (the logs stop at T): an outage, and it opens.
    monitors_evaluate(now=T + 2 * H)
    silence = Alert.objects.get(metric=Metric.SILENCE)
    assert silence.window_start == moments[-1]
    assert silence.baseline_median == pytest.approx(200, rel=0.15)


def test_a_short_lull_of_a_busy_client_is_not_a_silence():
    # 100 an hour, evenly, then 10 minutes without: 16.7 expected, P(none) = 6e-8, below
    # 1e-6, but a gap under 15 minutes (SILENCE_MIN_MINUTES) is never a silence.
    client = ClientFactory(slug="lull-co")
    seed_weeks(client, T, before=7 * H, after=2 * H, per_hour=100)
    seed(client, T - 7 * H, T - 10 * M, per_hour=100)
    _only(Metric.SILENCE)
    monitors_evaluate(now=T)
    assert not Alert.objects.exists()
    monitors_evaluate(now=T + 6 * M)  # 16 minutes: 26.7 expected
    assert Alert.objects.filter(metric=Metric.SILENCE).count() == 1


def test_a_rate_threshold_near_one_resolves_when_the_rate_comes_back():
    # "Success below 0.97": 5 % of 0.97 above it is 1.0185, which no rate reaches; a rate
    # resolves half a percentage point past its threshold (0.975).
    client = ClientFactory(slug="strict-co")
    monitor = MonitorFactory(
        client=client,
        kind=MonitorKind.THRESHOLD,
        metric=Metric.SUCCESS_RATE,
        comparison=Comparison.BELOW,
        threshold=0.97,
    )
    seed(client, T - H, T, per_hour=100, success_rate=0.9)
    seed(client, T, T + H, per_hour=200, success_rate=0.975)
    run(T)
    run(T + H)
    found = Alert.objects.get(monitor=monitor)
    assert found.state == AlertState.RESOLVED and found.last_value == pytest.approx(0.975)


def test_one_broken_monitor_is_logged_and_skipped_and_every_other_one_is_judged(caplog):
    # Rows out of bounds (written past the validators) or judging that fails outright: the
    # other clients are still watched. (A cool-down of 2**31 minutes overflowed everyone.)
    broken, fine = ClientFactory(slug="broken-co"), ClientFactory(slug="fine-co")
    volume_below = {
        "kind": MonitorKind.THRESHOLD,
        "metric": Metric.VOLUME,
        "comparison": Comparison.BELOW,
        "threshold": 5,
    }
    cooldown = MonitorFactory(client=broken, **volume_below)
    window = MonitorFactory(client=broken, **volume_below)
    unknown = MonitorFactory(client=broken, **volume_below)
    Monitor.objects.filter(pk=cooldown.pk).update(cooldown_minutes=2147483647)
    Monitor.objects.filter(pk=window.pk).update(window_minutes=2000000000)
    Monitor.objects.filter(pk=unknown.pk).update(metric="no_such_metric")
    watched = MonitorFactory(client=fine, **volume_below)
    seed(fine, T - 3 * H, T - 2 * H)  # an environment, and nothing in the last hour
    seed(broken, T - 3 * H, T - 2 * H)
    output = run(T)
    assert "failed 1" in output and "misconfigured 2" in output
    assert list(Alert.objects.values_list("monitor", flat=True)) == [watched.pk]
    assert f"monitor {cooldown.pk} (client {broken.pk}) is not judged: cooldown" in caplog.text
    assert f"monitor {window.pk} (client {broken.pk}) is not judged: window" in caplog.text
    assert f"judging monitor {unknown.pk} (client {broken.pk}" in caplog.text
