from core.stages import Role
from tests.conftest import People


async def test_health_reports_the_database(client) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_a_method_not_allowed_names_the_allowed_ones(client) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_root_indexes_the_api_for_clients_and_sends_browsers_to_the_web_app(client) -> None:
    index = await client.get("/")
    assert index.status_code == 200
    body = index.json()
    assert body["links"]["openapi"]["href"] == "/openapi.json"
    hrefs = {link["href"] for link in body["collections"]}
    assert {"/activities", "/meetings", "/provisions"} <= hrefs
    assert not any("{" in href for href in hrefs)
    for href in hrefs:  # every listed collection exists (401 without a token, never 404)
        assert (await client.get(href)).status_code != 404, href

    browser = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 303 and browser.headers["Location"] == "/app/"


async def test_openapi_document_is_served(client) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Synergies Tracker"


async def test_people_fixture_issues_working_tokens(client, people: People, db) -> None:
    from services.tokens import person_for_token

    async with db() as session:
        person = await person_for_token(session, people.tokens[Role.OVERSIGHT])
    assert person is not None and person.role == Role.OVERSIGHT
