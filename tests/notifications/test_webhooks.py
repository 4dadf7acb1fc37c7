"""Webhooks: Standard Webhooks signatures, the SSRF checks, and targets that keep failing."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import WebhookVerificationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from core.settings import Settings
from models import Channel, Delivery, DeliveryStatus, Subscription
from services.webhooks import (
    WebhookTarget,
    WebhookTargetRejected,
    refusal,
    resolve_webhook_target,
    sign_webhook,
    verify_webhook,
)
from tests.notifications.world import World, add_subscription
from tests.servers_support import WebhookReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_signatures_match_the_standard_webhooks_test_vector() -> None:
    timestamp = datetime.fromtimestamp(1614265330, tz=UTC)
    body = b'{"test": 2432232314}'
    signature = sign_webhook(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_receivers_reject_tampered_bodies_and_old_timestamps() -> None:
    now = datetime.now(UTC)
    body = b'{"type":"transition"}'

    def headers(at: datetime) -> dict[str, str]:
        return {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": sign_webhook(SECRET, "msg_1", at, body),
        }

    assert verify_webhook(SECRET, headers(now), body) == {"type": "transition"}
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, headers(now), b'{"type":"forged"}')
    with pytest.raises(WebhookVerificationError, match="too old"):  # a replayed capture
        verify_webhook(SECRET, headers(now - timedelta(minutes=10)), body)


@pytest.mark.parametrize(
    "address, refused",
    [
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "non-public"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("0.0.0.0", "non-public"),
        ("224.0.0.1", "multicast"),
        ("::ffff:93.184.215.14", "IPv4-mapped"),
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("2002:7f00:1::1", "embedding the internal address 127.0.0.1"),
        ("2002:c0a8:101::1", "embedding the internal address 192.168.1.1"),
        ("64:ff9b::a00:1", "embedding the internal address 10.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "embedding the internal address 169.254.169.254"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "embedding the internal address 10.0.0.1"),  # Teredo
    ],
)
def test_which_addresses_are_refused(address: str, refused: str | None) -> None:
    why = refusal(ipaddress.ip_address(address), allow_loopback=False)
    assert (why is None) if refused is None else (why is not None and refused in why), why


def test_the_loopback_switch_admits_loopback_only() -> None:
    assert refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refusal(ipaddress.ip_address("::1"), allow_loopback=True) is None
    for address in ("10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "2002:7f00:1::1"):
        assert refusal(ipaddress.ip_address(address), allow_loopback=True) is not None


async def test_a_host_name_is_resolved_once_and_the_checked_address_is_what_we_connect_to() -> None:
    target = await resolve_webhook_target("https://localhost:8443/hook?x=1", allow_loopback=True)
    assert target.address.is_loopback
    assert target.connect_url in ("https://127.0.0.1:8443/hook?x=1", "https://[::1]:8443/hook?x=1")
    assert target.host_header == "localhost:8443"
    with pytest.raises(WebhookTargetRejected, match="resolves to"):
        await resolve_webhook_target("https://localhost/hook", allow_loopback=False)
    v6 = WebhookTarget("http://example.org/h", "http", "example.org", 80, ipaddress.ip_address("2001:db8::1"))
    assert v6.connect_url == "http://[2001:db8::1]:80/h" and v6.host_header == "example.org"


# --- against a real receiver --------------------------------------------------------------------


@pytest.fixture
def extra_people() -> dict[str, dict[str, Any]]:
    return {"hooked": {}}


async def hook_deliveries(db) -> list[Delivery]:  # type: ignore[no-untyped-def]
    async with db() as session:
        return list(
            await session.scalars(
                select(Delivery).where(Delivery.channel == Channel.WEBHOOK).order_by(Delivery.id)
            )
        )


async def test_a_receiver_gets_a_verifiable_versioned_payload_through_the_host_name(
    db, world: World, acts, receiver: WebhookReceiver
) -> None:  # type: ignore[no-untyped-def]
    url = f"http://localhost:{receiver.port}/synergies"
    await add_subscription(
        db, world.persons["hooked"], channel=Channel.WEBHOOK, webhook_url=url, webhook_secret=SECRET
    )
    env = ActivityEnvironment()
    await env.run(acts.plan_deliveries, world.event(audiences=()))
    [delivery] = await hook_deliveries(db)
    assert await env.run(acts.deliver, delivery.id) == "sent"

    [hook] = receiver.hooks
    assert hook.headers["Host"] == f"localhost:{receiver.port}"  # connected to the checked address
    payload = verify_webhook(SECRET, hook.headers, hook.body)
    assert isinstance(payload, dict) and payload == json.loads(hook.body)
    assert payload["version"] == 1 and payload["type"] == "transition"
    assert payload["data"]["subject"] == "Joint e-waste workshop moved to task team"
    assert payload["data"]["activity"]["lead"]["name"] == world.persons["task_team_lead"].name


async def test_loopback_targets_are_refused_for_good_when_the_test_switch_is_off(
    db, world: World, acts, receiver: WebhookReceiver, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    await add_subscription(
        db,
        world.persons["hooked"],
        channel=Channel.WEBHOOK,
        webhook_url=receiver.url(),
        webhook_secret=SECRET,
    )
    env = ActivityEnvironment()
    await env.run(acts.plan_deliveries, world.event(audiences=()))
    [delivery] = await hook_deliveries(db)
    settings.webhook_allow_loopback_targets = False
    with pytest.raises(ApplicationError) as raised:
        await env.run(acts.deliver, delivery.id)
    assert raised.value.non_retryable and "loopback" in str(raised.value)
    assert receiver.hooks == []


async def test_a_target_that_keeps_failing_is_switched_off_after_n_failures(
    db, world: World, acts, receiver: WebhookReceiver, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    settings.webhook_disable_after_failures = 3
    receiver.status = 500
    subscription_id = await add_subscription(
        db,
        world.persons["hooked"],
        channel=Channel.WEBHOOK,
        webhook_url=receiver.url(),
        webhook_secret=SECRET,
    )
    env = ActivityEnvironment()
    await env.run(acts.plan_deliveries, world.event(audiences=()))
    [delivery] = await hook_deliveries(db)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="HTTP 500"):  # retryable
            await env.run(acts.deliver, delivery.id)
    with pytest.raises(ApplicationError) as raised:
        await env.run(acts.deliver, delivery.id)
    assert raised.value.non_retryable and "switched off after 3 failed deliveries" in str(raised.value)
    assert len(receiver.hooks) == 3
    async with db() as session:
        subscription = await session.get_one(Subscription, subscription_id)
        assert not subscription.active and subscription.consecutive_failures == 3
        assert "HTTP 500" in (subscription.disabled_reason or "")

    # Later events no longer go to it; a success resets the count once its owner switches it on.
    await env.run(acts.plan_deliveries, world.event("activity-1/ev-2", audiences=()))
    assert len(await hook_deliveries(db)) == 1


async def test_a_success_resets_the_failure_count(
    db, world: World, acts, receiver: WebhookReceiver, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    settings.webhook_disable_after_failures = 3
    subscription_id = await add_subscription(
        db,
        world.persons["hooked"],
        channel=Channel.WEBHOOK,
        webhook_url=receiver.url(),
        webhook_secret=SECRET,
    )
    env = ActivityEnvironment()
    for n in (1, 2, 3):
        receiver.status = 500
        await env.run(acts.plan_deliveries, world.event(f"activity-1/ev-{n}", audiences=()))
        delivery = (await hook_deliveries(db))[-1]
        with pytest.raises(RuntimeError):
            await env.run(acts.deliver, delivery.id)
        receiver.status = 204
        assert await env.run(acts.deliver, delivery.id) == "sent"
    async with db() as session:
        subscription = await session.get_one(Subscription, subscription_id)
        assert subscription.active and subscription.consecutive_failures == 0
    assert all(d.status is DeliveryStatus.SENT for d in await hook_deliveries(db))


async def test_https_targets_are_verified_against_their_host_name_while_connecting_to_the_checked_address(
    db, world: World, settings: Settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tests.servers_support import self_signed_localhost
    from workflows.notifications import NotificationActivities

    server_tls, client_tls = self_signed_localhost(tmp_path)
    receiver = WebhookReceiver(tls=server_tls).start()
    settings.webhook_allow_loopback_targets = True
    try:
        await add_subscription(
            db,
            world.persons["hooked"],
            channel=Channel.WEBHOOK,
            webhook_url=f"https://localhost:{receiver.port}/tls",
            webhook_secret=SECRET,
        )
        async with httpx.AsyncClient(trust_env=False, verify=client_tls) as http:
            acts = NotificationActivities(settings, db, http)
            env = ActivityEnvironment()
            await env.run(acts.plan_deliveries, world.event(audiences=()))
            [delivery] = await hook_deliveries(db)
            assert await env.run(acts.deliver, delivery.id) == "sent"  # the certificate names localhost
        [hook] = receiver.hooks
        assert hook.path == "/tls" and hook.headers["Host"] == f"localhost:{receiver.port}"
        assert verify_webhook(SECRET, hook.headers, hook.body)
    finally:
        receiver.stop()


async def test_a_host_that_does_not_resolve_is_retried_and_counted_not_failed_for_good(
    db, world: World, acts
) -> None:  # type: ignore[no-untyped-def]
    subscription_id = await add_subscription(
        db,
        world.persons["hooked"],
        channel=Channel.WEBHOOK,
        webhook_url="http://no-such-host.invalid/hook",  # e.g. a DNS outage at send time
        webhook_secret=SECRET,
    )
    env = ActivityEnvironment()
    await env.run(acts.plan_deliveries, world.event(audiences=()))
    [delivery] = await hook_deliveries(db)
    with pytest.raises(RuntimeError, match="does not resolve"):
        await env.run(acts.deliver, delivery.id)
    [delivery] = await hook_deliveries(db)
    assert delivery.status is DeliveryStatus.RETRYING
    async with db() as session:
        assert (await session.get_one(Subscription, subscription_id)).consecutive_failures == 1
