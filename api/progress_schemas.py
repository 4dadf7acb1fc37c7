"""Request bodies of an activity's progress records (action entries, pilot projects), shared by
their routers (api/routes/actions.py, pilot_projects.py) and the web app's forms (api/web/pages/activity.py),
so a form accepts exactly what the API accepts."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import ConfigDict, Field

from api.examples import examples
from api.schemas import LongText, NameText, NotNull, WriteModel
from models import ActionKind
from models.countries import CountryCode


class ActionEntryCreate(WriteModel):
    model_config = ConfigDict(json_schema_extra=examples("ActionEntryCreate"))

    kind: ActionKind
    on_date: date
    text: LongText = Field(min_length=1)
    provision_id: int | None = None


class ActionEntryUpdate(WriteModel):
    model_config = ConfigDict(json_schema_extra=examples("ActionEntryUpdate"))

    kind: Annotated[ActionKind | None, NotNull] = None
    on_date: Annotated[date | None, NotNull] = None
    text: Annotated[LongText | None, NotNull] = Field(None, min_length=1)
    provision_id: int | None = None


class PilotProjectCreate(WriteModel):
    model_config = ConfigDict(json_schema_extra=examples("PilotProjectCreate"))

    title: str = Field(min_length=1, max_length=300)
    region: str | None = Field(None, max_length=100)
    countries: list[CountryCode] = Field(
        default_factory=list, description="ISO 3166-1 codes or names; stored and shown as alpha-2 codes"
    )
    partners: list[NameText] = Field(default_factory=list)
    starts_on: date | None = None
    ends_on: date | None = None
    lessons_learned: LongText | None = None


class PilotProjectUpdate(WriteModel):
    model_config = ConfigDict(json_schema_extra=examples("PilotProjectUpdate"))

    title: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=300)
    region: str | None = Field(None, max_length=100)
    countries: Annotated[list[CountryCode] | None, NotNull] = Field(
        None, description="ISO 3166-1 codes or names; stored and shown as alpha-2 codes"
    )
    partners: Annotated[list[NameText] | None, NotNull] = None
    starts_on: date | None = None
    ends_on: date | None = None
    lessons_learned: LongText | None = None
