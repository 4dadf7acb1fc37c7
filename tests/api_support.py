"""Helpers for the REST API tests: page walking and ETags."""

from __future__ import annotations

from typing import Any

import httpx


async def walk(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following next_cursor to the end."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, headers=headers, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination never ended")


def etag(response: httpx.Response) -> str:
    value = response.headers["ETag"]
    assert value.startswith('W/"'), value
    return value


async def walk_back(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Every item of a list endpoint, from its last page back to its first along prev_cursor (in the
    list's own order), checking that each page's next_cursor leads forward to the page read before."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:  # forward to the last page
        page = (
            await client.get(
                url, headers=headers, params={**params, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    for _ in range(1000):
        items[:0] = page["items"]
        if page["prev_cursor"] is None:
            return items
        later = page
        response = await client.get(url, headers=headers, params={**params, "cursor": page["prev_cursor"]})
        assert response.status_code == 200, response.text
        page = response.json()
        ahead = (
            await client.get(url, headers=headers, params={**params, "cursor": page["next_cursor"]})
        ).json()
        assert ahead["items"] == later["items"]
    raise AssertionError("pagination never ended")


# A meeting the reference data does not hold (POST /meetings body).
NEW_MEETING = {
    "code": "BC-17",
    "kind": "cop",
    "number": 17,
    "title": "Seventeenth meeting",
    "venue": "Geneva",
    "starts_on": "2027-05-03",
    "ends_on": "2027-05-14",
    "conventions": ["basel"],
}
