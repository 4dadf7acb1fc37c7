"""An OpenID Connect provider's signing keys for the single sign-on tests (API and web app): tokens
signed the way a provider signs them, and a key set to publish as its JWKS."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://sso.brs.example.org/realms/brs"
AUDIENCE = "synergies-tracker"


class KeySet:
    """An RSA and an EC signing key, published as a JWKS by a local HTTP server."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.intruder = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        keys = [
            {
                **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key())),
                "kid": "rsa-1",
                "use": "sig",
                "alg": "RS256",
            },
            {
                **json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key())),
                "kid": "ec-1",
                "use": "sig",
                "alg": "ES256",
            },
        ]
        self.document = json.dumps({"keys": keys}).encode()
        self.requests = 0

    def token(self, *, key: str = "rsa", kid: str | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            "email": "ana.lima@brs.example.org",
            "name": "Ana Lima",
            "roles": ["coordinator"],
        }
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        if key == "rsa":
            return jwt.encode(claims, self.rsa, algorithm="RS256", headers={"kid": kid or "rsa-1"})
        if key == "ec":
            return jwt.encode(claims, self.ec, algorithm="ES256", headers={"kid": kid or "ec-1"})
        return jwt.encode(claims, self.intruder, algorithm="RS256", headers={"kid": kid or "rsa-1"})
