"""Reference and demo data from services/data/*.yaml, the product's own transcription of the sources.

Both loaders are idempotent, so `synergies seed` and `synergies demo load` can run at every start.
The demo history is written only through `record_transition`, the one write path of stage changes,
after `check_transition` has accepted each move: the demo never shows a move the API would refuse.

Dates are facts: everything is loaded at its real date, in every mode (issue 12). Every demo fact
and every meeting's dates carry their provenance (issue 18): `source` names the document and
paragraph, `illustrative: true` marks what was made up to show the product working (both: made-up
details of something a paragraph describes). Its label is stored in the rows' `source` column.

The package by job: `schema` (the records of the data files, parsed and checked once), `reference`
(the reference loader) and `demo` (the demo loader). Callers import from here.
"""

from services.seed.demo import MISDATED_HINT, DemoResult, load_demo_data
from services.seed.reference import load_reference_data
from services.seed.schema import (
    ActionData,
    ActivityData,
    BodyData,
    ConventionData,
    DecisionData,
    DemoData,
    DocumentData,
    MeetingData,
    MoveData,
    PersonData,
    PilotData,
    ProvisionData,
    ReferenceData,
    SeedDataError,
    SourceRef,
    TaskTeamData,
    demo_data,
    reference_data,
    source_label,
)

__all__ = [
    "MISDATED_HINT",
    "ActionData",
    "ActivityData",
    "BodyData",
    "ConventionData",
    "DecisionData",
    "DemoData",
    "DemoResult",
    "DocumentData",
    "MeetingData",
    "MoveData",
    "PersonData",
    "PilotData",
    "ProvisionData",
    "ReferenceData",
    "SeedDataError",
    "SourceRef",
    "TaskTeamData",
    "demo_data",
    "load_demo_data",
    "load_reference_data",
    "reference_data",
    "source_label",
]
