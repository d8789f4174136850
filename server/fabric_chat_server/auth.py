"""Subscriber access tokens (SAT) and project credentials.

A SAT is an HS256 JWT whose header carries ``typ: "SAT"`` and ``ch`` (the server's public
WebSocket URL), and whose claims are ``jti``, ``sub`` (subscriber id), ``project_id``, ``iat``
and ``exp``. Nothing here logs or repeats a token or a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid

import msgspec

from ._extras import MissingExtraError, missing_extra_message

try:
    import jwt
except ModuleNotFoundError as exc:  # pip install fabric-chat, without the server extra
    raise MissingExtraError(
        missing_extra_message("server", "the fabric-chat server"), name=exc.name
    ) from None

__all__ = [
    "TokenClaims",
    "TokenError",
    "TokenService",
    "hash_project_token",
    "parse_basic",
    "same_secret",
]


class TokenError(Exception):
    """The token is missing, malformed, forged, expired or of the wrong type."""


class TokenClaims(msgspec.Struct, frozen=True):
    """The verified claims of a SAT."""

    jti: str
    sub: str
    project_id: str
    iat: int
    exp: int


class TokenService:
    """Mint and verify SATs with one server secret.

    Args:
        secret: The server secret; a 32-byte key is derived from it.
        ttl: Lifetime of a minted token, in seconds.
    """

    def __init__(self, secret: str, *, ttl: float) -> None:
        self._key = hashlib.sha256(b"fabric-chat SAT\x00" + secret.encode()).digest()
        self.ttl = ttl
        self._verified: dict[str, TokenClaims] = {}  # token -> claims, checked with this key

    def __repr__(self) -> str:
        return f"TokenService(ttl={self.ttl!r})"

    def mint(
        self,
        *,
        subscriber_id: str,
        project_id: str,
        channel: str,
        expires_at: int | None = None,
        now: float | None = None,
        typ: str = "SAT",
    ) -> str:
        """Return a new SAT for the subscriber.

        Args:
            subscriber_id: The ``sub`` claim.
            project_id: The ``project_id`` claim.
            channel: The public WebSocket URL for the ``ch`` header.
            expires_at: The ``exp`` claim; defaults to now plus the service's ttl.
            now: The ``iat`` claim; defaults to the current time.
            typ: The ``typ`` header (only tests pass anything but ``"SAT"``).
        """
        issued = int(time.time() if now is None else now)
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": subscriber_id,
            "project_id": project_id,
            "iat": issued,
            "exp": expires_at if expires_at is not None else issued + int(self.ttl),
        }
        return jwt.encode(claims, self._key, algorithm="HS256", headers={"typ": typ, "ch": channel})

    def verify(self, token: str) -> TokenClaims:
        """Check a SAT's type, signature and expiry and return its claims.

        Raises:
            TokenError: The token is not a valid SAT of this server.
        """
        cached = self._verified.get(token)
        if cached is not None:  # the same bytes verified before: only the expiry can change
            if time.time() < cached.exp:
                return cached
            del self._verified[token]
            raise TokenError("the token has expired")
        claims = self._verify_signed(token)
        if len(self._verified) >= _MAX_VERIFIED:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _verify_signed(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != "SAT":
                raise TokenError("the token is not a subscriber access token")
            payload = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                options={"require": ["jti", "sub", "iat", "exp"]},
            )
            return msgspec.convert(payload, TokenClaims)
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired") from None
        except (jwt.InvalidTokenError, msgspec.ValidationError):
            raise TokenError("the token is invalid") from None


_MAX_VERIFIED = 4096  # tokens remembered as verified; a full cache is emptied


def hash_project_token(token: str) -> str:
    """Return the stored form of a project API token."""
    return hashlib.sha256(b"fabric-chat project\x00" + token.encode()).hexdigest()


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Return ``(user, password)`` of an HTTP Basic ``Authorization`` header, or ``None``."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def same_secret(given: str, stored_hash: str) -> bool:
    """Compare a given project token with a stored hash in constant time."""
    return hmac.compare_digest(hash_project_token(given), stored_hash)
