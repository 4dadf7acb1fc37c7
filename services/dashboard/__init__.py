"""Oversight dashboard queries: every figure is an aggregate computed by the database.

Python only walks the *aggregated* rows (one per stage × bucket, never one per activity or
transition), except for the percentile fallback on SQLite, which reads one float per stay.

Where an activity starts: its first transition when that transition has no `from_stage` (a
recorded creation), otherwise `activities.created_at` in the stage that first transition left
(or its current stage when it never moved). The same rule feeds the cumulative flow, the time in
the first stage and the cycle times, so the figures agree with each other.

Dates are UTC calendar dates; a date range `[start, end]` is inclusive of both days.

One module per view (summary, due, upcoming, stage_times, flow, throughput) on the shared filter
and range (filters), SQL helpers (sql) and the kept histograms' quantiles (histograms); this
package exports what its callers import.
"""

from services.dashboard.due import DueItemRead, DueListRead, due_soon, overdue
from services.dashboard.filters import (
    ALL_STAGES,
    MAX_BUCKETS,
    MAX_LIST,
    STAGE_ORDER,
    DashboardFilter,
    Interval,
    buckets,
    snap_range,
    start_of,
    utc_today,
)
from services.dashboard.flow import CumulativeFlowRead, FlowPointRead, cumulative_flow
from services.dashboard.histograms import period_parts, stage_histograms
from services.dashboard.sql import kept_keys, keyed, percentile
from services.dashboard.stage_times import (
    DistributionRead,
    StageTimesRead,
    stage_times,
    time_in_stage_durations,
)
from services.dashboard.summary import SummaryCellRead, SummaryRead, summary
from services.dashboard.throughput import ThroughputPointRead, ThroughputRead, throughput
from services.dashboard.upcoming import UpcomingItemRead, UpcomingKind, upcoming

__all__ = [
    "ALL_STAGES",
    "MAX_BUCKETS",
    "MAX_LIST",
    "STAGE_ORDER",
    "CumulativeFlowRead",
    "DashboardFilter",
    "DistributionRead",
    "DueItemRead",
    "DueListRead",
    "FlowPointRead",
    "Interval",
    "StageTimesRead",
    "SummaryRead",
    "SummaryCellRead",
    "ThroughputRead",
    "ThroughputPointRead",
    "UpcomingItemRead",
    "UpcomingKind",
    "buckets",
    "cumulative_flow",
    "due_soon",
    "kept_keys",
    "keyed",
    "overdue",
    "percentile",
    "period_parts",
    "snap_range",
    "stage_histograms",
    "stage_times",
    "start_of",
    "summary",
    "throughput",
    "time_in_stage_durations",
    "upcoming",
    "utc_today",
]
