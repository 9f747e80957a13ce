"""The client dashboard's figures from verdicts (what the client's staff judged of runs),
read from the verdict counts (``dashboard.reviews.readmodel``), never from the verdicts
or logs themselves beyond a window's sub-hour edges.

The figures sit beside the workflow's own: the share of reviewed runs judged correct with
its 95 % Wilson interval, successes judged incorrect, needless escalations, and the
calibration of the workflow's confidence against the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.models import Client, LogStatus
from collector.readmodel.facts import CALIBRATION_BUCKETS
from dashboard.monitors.statistics_compare import wilson_interval
from dashboard.reviews.models import VerdictKind
from dashboard.reviews.readmodel import verdict_totals
from dashboard.selectors.stats import DashboardFilters, _scope

# Fewest reviewed runs before the judged-correct share is shown: at 20 its 95 % interval
# is at most about ±0.2 wide (p = 0.5), below that it says little; the page says "not
# enough reviews" instead.
MIN_REVIEWS = 20
# Fewest reviewed runs with a confidence before the calibration chart against verdicts
# is drawn (spread over ten buckets, fewer leaves most bars empty or from one or two runs).
MIN_CALIBRATION_REVIEWS = 50


@dataclass(frozen=True)
class VerdictCalibrationBucket:
    low: float
    high: float
    reviewed: int
    correct: int

    @property
    def label(self) -> str:
        return f"{self.low:.1f}-{self.high:.1f}"

    @property
    def correct_rate(self) -> float | None:
        return self.correct / self.reviewed if self.reviewed else None


@dataclass(frozen=True)
class VerdictFigures:
    """Verdicts on the runs of the dashboard's window (and environment and version)."""

    reviewed: int
    judged_correct: int
    # The share judged correct and its 95 % Wilson interval (None without reviews).
    share: float | None
    low: float | None
    high: float | None
    successes_reviewed: int
    successes_incorrect: int
    escalations_reviewed: int
    needless_escalations: int
    calibration: list[VerdictCalibrationBucket]
    min_reviews: int = MIN_REVIEWS
    min_calibration_reviews: int = MIN_CALIBRATION_REVIEWS

    @property
    def enough(self) -> bool:
        """Whether there are enough reviews to show the judged-correct share."""
        return self.reviewed >= self.min_reviews

    @property
    def calibration_reviewed(self) -> int:
        return sum(bucket.reviewed for bucket in self.calibration)

    @property
    def enough_for_calibration(self) -> bool:
        return self.calibration_reviewed >= self.min_calibration_reviews


def client_verdict_figures(*, client: Client, filters: DashboardFilters) -> VerdictFigures:
    """The verdict figures of the client's runs in the filters' window: one query of the
    verdict counts and one read of the window's sub-hour edges."""
    (counts,) = verdict_totals(_scope(client=client, filters=filters), [filters.window.span])
    estimate = wilson_interval(counts.judged_correct, counts.reviewed)
    return VerdictFigures(
        reviewed=counts.reviewed,
        judged_correct=counts.judged_correct,
        share=estimate.value,
        low=estimate.low,
        high=estimate.high,
        successes_reviewed=counts.count(status=LogStatus.SUCCESS),
        successes_incorrect=counts.count(status=LogStatus.SUCCESS, kind=VerdictKind.INCORRECT),
        escalations_reviewed=counts.count(status=LogStatus.ESCALATED),
        needless_escalations=counts.count(
            status=LogStatus.ESCALATED, kind=VerdictKind.ESCALATED_NEEDLESSLY
        ),
        calibration=[
            VerdictCalibrationBucket(
                low=i / CALIBRATION_BUCKETS,
                high=(i + 1) / CALIBRATION_BUCKETS,
                reviewed=reviewed,
                correct=correct,
            )
            for i, (reviewed, correct) in enumerate(counts.calibration())
        ],
    )
