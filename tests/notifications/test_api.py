"""The notification API: subscriptions (webhook targets checked), feed, /me, the delivery log."""

from __future__ import annotations

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from core.events import Audience
from core.settings import Settings
from models import Role
from tests.conftest import People
from tests.notifications.world import World
from workflows.notifications import NotificationActivities

# --- subscriptions ------------------------------------------------------------------------------


async def test_a_person_manages_their_own_subscriptions(client, people: People, world: World) -> None:
    me = people.headers(Role.OVERSIGHT)
    created = await client.post(
        "/me/subscriptions",
        headers=me,
        json={
            "channel": "email",
            "event_type": "reminder",
            "convention_code": "basel",
            "thematic_group_id": world.thematic_group_id,
            "stage": "task_team",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["person_id"] == people[Role.OVERSIGHT].id and body["webhook_secret"] is None
    listed = await client.get("/me/subscriptions", headers=me)
    assert [s["id"] for s in listed.json()["items"]] == [body["id"]]

    patched = await client.patch(
        f"/me/subscriptions/{body['id']}",
        headers=me,
        json={"active": False, "convention_code": None},
    )
    assert patched.status_code == 200
    assert patched.json()["active"] is False and patched.json()["convention_code"] is None
    assert patched.json()["version"] == body["version"] + 1

    other = people.headers(Role.COORDINATOR)  # not theirs: it does not exist for them
    assert (
        await client.patch(f"/me/subscriptions/{body['id']}", headers=other, json={"active": True})
    ).status_code == 404
    assert (await client.delete(f"/me/subscriptions/{body['id']}", headers=other)).status_code == 404
    assert (await client.delete(f"/me/subscriptions/{body['id']}", headers=me)).status_code == 204
    assert (await client.get("/me/subscriptions", headers=me)).json()["items"] == []


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"channel": "email", "event_type": "everything"}, "event_type"),
        ({"channel": "email", "convention_code": "vienna"}, "not a known convention"),
        ({"channel": "webhook"}, "needs webhook_url"),
        (
            {"channel": "email", "webhook_url": "https://93.184.215.14/x"},
            "only for channel=webhook",
        ),
        ({"channel": "email", "stage": "limbo"}, "stage"),
    ],
)
async def test_invalid_subscriptions_are_refused(
    client, people: People, world: World, payload: dict, message: str
) -> None:
    response = await client.post("/me/subscriptions", headers=people.headers(Role.COORDINATOR), json=payload)
    assert response.status_code == 422 and message in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.TASK_TEAM_LEAD, Role.OVERSIGHT])
async def test_only_coordinators_and_admins_register_webhooks(
    client, people: People, world: World, role: Role
) -> None:
    me = people.headers(role)
    hook = {"channel": "webhook", "webhook_url": "https://93.184.215.14/synergies"}
    refused = await client.post("/me/subscriptions", headers=me, json=hook)
    assert refused.status_code == 403 and "coordinators and admins" in refused.json()["detail"]
    assert (await client.post("/me/subscriptions", headers=me, json={"channel": "email"})).status_code == 201
    admin = people.headers(Role.ADMIN)
    assert (await client.post("/me/subscriptions", headers=admin, json=hook)).status_code == 201


async def test_webhook_secret_is_returned_once_and_never_again(client, people: People, world: World) -> None:
    me = people.headers(Role.COORDINATOR)
    created = await client.post(
        "/me/subscriptions",
        headers=me,
        json={
            "channel": "webhook",
            "webhook_url": "https://93.184.215.14/synergies",
        },
    )
    assert created.status_code == 201, created.text
    secret = created.json()["webhook_secret"]
    assert isinstance(secret, str) and secret.startswith("whsec_") and len(secret) >= 40
    chosen = await client.post(
        "/me/subscriptions",
        headers=me,
        json={
            "channel": "webhook",
            "webhook_url": "https://93.184.215.14/other",
            "webhook_secret": "my-own-secret-of-some-length",
        },
    )
    assert chosen.json()["webhook_secret"] == "my-own-secret-of-some-length"
    for response in (
        await client.get("/me/subscriptions", headers=me),
        await client.get("/subscriptions", headers=people.headers(Role.ADMIN)),
    ):
        assert response.status_code == 200
        assert "secret" not in response.text
    patched = await client.patch(
        f"/me/subscriptions/{created.json()['id']}",
        headers=me,
        json={"webhook_secret": "rotated-secret-of-some-length"},
    )
    assert patched.status_code == 200 and "secret" not in patched.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:93.184.215.14]/hook",  # IPv4-mapped IPv6, even of a public address
        "http://[2002:7f00:1::1]/hook",  # 6to4 of 127.0.0.1
        "http://[2002:a9fe:a9fe::1]/hook",  # 6to4 of 169.254.169.254
        "http://[64:ff9b::a01:203]/hook",  # NAT64 of 10.1.2.3
        "http://100.64.0.1/hook",  # shared address space
        "http://0.0.0.0/hook",
        "http://user:secret@93.184.215.14/hook",
        "ftp://93.184.215.14/hook",
        "file:///etc/passwd",
        "not a url",
    ],
)
async def test_private_or_non_http_webhook_targets_are_refused(
    client, people: People, world: World, url: str
) -> None:
    response = await client.post(
        "/me/subscriptions",
        headers=people.headers(Role.COORDINATOR),
        json={"channel": "webhook", "webhook_url": url},
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "webhook_target_rejected"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "webhook" in problem["detail"]


async def test_changing_a_webhook_url_to_a_private_target_is_refused(
    client, people: People, world: World
) -> None:
    me = people.headers(Role.COORDINATOR)
    created = (
        await client.post(
            "/me/subscriptions",
            headers=me,
            json={"channel": "webhook", "webhook_url": "https://93.184.215.14/hook"},
        )
    ).json()
    response = await client.patch(
        f"/me/subscriptions/{created['id']}",
        headers=me,
        json={"webhook_url": "http://127.0.0.1/hook"},
    )
    assert response.status_code == 422 and response.json()["code"] == "webhook_target_rejected"


async def test_loopback_targets_are_allowed_only_when_the_test_setting_says_so(
    client, people: People, world: World, settings: Settings
) -> None:
    me = people.headers(Role.COORDINATOR)
    loopback = {"channel": "webhook", "webhook_url": "http://127.0.0.1:9/x"}
    assert (await client.post("/me/subscriptions", headers=me, json=loopback)).status_code == 422
    settings.webhook_allow_loopback_targets = True
    assert (await client.post("/me/subscriptions", headers=me, json=loopback)).status_code == 201
    private = {"channel": "webhook", "webhook_url": "http://10.1.2.3/x"}
    assert (await client.post("/me/subscriptions", headers=me, json=private)).status_code == 422


async def test_admins_manage_anyones_subscriptions(client, people: People, world: World) -> None:
    admin = people.headers(Role.ADMIN)
    person_id = people[Role.OVERSIGHT].id
    created = await client.post(
        f"/subscriptions?person_id={person_id}",
        headers=admin,
        json={"channel": "feed", "event_type": "escalation"},
    )
    assert created.status_code == 201 and created.json()["person_id"] == person_id
    listed = await client.get(f"/subscriptions?person_id={person_id}", headers=admin)
    assert [s["id"] for s in listed.json()["items"]] == [created.json()["id"]]
    assert (await client.get(f"/subscriptions?person_id={people[Role.ADMIN].id}", headers=admin)).json() == {
        "items": [],
        "next_cursor": None,
        "prev_cursor": None,
        "total": None,
    }
    sub_id = created.json()["id"]
    assert (await client.patch(f"/subscriptions/{sub_id}", headers=admin, json={"event_type": "*"})).json()[
        "event_type"
    ] == "*"
    mine = await client.get("/me/subscriptions", headers=people.headers(Role.OVERSIGHT))
    assert [s["event_type"] for s in mine.json()["items"]] == ["*"]
    assert (await client.delete(f"/subscriptions/{sub_id}", headers=admin)).status_code == 204
    assert (
        await client.post("/subscriptions?person_id=99999", headers=admin, json={"channel": "feed"})
    ).status_code == 404

    coordinator = people.headers(Role.COORDINATOR)
    assert (await client.get("/subscriptions", headers=coordinator)).status_code == 403
    assert (
        await client.post(
            f"/subscriptions?person_id={person_id}", headers=coordinator, json={"channel": "feed"}
        )
    ).status_code == 403


async def test_subscriptions_need_authentication(client) -> None:
    assert (await client.get("/me/subscriptions")).status_code == 401
    assert (await client.get("/me/notifications")).status_code == 401


# --- the feed -----------------------------------------------------------------------------------


async def test_feed_lists_newest_first_pages_and_marks_read(
    client, people: People, world: World, acts: NotificationActivities
) -> None:
    env = ActivityEnvironment()
    stages = {1: "task_team", 2: "pilot_project", 3: "report_to_cop"}
    for n, stage in stages.items():
        await env.run(
            acts.plan_deliveries,
            world.event(key=f"activity-1/ev-{n}", to_stage=stage, audiences=(Audience.LEAD,)),
        )
    me = people.headers(Role.TASK_TEAM_LEAD)

    first = (await client.get("/me/notifications?limit=2", headers=me)).json()
    # the feed shows the e-mails' subjects
    assert [n["title"] for n in first["items"]] == [
        "Joint e-waste workshop moved to report to COP",
        "Joint e-waste workshop moved to pilot project",
    ]
    assert first["unread_count"] == 3 and first["next_cursor"]
    assert first["items"][0]["link"] == f"http://testserver/app/activities/{world.activity_id}"
    assert first["items"][0]["stage"] == "task_team" and first["items"][0]["read_at"] is None
    second = (await client.get(f"/me/notifications?limit=2&cursor={first['next_cursor']}", headers=me)).json()
    assert [n["title"] for n in second["items"]] == ["Joint e-waste workshop moved to task team"]
    assert second["next_cursor"] is None and first["prev_cursor"] is None
    back = (await client.get(f"/me/notifications?limit=2&cursor={second['prev_cursor']}", headers=me)).json()
    assert back["items"] == first["items"] and back["prev_cursor"] is None
    assert back["next_cursor"] == first["next_cursor"]

    newest = first["items"][0]["id"]
    read = await client.post(f"/me/notifications/{newest}/read", headers=me)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    again = await client.post(f"/me/notifications/{newest}/read", headers=me)
    assert again.json()["read_at"] == read.json()["read_at"]  # the first read time stays
    unread = (await client.get("/me/notifications?unread=true", headers=me)).json()
    assert [n["title"] for n in unread["items"]] == [
        "Joint e-waste workshop moved to pilot project",
        "Joint e-waste workshop moved to task team",
    ]
    assert unread["unread_count"] == 2

    # Someone else's notification is not theirs to read, nor in their feed.
    other = people.headers(Role.OVERSIGHT)
    assert (await client.post(f"/me/notifications/{newest}/read", headers=other)).status_code == 404
    assert (await client.get("/me/notifications", headers=other)).json()["items"] == []

    marked = await client.post("/me/notifications/read-all", headers=me)
    assert marked.json() == {"marked_read": 2}
    after = (await client.get("/me/notifications?unread=true", headers=me)).json()
    assert after["items"] == [] and after["unread_count"] == 0
    assert (await client.get("/me/notifications?cursor=garbage", headers=me)).status_code == 400


# --- /me ----------------------------------------------------------------------------------------


async def test_me_shows_and_changes_the_daily_digest(client, people: People, world: World) -> None:
    me = people.headers(Role.OVERSIGHT)
    shown = (await client.get("/me", headers=me)).json()
    assert shown["id"] == people[Role.OVERSIGHT].id and shown["daily_digest"] is False
    changed = await client.patch("/me", headers=me, json={"daily_digest": True})
    assert changed.status_code == 200 and changed.json()["daily_digest"] is True
    assert (await client.get("/me", headers=me)).json()["daily_digest"] is True
    assert (await client.patch("/me", headers=me, json={"role": "admin"})).status_code == 422


async def test_me_chooses_digest_rhythm_own_changes_and_conventions(
    client, people: People, world: World
) -> None:
    me = people.headers(Role.COORDINATOR)
    shown = (await client.get("/me", headers=me)).json()
    assert shown["digest"] == "off" and shown["notify_own_changes"] is False and shown["conventions"] == []
    changed = await client.patch(
        "/me",
        headers=me,
        json={"digest": "weekly", "notify_own_changes": True, "conventions": ["minamata", "basel"]},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["digest"] == "weekly" and body["daily_digest"] is True and body["notify_own_changes"] is True
    assert body["conventions"] == ["basel", "minamata"]
    body = (await client.patch("/me", headers=me, json={"digest": "off", "conventions": []})).json()
    assert body["digest"] == "off" and body["daily_digest"] is False and body["conventions"] == []
    unknown = await client.patch("/me", headers=me, json={"conventions": ["vienna"]})
    assert unknown.status_code == 422 and "vienna" in unknown.json()["detail"]
    assert (await client.patch("/me", headers=me, json={"digest": "hourly"})).status_code == 422


# --- the delivery log ---------------------------------------------------------------------------


async def test_delivery_log_for_coordinators_with_filters(
    client, people: People, world: World, acts: NotificationActivities, settings: Settings
) -> None:
    settings.smtp_port = 1  # nothing listens: the e-mail attempt fails and is logged
    env = ActivityEnvironment()
    ids = await env.run(acts.plan_deliveries, world.event(audiences=(Audience.LEAD,)))
    with pytest.raises(OSError):
        await env.run(acts.deliver, ids[0])

    coordinator = people.headers(Role.COORDINATOR)
    log = (await client.get("/deliveries", headers=coordinator)).json()["items"]
    assert {(d["channel"], d["status"]) for d in log} == {("email", "retrying"), ("feed", "sent")}
    failing = (await client.get("/deliveries?status=retrying", headers=coordinator)).json()["items"]
    assert len(failing) == 1
    assert failing[0]["attempts"] == 1 and failing[0]["last_error"]
    assert failing[0]["target"] == people[Role.TASK_TEAM_LEAD].email
    feed = (await client.get("/deliveries?channel=feed", headers=coordinator)).json()["items"]
    assert [d["status"] for d in feed] == ["sent"]
    assert (await client.get("/deliveries?status=bogus", headers=coordinator)).status_code == 422
    assert (await client.get("/deliveries", headers=people.headers(Role.ADMIN))).status_code == 200
    assert (await client.get("/deliveries", headers=people.headers(Role.OVERSIGHT))).status_code == 403


async def test_delivery_log_hides_other_peoples_webhook_urls_from_non_admins(
    client, people: People, world: World, acts: NotificationActivities, settings: Settings
) -> None:
    from models import Channel
    from tests.notifications.world import add_subscription

    url = "https://hooks.partner.example/secret-path-token"
    await add_subscription(
        acts.sessionmaker,
        people[Role.ADMIN],
        channel=Channel.WEBHOOK,
        webhook_url=url,
        webhook_secret="x" * 20,
    )
    await ActivityEnvironment().run(acts.plan_deliveries, world.event(audiences=()))

    def webhook_targets(response: httpx.Response) -> list[str]:
        return [d["target"] for d in response.json()["items"] if d["channel"] == "webhook"]

    as_coordinator = await client.get("/deliveries", headers=people.headers(Role.COORDINATOR))
    assert webhook_targets(as_coordinator) == ["webhook of another person [hidden]"]
    assert "partner.example" not in as_coordinator.text
    as_owner = await client.get("/deliveries", headers=people.headers(Role.ADMIN))
    assert webhook_targets(as_owner) == [url]


async def test_switching_a_disabled_webhook_on_again_starts_a_fresh_count(
    client, people: People, world: World, acts: NotificationActivities
) -> None:
    from models import Subscription

    me = people.headers(Role.COORDINATOR)
    created = (
        await client.post(
            "/me/subscriptions",
            headers=me,
            json={"channel": "webhook", "webhook_url": "https://93.184.215.14/h"},
        )
    ).json()
    async with acts.sessionmaker() as session, session.begin():
        subscription = await session.get_one(Subscription, created["id"])
        subscription.active, subscription.consecutive_failures = False, 20
        subscription.disabled_reason = "switched off after 20 failed deliveries in a row; last: HTTP 500"
    shown = (await client.get("/me/subscriptions", headers=me)).json()["items"][0]
    assert shown["active"] is False and shown["disabled_reason"].startswith("switched off after 20")
    again = await client.patch(f"/me/subscriptions/{created['id']}", headers=me, json={"active": True})
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["active"] is True and body["consecutive_failures"] == 0 and body["disabled_reason"] is None
