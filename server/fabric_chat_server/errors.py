"""Error answers: the §4 error body, and the middleware that makes every failure one.

Handlers raise :class:`ApiError`; aiohttp's own HTTP errors (unknown route, wrong method, body
too large) are rewritten into the same body; anything unexpected becomes a 500 whose body says
nothing about the server's internals, and is counted so tests can prove bad input never gets
there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec
from aiohttp import web
from fabric_chat.models import ErrorBody, ErrorItem

from .logs import escape_controls
from .store import StoreUnavailableError

__all__ = ["ApiError", "ErrorStats", "error_middleware", "error_response"]

logger = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode

_TYPES = {
    400: "validation_error",
    401: "authentication_error",
    403: "authorization_error",
    404: "not_found_error",
    405: "method_not_allowed_error",
    413: "validation_error",
    422: "validation_error",
    429: "rate_limit_error",
}
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_parameter",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error answer with the §4 body.

    Args:
        status: The HTTP status.
        message: What is wrong, for people (never a secret).
        code: A machine-readable code; defaults by status.
        attribute: The parameter or body key at fault.
        headers: Extra response headers (``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        attribute: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.attribute = attribute
        self.headers = headers or {}


@dataclass(slots=True)
class ErrorStats:
    """How many requests ended in an unexpected server fault."""

    unexpected: int = 0


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    attribute: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """Return a JSON response with the §4 error body."""
    item = ErrorItem(
        type=_TYPES.get(status, "server_error" if status >= 500 else "error"),
        code=code or _CODES.get(status, "internal_error" if status >= 500 else "error"),
        message=message,
        attribute=attribute,
    )
    return web.Response(
        status=status,
        body=_encode(ErrorBody(errors=[item])),
        content_type="application/json",
        headers=headers,
    )


def error_middleware(stats: ErrorStats) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Return a middleware that turns every failure into a §4 error answer."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(
                exc.status, exc.message, code=exc.code, attribute=exc.attribute, headers=exc.headers
            )
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            message = exc.reason if exc.status != 413 else "the request body is too large"
            return error_response(exc.status, message, headers=headers)
        except StoreUnavailableError as exc:
            logger.warning("the store is unavailable: %s", exc)
            return error_response(
                503, "the store is unavailable; retry shortly", headers={"Retry-After": "1"}
            )
        except Exception:
            stats.unexpected += 1
            path = escape_controls(request.path)  # decoded: %0A would be a newline
            logger.exception("unexpected error on %s %s", request.method, path)
            return error_response(500, "internal server error", code="internal_error")

    return middleware
