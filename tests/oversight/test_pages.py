"""The oversight pages render the views' figures with their drill-down and download links, keep the
filter in every link, and the chart data agrees with the table."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.oversight.oversight_data import OversightData

PAGES = ["", "/coverage", "/cop-readiness", "/due", "/flow", "/transitions", "/activities"]


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def links(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.hrefs


@pytest.mark.parametrize("page", PAGES, ids=[p.strip("/") or "overview" for p in PAGES])
async def test_every_page_renders_filtered_and_keeps_the_filter_in_its_links(
    client, oversight_data: OversightData, headers, page: str
) -> None:
    response = await client.get(
        f"/app/oversight{page}", headers=headers, params={"convention": "minamata", "from": "2026-01-01"}
    )
    assert response.status_code == 200, response.text
    html = response.text
    assert '<option value="minamata" selected>' in html
    clear = f"/app/oversight{page}"  # "Clear filters"
    unfiltered = {clear, "/app/oversight"}  # and the web app's main navigation, once merged
    view_links = [
        href for href in links(html) if href.startswith("/app/oversight") and href not in unfiltered
    ]
    assert view_links and all("convention=minamata" in href for href in view_links), view_links
    assert clear in links(html)
    downloads = [href for href in links(html) if href.startswith("/oversight/")]
    if page:  # every view but the overview offers its rows as CSV and XLSX
        assert {dict(parse_qsl(urlsplit(h).query))["format"] for h in downloads} == {"csv", "xlsx"}


async def test_coverage_counts_link_to_the_activities_behind_them(
    client, oversight_data: OversightData, headers
) -> None:
    html = (await client.get("/app/oversight/coverage", headers=headers)).text
    stalled = f"/app/oversight/activities?provision={oversight_data['p1']}&amp;due=overdue"
    assert f'<a href="{stalled}" aria-label="1 stalled activities of BRS/SYN/I.A.1">1</a>' in html
    listed = await client.get(stalled.replace("&amp;", "&"), headers=headers)
    assert f'href="/app/activities/{oversight_data["a1"]}"' in listed.text
    assert "Joint clearing house" in listed.text and "Customs training" not in listed.text

    # The chart holds the table's figures, and each bar links to its activities.
    spec = json.loads(
        re.search(r'<script type="application/json" data-chart="coverage-chart">(.*?)</script>', html, re.S)[
            1
        ]
    )
    pilot = next(d for d in spec["datasets"] if d["stage"] == "pilot_project")
    assert pilot["data"][0] == 1
    assert (
        pilot["links"][0] == f"/app/oversight/activities?provision={oversight_data['p1']}&stage=pilot_project"
    )


async def test_due_page_lists_the_bucket_and_its_export_holds_the_same_rows(
    client, oversight_data: OversightData, headers
) -> None:
    html = (await client.get("/app/oversight/due", headers=headers, params={"bucket": "overdue"})).text
    export = next(h for h in links(html) if h.startswith("/oversight/due") and "format=csv" in h)
    assert "bucket=overdue" in export
    rows = (await client.get(export.replace("&amp;", "&"), headers=headers)).content.decode("utf-8-sig")
    assert len(rows.strip().splitlines()) == 1 + html.count('<a href="/app/activities/')


async def test_pages_need_a_reader(client, oversight_data: OversightData) -> None:
    response = await client.get("/app/oversight/coverage")
    # 401 for a caller without credentials; with the web app merged, a browser is sent to sign in.
    assert response.status_code == 401 or (
        response.status_code == 303 and response.headers["location"].startswith("/app/sign-in")
    )


async def test_pending_escalations_on_the_due_page_open_their_activities(
    client, oversight_data: OversightData, headers
) -> None:
    html = (await client.get("/app/oversight/due", headers=headers)).text
    escalated = "/app/oversight/activities?due=overdue&amp;pending=escalation"
    assert (
        f'<a href="{escalated}" aria-label="1 activities overdue with an escalation not acknowledged">1</a>'
        in html
    )
    listed = (await client.get(escalated.replace("&amp;", "&"), headers=headers)).text
    assert f'href="/app/activities/{oversight_data["a1"]}"' in listed and "Activities <span" in listed
    assert listed.count('<a href="/app/activities/') == 1
