"""Webhook targets and signatures: which URLs the tracker may POST to, and how receivers verify it.

A target is resolved once per send and the connection goes to the address that was checked (no
second DNS lookup a rebinding resolver could answer differently). Refused: loopback, private,
link-local, shared, multicast, reserved and unspecified addresses, IPv4-mapped IPv6, and public-
looking IPv6 that embeds an internal IPv4 address (6to4 2002::/16, NAT64 64:ff9b::/96, Teredo).
`webhook_allow_loopback_targets` admits loopback only, for tests with a local receiver.

Signatures follow the Standard Webhooks specification (https://www.standardwebhooks.com):
`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` over
`"{id}.{timestamp}.{body}"`; docs/webhooks.md tells receivers how to verify.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from standardwebhooks import Webhook

from core.errors import DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SECRET_PREFIX = "whsec_"


class WebhookTargetRejected(DomainError):
    status, code = 422, "webhook_target_rejected"


class WebhookHostUnresolved(WebhookTargetRejected):
    """The host name does not resolve: refused when subscribing, retried when sending (DNS outages
    pass)."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why the tracker must not connect to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        embedded = _embedded_ipv4(address)
        if embedded is not None and refusal(embedded, allow_loopback=False):
            return f"an IPv6 address embedding the internal address {embedded}"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private or not address.is_global:
        return "a private or non-public address"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "a multicast, reserved or unspecified address"
    return None


@dataclass(frozen=True)
class WebhookTarget:
    """A checked target: connect to `address`, say `host` in the Host header and TLS SNI."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return urlunsplit((parts.scheme, f"{literal}:{self.port}", parts.path or "/", parts.query, ""))

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _parse(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookTargetRejected(f"webhook_url is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetRejected(
            f"webhook_url must use http or https, not {parts.scheme or 'no scheme'!r}"
        )
    if parts.username or parts.password:
        raise WebhookTargetRejected("webhook_url must not carry a user name or password")
    if not parts.hostname:
        raise WebhookTargetRejected("webhook_url has no host")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve_webhook_target(url: str, *, allow_loopback: bool) -> WebhookTarget:
    """Check `url` and pick the address to connect to; `WebhookTargetRejected` (422) if any address
    the host resolves to is refused (a host with one internal address is refused as a whole)."""
    scheme, host, port = _parse(url)
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise WebhookHostUnresolved(f"the webhook host {host!r} does not resolve: {exc}") from exc
        addresses = list(
            dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
        )
    if not addresses:
        raise WebhookHostUnresolved(f"the webhook host {host!r} does not resolve")
    for address in addresses:
        why = refusal(address, allow_loopback=allow_loopback)
        if why is not None:
            shown = host if str(address) == host else f"{host!r}, which resolves to {address},"
            raise WebhookTargetRejected(
                f"webhook_url points at {shown} {why}; only public targets are allowed"
            )
    return WebhookTarget(url, scheme, host, port, addresses[0])


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _signer(secret: str) -> Webhook:
    if secret.startswith(SECRET_PREFIX):
        return Webhook(secret)
    return Webhook(secret.encode())  # a secret chosen before Standard Webhooks: its bytes are the key


def sign_webhook(secret: str, message_id: str, timestamp: datetime, body: bytes) -> str:
    """The `webhook-signature` header value for `body` sent as `message_id` at `timestamp`."""
    return _signer(secret).sign(message_id, timestamp, body.decode())


def verify_webhook(secret: str, headers: dict[str, str], body: bytes) -> object:
    """What a receiver does (and the tests): verify the signature and refuse timestamps more than
    five minutes off; returns the parsed JSON body, raises `WebhookVerificationError` otherwise."""
    return _signer(secret).verify(body, headers)
