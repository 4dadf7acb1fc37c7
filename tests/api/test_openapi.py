"""The OpenAPI document is complete enough to generate a client from, and /docs needs no CDN."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from api.docs_ui import ASSETS
from api.routes import ROUTERS

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def operations(schema):
    return [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]


async def test_every_operation_has_a_stable_id_a_summary_and_tags(client) -> None:
    schema = (await client.get("/openapi.json")).json()
    ops = operations(schema)
    ids = Counter(op["operationId"] for _, _, op in ops)
    assert [name for name, count in ids.items() if count > 1] == []
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in ids), sorted(ids)
    assert {"list_activities", "move_activity", "acknowledge_reminder", "api_index"} <= ids.keys()
    assert [f"{m} {p}" for p, m, op in ops if not op.get("summary") or not op.get("tags")] == []


async def test_every_error_response_is_a_documented_problem(client) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert {"type", "title", "status", "detail", "code"} <= set(
        schema["components"]["schemas"]["Problem"]["required"]
    )
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, method, op in operations(schema):
        errors = {status: r for status, r in op["responses"].items() if status[0] in "45"}
        assert "503" in errors, f"{method} {path}"
        assert all(r["content"] == PROBLEM for r in errors.values()), f"{method} {path}"
        if op.get("security"):
            assert {"401", "403"} <= errors.keys(), f"{method} {path}"
        if "{" in path:
            assert "404" in errors, f"{method} {path}"
    patch_activity = schema["paths"]["/activities/{activity_id}"]["patch"]["responses"]
    move = schema["paths"]["/activities/{activity_id}/transitions"]["post"]["responses"]
    assert "412" in patch_activity and "409" in move and "422" in move


def _has_example(media: dict[str, Any], components: dict[str, Any]) -> bool:
    """The media type shows an example, or the schema it names does."""
    if media.get("example") is not None or media.get("examples"):
        return True
    schema = media.get("schema", {})
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return bool(schema.get("examples"))


async def test_every_json_request_and_answer_has_an_example(client) -> None:
    schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    missing = []
    for path, method, op in operations(schema):
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            if media_type.endswith("json") and not _has_example(media, components):
                missing.append(f"{method} {path} request {media_type}")
        for status, response in op["responses"].items():
            for media_type, media in response.get("content", {}).items():
                if status.startswith("2") and media_type == "application/json":
                    if not _has_example(media, components):
                        missing.append(f"{method} {path} {status}")
    assert missing == []
    pages = {name: c for name, c in components.items() if name.startswith("Page_") or "Page" in name}
    assert len(pages) > 15
    assert [name for name, c in pages.items() if not c["examples"][0]["items"]] == []  # an item each


def test_every_example_is_valid_for_its_schema() -> None:
    routes = [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]
    checked = set()
    for route in routes:
        types = [route.response_model]
        if route.body_field is not None:
            types.append(route.body_field.field_info.annotation)
        for model in types:
            if model is None or repr(model) in checked:
                continue
            checked.add(repr(model))
            adapter = TypeAdapter(model)
            for example in adapter.json_schema(mode="serialization").get("examples", []):
                adapter.validate_python(example, by_alias=True, by_name=True)
    assert len(checked) > 60


async def test_every_collection_answers_the_one_list_envelope(client) -> None:
    """No bare JSON arrays: a GET that lists answers {items, next_cursor, prev_cursor, total}."""
    schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    envelope = {"items", "next_cursor", "prev_cursor", "total"}
    for path, method, op in operations(schema):
        media = op["responses"].get("200", {}).get("content", {}).get("application/json")
        if method != "get" or not media or "schema" not in media:
            continue
        answer = media["schema"]
        assert answer.get("type") != "array", f"GET {path} answers a bare list"
        name = answer.get("$ref", "").rsplit("/", 1)[-1]
        if name.startswith("Page_") or name in {"NotificationPage", "EventPage"}:
            assert envelope <= components[name]["properties"].keys(), path
            assert "count" in {p["name"] for p in op["parameters"]}, path


async def test_the_docs_page_loads_its_assets_from_the_app(client) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    external = re.findall(r"""(?:src|href)=["']?(https?:[^"' >]+)""", page.text)
    assert external == [], external
    for name, media_type in ASSETS.items():
        assert f"/docs/static/{name}" in page.text
        asset = await client.get(f"/docs/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media_type)
    assert (await client.get("/docs/static/../settings.py")).status_code == 404
    assert (await client.get("/redoc")).status_code == 404
