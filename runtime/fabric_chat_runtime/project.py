"""The base of the generated ``fabric_chat.project.ProjectClient``: calls with project credentials.

A project (its id and API token, sent as HTTP Basic) mints subscriber tokens and creates
addresses; the spec marks those operations ``auth: basic`` and the generated class has one
method each, which calls :meth:`BaseProjectClient._call` with the route's operation id.
"""

# The generated methods take a per-call ``timeout`` (seconds) by design.
# ruff: noqa: ASYNC109

from __future__ import annotations

import base64
from types import TracebackType
from typing import Self, TypeVar

import msgspec

from . import errors
from .client import AGENT
from .contract import Contract, decoder, encode
from .retry import parse_retry_after
from .transport import Transport
from .validation import require_seconds

__all__ = ["BaseProjectClient"]

T = TypeVar("T")


class BaseProjectClient:
    """Owns one HTTP session authenticated with a project's id and API token.

    ``async with ProjectClient(project_id=..., project_token=...) as project:``; the token
    never appears in a repr, a log line or an error.
    """

    def __init__(
        self,
        *,
        contract: Contract,
        project_id: str,
        project_token: str,
        base_url: str,
        timeout: float = 30.0,
        connector: object | None = None,
    ) -> None:
        if not project_id or not project_token:
            raise errors.InvalidArgumentError("project_id and project_token are required")
        if contract.vocabulary is None:
            raise errors.InvalidArgumentError("the contract has no wire vocabulary")
        require_seconds("timeout", timeout)
        self._contract = contract
        self._read_error = contract.vocabulary.read_error
        self.project_id = project_id
        pair = f"{project_id}:{project_token}".encode()
        self._authorization = "Basic " + base64.b64encode(pair).decode()
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = Transport(user_agent=AGENT, connector=connector)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, project_id={self.project_id!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session; idempotent."""
        await self._transport.aclose()

    async def _call(
        self, operation_id: str, body: object, result_type: type[T], timeout: float | None
    ) -> T:
        """Call one route of the contract with the project's credentials; decode its answer.

        Raises:
            APIStatusError: The server answered with an error status (its subclass by status).
            APIConnectionError: The server could not be reached (or timed out).
            ProtocolError: The answer is not a ``result_type``.
        """
        route = self._contract.route(operation_id)
        answer = await self._transport.request(
            route.method,
            self.base_url + route.expand(),
            headers={"Authorization": self._authorization, "Content-Type": "application/json"},
            body=encode(body),
            timeout=self._timeout if timeout is None else timeout,
        )
        if answer.status >= 400:
            retry_after = parse_retry_after(answer.headers.get("retry-after"))
            detail = self._read_error(answer.body)
            raise errors.error_from_response(answer.status, detail, retry_after)
        try:
            value: T = decoder(result_type).decode(answer.body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise errors.ProtocolError(f"unexpected answer to {operation_id}: {exc}") from None
        return value
