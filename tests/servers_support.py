"""Real servers inside the test process: an SMTP server (aiosmtpd) and an HTTP webhook receiver
(plain or TLS), and `wait_for`, to poll for what they receive."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from core.supervisor import free_port

# --- SMTP ---------------------------------------------------------------------------------------


@dataclass
class ReceivedMail:
    rcpt_tos: list[str]
    message: EmailMessage
    peer: Any = None  # the client's (address, port): one per SMTP connection

    @property
    def text(self) -> str:
        """The plain-text part."""
        body = self.message.get_body(("plain",))
        return str(body.get_content()).replace("\r\n", "\n") if body is not None else ""

    @property
    def html(self) -> str:
        body = self.message.get_body(("html",))
        return str(body.get_content()).replace("\r\n", "\n") if body is not None else ""


class SMTPServer:
    """aiosmtpd on 127.0.0.1: `start()` / `stop()` (same port), `mails` as received."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.mails: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        mail = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.mails.append(ReceivedMail(list(envelope.rcpt_tos), mail, session.peer))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def start(self) -> SMTPServer:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def recipients(self) -> list[str]:
        with self._lock:
            return sorted(rcpt for mail in self.mails for rcpt in mail.rcpt_tos)


# --- webhooks -----------------------------------------------------------------------------------


@dataclass
class ReceivedHook:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A threaded `http.server` on 127.0.0.1 answering `status` to every POST."""

    status: int = 204
    hooks: list[ReceivedHook] = field(default_factory=list)
    port: int = 0
    tls: ssl.SSLContext | None = None  # serve HTTPS with this context
    _server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.hooks.append(ReceivedHook(self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def self_signed_localhost(directory: Any) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A certificate for the name `localhost` only: (server context, client context trusting it)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def wait_for(predicate: Callable[[], Any], seconds: float = 20.0) -> None:
    """Poll `predicate` (plain or async) until it is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
