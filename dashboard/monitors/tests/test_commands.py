"""manage.py monitors_run: once, replaying a moment, bad input, and the loop."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone as real_timezone

from collector.tests.factories import ClientFactory
from dashboard.monitors.management.commands import monitors_run
from dashboard.monitors.models import Alert, Monitor
from dashboard.monitors.tests.series import T, run, seed, seed_weeks

pytestmark = pytest.mark.django_db
H = dt.timedelta(hours=1)


def test_one_run_creates_defaults_evaluates_and_prints_a_summary():
    ClientFactory()
    output = run(T)
    assert output.startswith("monitors_run 2026-11-18T15:00:00Z: 15 default monitors created; ")
    assert "15 checks" not in output  # a client without logs has no environment to judge
    assert "0 opened" in output and "0 sent" in output
    assert Monitor.objects.count() == 15


def test_now_without_offset_is_utc_and_with_offset_is_converted():
    out = StringIO()
    call_command("monitors_run", "--now", "2026-11-18T16:00:00+01:00", stdout=out)
    assert out.getvalue().startswith("monitors_run 2026-11-18T15:00:00Z")
    out = StringIO()
    call_command("monitors_run", "--now", "2026-11-18 15:00", stdout=out)
    assert out.getvalue().startswith("monitors_run 2026-11-18T15:00:00Z")


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T00:00", ""])
def test_a_bad_now_is_a_clear_command_error(bad):
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("monitors_run", "--now", bad or " ")


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        (real_timezone.now() + dt.timedelta(hours=1), "in the future"),
        (dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC), "in the future"),
        (dt.datetime(1, 1, 1, tzinfo=dt.UTC), "before 2000-01-01"),
        (dt.datetime(1999, 12, 31, 23, 59, tzinfo=dt.UTC), "before 2000-01-01"),
    ],
)
def test_now_in_the_future_or_before_2000_is_refused(moment, message):
    # A future --now opened alerts dated ahead of every live run, which then skipped them
    # and could open none of their own; year 1 and 9999 ended in an OverflowError.
    client = ClientFactory()
    seed(client, T - H, T)
    with pytest.raises(CommandError, match=message):
        call_command("monitors_run", "--now", moment.isoformat(), stdout=StringIO())
    assert not Monitor.objects.exists() and not Alert.objects.exists()


def test_now_a_minute_ahead_is_allowed_for_clocks_that_disagree():
    out = StringIO()
    ahead = real_timezone.now() + dt.timedelta(minutes=1)
    call_command("monitors_run", "--now", ahead.isoformat(), stdout=out)
    assert out.getvalue().startswith(f"monitors_run {ahead:%Y-%m-%dT%H:%M}")


def test_now_and_loop_together_and_a_bad_interval_are_refused():
    with pytest.raises(CommandError, match="do not go together"):
        call_command("monitors_run", "--now", T.isoformat(), "--loop")
    with pytest.raises(CommandError, match="positive"):
        call_command("monitors_run", "--loop", "--interval", "0")


class _Clock:
    """Time for the loop: the first round's clock fails (a failing iteration), the later
    ones read T; the third sleep is the operator's Ctrl-C."""

    def __init__(self):
        self.calls = 0
        self.sleeps: list[float] = []

    def now(self):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("clock unavailable")
        return T

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) == 3:
            raise KeyboardInterrupt


def test_the_loop_survives_a_failing_round_and_stops_cleanly_on_ctrl_c(monkeypatch, caplog):
    client = ClientFactory()
    seed_weeks(client, T, before=2 * H, after=H)
    seed(client, T - 2 * H, T - H)
    seed(client, T - H, T, success_rate=0.0)
    clock = _Clock()
    monkeypatch.setattr(monitors_run, "timezone", type("tz", (), {"now": clock.now}))
    monkeypatch.setattr(monitors_run.time, "sleep", clock.sleep)
    out, err = StringIO(), StringIO()
    call_command("monitors_run", "--loop", "--interval", "5", stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert "evaluation failed" in err.getvalue()
    assert "this evaluation failed" in caplog.text
    # Rounds two and three ran; the second opened the alerts, the third nothing new.
    assert len([line for line in lines if line.startswith("monitors_run 2026")]) == 2
    assert "4 opened" in lines[0] and "0 opened" in lines[1]
    assert lines[-1] == "monitors_run: stopped."
    assert Alert.objects.count() == 4
    assert all(0 <= seconds <= 5 for seconds in clock.sleeps)
    assert real_timezone.now() > T  # the real clock was left alone


def test_on_the_demo_data_monitors_run_opens_the_drift_and_the_silence():
    from dashboard.demo import demo_seed

    # A Monday at 03:00 UTC: the hardest moment for the silence (its gap then spans a
    # quiet weekend); the drift is at the same time of the week in every week.
    now = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
    demo_seed(now=now)
    out = StringIO()
    call_command("monitors_run", "--now", now.isoformat(), stdout=out)
    found = set(Alert.objects.values_list("client__slug", "metric", "environment"))
    assert ("aurora-home", "success_rate", "production") in found
    assert ("brightline", "silence", "production") in found
    silence = Alert.objects.get(client__slug="brightline", metric="silence")
    assert now - dt.datetime.fromisoformat(silence.detail["last_log_at"]) > dt.timedelta(days=3)
