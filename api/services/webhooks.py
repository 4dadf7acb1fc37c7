"""Webhook targets and signatures: which URLs the tracker may POST to, and how receivers verify it.

A subscription's URL is checked when it is created or changed, and again before every send (a host
name can be re-pointed at an internal address after it was accepted).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit

from api.errors import DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookTargetRejected(DomainError):
    status, code = 422, "webhook_target_rejected"


def _is_internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        not address.is_global
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def validate_webhook_url(url: str, *, allow_private: bool) -> str:
    """Return the URL if the tracker may POST to it; raise `WebhookTargetRejected` (422) otherwise.

    Only http and https; the host must not be (or resolve to) a loopback, private, link-local or
    otherwise non-public address unless `allow_private` (settings.webhook_allow_private_targets).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookTargetRejected(f"webhook_url is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetRejected(
            f"webhook_url must use http or https, not {parts.scheme or 'no scheme'!r}"
        )
    host = parts.hostname
    if not host:
        raise WebhookTargetRejected("webhook_url has no host")
    if allow_private:
        return url
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if _is_internal(literal):
            raise WebhookTargetRejected(
                f"webhook_url points at {host}, a loopback, private, link-local or reserved "
                "address; only public targets are allowed"
            )
        return url
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise WebhookTargetRejected(f"the webhook host {host!r} does not resolve: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if _is_internal(address):
            raise WebhookTargetRejected(
                f"the webhook host {host!r} resolves to {address}, a loopback, private, "
                "link-local or reserved address; only public targets are allowed"
            )
    return url


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Synergies-Signature` value: `sha256=` + hex HMAC-SHA256 of `"{timestamp}.{body}"`."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_webhook(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """For receivers (and tests): constant-time check of a signature header."""
    return hmac.compare_digest(sign_webhook(secret, timestamp, body), signature)
