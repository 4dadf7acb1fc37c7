"""The oversight team's views: mandate coverage, COP readiness, overdue and due soon, cycle time,
throughput, cumulative flow, recent transitions, and the activity list every count drills into.

Every view takes the same `OversightFilter`, which picks a set of activities (convention, thematic
group, lead, target meeting, current stage); each view describes that set. Views of a moment
(coverage, readiness, due) are as of a day (`as_of`, today by default); views of a period (cycle
time, throughput, flow, transitions) cover a `Period` of whole UTC days. Every figure is an
aggregate computed by the database; lists are paginated (`PageRequest`), never thousands of rows.

Each view returns its response schema, and `table()` gives the same rows as columns and cells,
which the CSV and XLSX exports write: the files hold what the JSON holds.

"Stalled" means overdue at its stage: an open activity whose stage due date is before `as_of`.
A provision is flagged `none` when it is active and no activity in the filter answers it (withdrawn
ones do not count), and `all_stalled` when activities answer it, none is closed yet, and every open
one is stalled.

One module per view on the shared filter, period, page and export table (filters); this
package exports what its callers import.
"""

from services.oversight.activities import ActivityListView, ActivityRow, Drill, Pending, activity_list
from services.oversight.coverage import (
    CoverageFlag,
    CoverageFlags,
    CoverageView,
    FlaggedProvision,
    ProvisionCoverage,
    coverage,
    coverage_flags,
)
from services.oversight.cycle_time import (
    CYCLE_FRACTIONS,
    CycleTimeView,
    StageCycleTime,
    cycle_time,
    stay_quantiles,
)
from services.oversight.due import (
    DUE_BUCKET_LABELS,
    DueBucket,
    DueBucketCount,
    DueItem,
    DueView,
    due,
    due_counts,
)
from services.oversight.filters import (
    DEFAULT_PERIOD_WEEKS,
    DUE_SOON_DAYS,
    ESCALATIONS,
    LEAD_REMINDERS,
    MAX_PER_PAGE,
    STAGES_BEFORE_REPORT,
    Cell,
    Column,
    OversightFilter,
    PageRequest,
    Period,
    Reader,
    Table,
)
from services.oversight.flow import FlowPoint, FlowView, cumulative_flow
from services.oversight.readiness import MeetingReadiness, ReadinessView, cop_readiness
from services.oversight.throughput import ThroughputView, ThroughputWeek, throughput
from services.oversight.transitions import TransitionItem, TransitionsView, recent_transitions

__all__ = [
    "ActivityListView",
    "ActivityRow",
    "CYCLE_FRACTIONS",
    "Cell",
    "Column",
    "CoverageFlag",
    "CoverageFlags",
    "CoverageView",
    "FlaggedProvision",
    "CycleTimeView",
    "DEFAULT_PERIOD_WEEKS",
    "DUE_BUCKET_LABELS",
    "DUE_SOON_DAYS",
    "Drill",
    "DueBucket",
    "DueBucketCount",
    "DueItem",
    "DueView",
    "ESCALATIONS",
    "FlowPoint",
    "FlowView",
    "LEAD_REMINDERS",
    "MAX_PER_PAGE",
    "MeetingReadiness",
    "OversightFilter",
    "PageRequest",
    "Pending",
    "Period",
    "ProvisionCoverage",
    "Reader",
    "ReadinessView",
    "STAGES_BEFORE_REPORT",
    "StageCycleTime",
    "Table",
    "ThroughputView",
    "ThroughputWeek",
    "TransitionItem",
    "TransitionsView",
    "activity_list",
    "cop_readiness",
    "coverage",
    "coverage_flags",
    "cumulative_flow",
    "cycle_time",
    "due",
    "due_counts",
    "recent_transitions",
    "stay_quantiles",
    "throughput",
]
