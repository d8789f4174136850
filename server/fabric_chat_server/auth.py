"""Subscriber access tokens (SAT) and project credentials.

A SAT is an HS256 JWT whose header carries ``typ: "SAT"`` and ``ch`` (the server's public
WebSocket URL), and whose claims are ``jti``, ``sub`` (subscriber id), ``project_id``, ``iat``
and ``exp``. Nothing here logs or repeats a token or a secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
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
    "verify_project_token",
]

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
"""scrypt's cost: 16 MiB and some tens of milliseconds a guess (RFC 7914's interactive figure)."""
_SCRYPT_PREFIX = "scrypt"
_LEGACY_CONTEXT = b"fabric-chat project\x00"
_verified: dict[str, bytes] = {}
"""Stored hash -> a keyed digest of the token last verified against it, so that the right
token is not scrypt-ed again on every call; a wrong one always pays the slow hash."""
_VERIFIED_KEY = secrets.token_bytes(32)


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

    def __init__(self, secret: str, *, ttl: float, max_lifetime: float | None = None) -> None:
        self._key = hashlib.sha256(b"fabric-chat SAT\x00" + secret.encode()).digest()
        self.max_lifetime = ttl if max_lifetime is None else max_lifetime
        self.ttl = min(ttl, self.max_lifetime)
        self._verified: dict[str, TokenClaims] = {}  # token -> claims, checked with this key

    def __repr__(self) -> str:
        return f"TokenService(ttl={self.ttl!r}, max_lifetime={self.max_lifetime!r})"

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
            expires_at: The ``exp`` claim; defaults to now plus the service's ttl, and is
                brought back to now plus ``max_lifetime`` when later.
            now: The ``iat`` claim; defaults to the current time.
            typ: The ``typ`` header (only tests pass anything but ``"SAT"``).
        """
        issued = int(time.time() if now is None else now)
        latest = issued + int(self.max_lifetime)
        expires = expires_at if expires_at is not None else issued + int(self.ttl)
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": subscriber_id,
            "project_id": project_id,
            "iat": issued,
            "exp": min(expires, latest),
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
            claims = msgspec.convert(payload, TokenClaims)
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired") from None
        except (jwt.InvalidTokenError, msgspec.ValidationError, ValueError):
            raise TokenError("the token is invalid") from None
        if claims.exp - time.time() > self.max_lifetime + 60:
            raise TokenError("the token lives longer than this server allows")
        return claims


_MAX_VERIFIED = 4096  # tokens remembered as verified; a full cache is emptied


def hash_project_token(token: str, *, salt: bytes | None = None) -> str:
    """Return the stored form of a project API token: ``scrypt$N$r$p$SALT$HASH``.

    scrypt (stdlib ``hashlib.scrypt``) with a random 16-byte salt: slow and memory-hard per
    guess, so a copied database does not give the token away cheaply.
    """
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(token.encode(), salt=salt, dklen=32, **_SCRYPT)
    parts = (str(_SCRYPT["n"]), str(_SCRYPT["r"]), str(_SCRYPT["p"]))
    encoded = (base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    return "$".join((_SCRYPT_PREFIX, *parts, *encoded))


def _matches(given: str, stored_hash: str) -> bool:
    parts = stored_hash.split("$")
    if len(parts) == 6 and parts[0] == _SCRYPT_PREFIX:
        try:
            n, r, p = (int(part) for part in parts[1:4])
            salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        except ValueError:
            return False
        digest = hashlib.scrypt(
            given.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**26
        )
        return hmac.compare_digest(digest, expected)
    # A database written before salted hashes: unsalted SHA-256 (re-hashed on next start).
    legacy = hashlib.sha256(_LEGACY_CONTEXT + given.encode()).hexdigest()
    return hmac.compare_digest(legacy, stored_hash)


def same_secret(given: str, stored_hash: str) -> bool:
    """Compare a given project token with its stored hash (slow: scrypt; constant time)."""
    remembered = _verified.get(stored_hash)
    mark = hmac.new(_VERIFIED_KEY, given.encode(), hashlib.sha256).digest()
    if remembered is not None and hmac.compare_digest(remembered, mark):
        return True
    if not _matches(given, stored_hash):
        return False
    if len(_verified) >= 64:
        _verified.clear()
    _verified[stored_hash] = mark
    return True


async def verify_project_token(given: str, stored_hash: str) -> bool:
    """:func:`same_secret` off the event loop (scrypt takes tens of milliseconds)."""
    return await asyncio.to_thread(same_secret, given, stored_hash)


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Return ``(user, password)`` of an HTTP Basic ``Authorization`` header, or ``None``."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        # Non-ASCII in the header (ValueError) or a non-UTF-8 pair: no credentials.
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password
