"""Custom search attributes, so that `temporal workflow list --query "Stage='task_team'"` works.

Register them on a server with `synergies temporal setup` (or `--search-attribute` on start-dev).
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("Stage")
CONVENTIONS = SearchAttributeKey.for_keyword_list("Conventions")
THEMATIC_GROUP = SearchAttributeKey.for_keyword("ThematicGroup")
STAGE_DUE_ON = SearchAttributeKey.for_datetime("StageDueOn")

SEARCH_ATTRIBUTE_KEYS = (STAGE, CONVENTIONS, THEMATIC_GROUP, STAGE_DUE_ON)


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList", "DATETIME": "Datetime"}
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTE_KEYS:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
