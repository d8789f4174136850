"""The SDK's exceptions: one root, one class per kind of failure, as httpx and openai draw them.

::

    FabricChatError                    the root: every exception the SDK raises on purpose
    ├── InvalidArgumentError           a wrong argument, raised before any network call (ValueError)
    ├── ClientClosedError              the client was used after ``aclose()``
    └── APIError                       a call to the service failed, however it failed
        ├── APIStatusError             the server answered with an error status
        │   ├── BadRequestError            400
        │   ├── AuthenticationError        401 (and a token the socket refused)
        │   ├── PermissionDeniedError      403
        │   ├── NotFoundError              404
        │   ├── PayloadTooLargeError       413
        │   ├── UnprocessableEntityError   422
        │   ├── RateLimitError             429 (``retry_after`` in seconds, when the server said)
        │   └── ServerError                5xx
        ├── APIConnectionError         the server could not be reached, or the socket dropped
        │   └── APITimeoutError        no answer in time
        └── ProtocolError              a frame or body that does not follow the wire protocol

No name shadows a builtin, yet ``except ConnectionError`` / ``except TimeoutError`` still catch
:class:`APIConnectionError` / :class:`APITimeoutError` (they subclass the builtins). Every
:class:`APIStatusError` carries ``status``, ``code``, ``message`` and ``attribute`` from the
error body ``{"errors": [{"type", "code", "message", "attribute"?}]}``, the decoded ``body``,
the answer's ``headers`` and its ``request_id`` (the server's ``X-Request-Id``). No error ever
holds a token. The classes are importable from ``fabric_chat``, and name themselves so in
tracebacks (``fabric_chat.NotFoundError``).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ErrorDetail",
    "FabricChatError",
    "InvalidArgumentError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "ServerError",
    "UnprocessableEntityError",
    "error_for_status",
]


class FabricChatError(Exception):
    """The root of every exception the SDK raises on purpose."""


class InvalidArgumentError(FabricChatError, ValueError):
    """An argument is wrong; nothing was sent."""


class ClientClosedError(FabricChatError):
    """The client was used after it was closed."""


class APIError(FabricChatError):
    """A call to the service failed: an error answer, no connection, no answer in time."""


class APIStatusError(APIError):
    """The server answered with an error status.

    Attributes:
        status: The HTTP status (401 for a token the socket refused).
        code: The error body's machine-readable code (``not_found``...), or ``""``.
        message: What the server said is wrong.
        attribute: The parameter or body key at fault, when the server named one.
        body: The decoded error body, when it was JSON.
        headers: The answer's headers (lower-case names); empty for a socket refusal.
        request_id: The server's ``X-Request-Id`` for this request, when it sent one.
    """

    status: int
    code: str
    message: str
    attribute: str | None
    body: object
    headers: dict[str, str]
    request_id: str | None

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str = "",
        attribute: str | None = None,
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.attribute = attribute
        self.body = body
        self.headers = dict(headers) if headers is not None else {}
        self.request_id = self.headers.get("x-request-id")

    def __str__(self) -> str:
        where = f" ({self.attribute})" if self.attribute else ""
        code = f" {self.code}" if self.code else ""
        return f"{self.status}{code}: {self.message}{where}"

    def __repr__(self) -> str:
        name = type(self).__name__
        request = f", request_id={self.request_id!r}" if self.request_id else ""
        return (
            f"{name}(status={self.status}, code={self.code!r}, message={self.message!r}{request})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.message, dict(self.__dict__)))

    def with_response(self, *, body: object, headers: Mapping[str, str]) -> APIStatusError:
        """Attach the decoded error body and the answer's headers; return ``self``."""
        self.body = body
        self.headers = dict(headers)
        self.request_id = self.headers.get("x-request-id")
        return self


def _restore(cls: type[APIStatusError], message: str, state: dict[str, Any]) -> APIStatusError:
    """Rebuild a pickled status error (its keyword-only arguments are not in ``args``)."""
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class BadRequestError(APIStatusError):
    """400: the request was malformed."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, malformed, forged or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the caller may not do this (not a member of the conversation)."""


class NotFoundError(APIStatusError):
    """404: no such address or conversation, as far as the caller may know."""


class PayloadTooLargeError(APIStatusError):
    """413: the text or body is over the server's limit."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well formed but its values are not acceptable."""


class RateLimitError(APIStatusError):
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
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            message, status=status, code=code, attribute=attribute, body=body, headers=headers
        )
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the server failed."""


class APIConnectionError(APIError, builtins.ConnectionError):
    """The server could not be reached, or the connection dropped."""


class APITimeoutError(APIConnectionError, builtins.TimeoutError):
    """No answer arrived in time."""


class ProtocolError(APIError):
    """A body or frame did not follow the wire protocol."""


# The runtime's own modules still say errors.ConnectionError / errors.TimeoutError; these
# aliases are not exported (``fabric_chat`` never shadows the builtins).
ConnectionError = APIConnectionError
TimeoutError = APITimeoutError


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """The first item of an error body (empty strings when the body held none).

    The contract's vocabulary reads it from an answer (``Vocabulary.read_error``);
    :func:`error_from_response` turns it into an :class:`APIStatusError`.
    """

    code: str = ""
    message: str = ""
    attribute: str | None = None


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_from_response(
    status: int, detail: ErrorDetail, retry_after: float | None
) -> APIStatusError:
    """Map an error answer (its status and the first item of its error body) to an error."""
    message = detail.message or f"HTTP {status}"
    cls = error_for_status(status)
    if cls is RateLimitError:
        return RateLimitError(
            message,
            status=status,
            code=detail.code,
            attribute=detail.attribute,
            retry_after=retry_after,
        )
    return cls(message, status=status, code=detail.code, attribute=detail.attribute)


def error_for_status(status: int) -> type[APIStatusError]:
    """Return the exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIStatusError)


def _public(names: list[str], namespace: dict[str, Any]) -> None:
    # Tracebacks and reprs name the exceptions where users import them from: fabric_chat.
    for name in names:
        value = namespace[name]
        if isinstance(value, type) and issubclass(value, BaseException):
            value.__module__ = "fabric_chat"


_public(__all__, globals())
