"""The SDK's exceptions: one root, one class per kind of failure.

::

    FabricChatError
    ├── InvalidArgumentError       a wrong argument, raised before any network call (ValueError)
    ├── APIError                   the server answered with an error status
    │   ├── BadRequestError            400
    │   ├── AuthenticationError        401
    │   ├── PermissionDeniedError      403
    │   ├── NotFoundError              404
    │   ├── PayloadTooLargeError       413
    │   ├── UnprocessableEntityError   422
    │   ├── RateLimitError             429 (``retry_after`` in seconds, when the server said)
    │   └── ServerError                5xx
    ├── ProtocolError              a frame or body that does not follow the wire protocol
    ├── ConnectionError            the server could not be reached, or the socket dropped
    ├── TimeoutError               no answer in time (also builtins.TimeoutError)
    └── ClientClosedError          the client was used after ``aclose()``

Every :class:`APIError` carries ``status``, ``code`` and ``message`` from the error body
``{"errors": [{"type", "code", "message", "attribute"?}]}``. No error ever holds a token.
"""

from __future__ import annotations

import builtins

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConnectionError",
    "FabricChatError",
    "InvalidArgumentError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "ServerError",
    "TimeoutError",
    "UnprocessableEntityError",
    "error_for_status",
]


class FabricChatError(Exception):
    """The root of every exception the SDK raises on purpose."""


class InvalidArgumentError(FabricChatError, ValueError):
    """An argument is wrong; nothing was sent."""


class APIError(FabricChatError):
    """The server answered with an error status."""

    status: int
    code: str
    message: str
    attribute: str | None

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str = "",
        attribute: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.attribute = attribute

    def __str__(self) -> str:
        where = f" ({self.attribute})" if self.attribute else ""
        code = f" {self.code}" if self.code else ""
        return f"{self.status}{code}: {self.message}{where}"

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(status={self.status}, code={self.code!r}, message={self.message!r})"


class BadRequestError(APIError):
    """400: the request was malformed."""


class AuthenticationError(APIError):
    """401: the token is missing, malformed, forged or expired."""


class PermissionDeniedError(APIError):
    """403: the caller may not do this (not a member of the conversation)."""


class NotFoundError(APIError):
    """404: no such address or conversation, as far as the caller may know."""


class PayloadTooLargeError(APIError):
    """413: the text or body is over the server's limit."""


class UnprocessableEntityError(APIError):
    """422: the request was well formed but its values are not acceptable."""


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` is the server's hint in seconds."""

    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        code: str = "",
        attribute: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, attribute=attribute)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed."""


class ProtocolError(FabricChatError):
    """A body or frame did not follow the wire protocol."""


class ConnectionError(FabricChatError, builtins.ConnectionError):
    """The server could not be reached, or the connection dropped."""


class TimeoutError(FabricChatError, builtins.TimeoutError):
    """No answer arrived in time."""


class ClientClosedError(FabricChatError):
    """The client was used after it was closed."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[APIError]:
    """Return the exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)
