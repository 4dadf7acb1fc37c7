"""The OpenAPI document as integrators read it: a stable operationId per route (the handler's
name), and every error a route can answer documented as `application/problem+json` with one
Problem schema (core/errors.py writes those bodies)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from api.problems import PROBLEM_JSON

WRITE_METHODS = {"post", "put", "patch", "delete"}


class Problem(BaseModel):
    """An RFC 9457 problem: branch on `code`; some problems add fields (e.g. `errors` on 422,
    `current_version` and `current_etag` on a stale version)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(examples=["/problems/stale_version"])
    title: str = Field(examples=["Conflict"])
    status: int = Field(examples=[409])
    detail: str = Field(examples=["the activity is at version 4, not 3; fetch it again"])
    code: str = Field(examples=["stale_version"])
    instance: str | None = Field(None, examples=["/activities/1/transitions"])


ERRORS = {
    "400": "A malformed request (e.g. an invalid cursor), or one the database rejected",
    "401": "No valid credentials (send `Authorization: Bearer <token>`)",
    "403": "Your role may not do this",
    "404": "A record named in the request (path, query or body) does not exist",
    "409": "Conflicts with the current state (a stale `expected_version`, a duplicate, a refused move)",
    "412": "`If-Match` names a version that is no longer current",
    "422": "The request is invalid (the problem's `errors` list each field), or a stage guard refused",
    "429": "Too many requests; wait for `Retry-After` seconds",
    "503": "The database or the workflow engine is unreachable; nothing was changed (see `Retry-After`)",
}


def operation_id(route: APIRoute) -> str:
    """The handler's name: stable across releases as long as the handler keeps its name."""
    return route.name


def _errors_of(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses this operation can answer, from what the operation itself declares."""
    parameters = operation.get("parameters", [])
    statuses = ["503"]
    if parameters or "requestBody" in operation:
        statuses += ["400", "404", "422"]
    if operation.get("security"):
        statuses += ["401", "403", "429"]
    if method in WRITE_METHODS:
        statuses += ["400", "409"]
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
        statuses.append("412")
    return sorted(set(statuses))


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in _errors_of(path, method, operation):
                responses[status] = {"description": ERRORS[status], "content": problem}
            for status, response in responses.items():  # errors a route declared itself
                if status[0] in "45":
                    response["content"] = problem
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
