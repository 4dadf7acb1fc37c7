"""The OpenAPI document is complete enough to generate a client from, and /docs needs no CDN."""

from __future__ import annotations

import re
from collections import Counter

from api.docs_ui import ASSETS

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
