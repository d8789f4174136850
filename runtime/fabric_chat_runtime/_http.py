"""Authenticated JSON calls with timeouts and bounded, jittered retries."""

# The seam's methods take a per-call ``timeout`` (seconds) by design; it bounds each HTTP attempt.
# ruff: noqa: ASYNC109

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec

from . import errors
from .contract import PageEnvelope, Vocabulary
from .retry import IDEMPOTENCY_KEY_HEADER, RetryPolicy, parse_retry_after
from .tokens import TokenSource
from .transport import HttpResponse, Transport
from .validation import require_seconds

__all__ = ["HttpClient"]

logger = logging.getLogger("fabric_chat.http")


#: Methods that change nothing on the server: repeating one after a timeout is safe.
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _decoded(body: bytes) -> object:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None


class HttpClient:
    """Sends requests with the bearer token; retries connection errors, 5xx and 429."""

    def __init__(
        self,
        transport: Transport,
        *,
        base_url: str,
        tokens: TokenSource,
        retry: RetryPolicy,
        timeout: float,
        is_closed: Callable[[], bool],
        vocabulary: Vocabulary,
    ) -> None:
        self._transport = transport
        self._vocabulary = vocabulary
        self._is_closed = is_closed
        self._base_url = base_url
        self._tokens = tokens
        self._retry = retry
        self._timeout = timeout

    def derive(self, *, timeout: float | None, max_attempts: int | None) -> HttpClient:
        """Return a client of the same transport and token with other call defaults."""
        derived = copy.copy(self)
        if timeout is not None:
            derived._timeout = timeout
        if max_attempts is not None:
            derived._retry = replace(self._retry, max_attempts=max_attempts)
        return derived

    def __repr__(self) -> str:
        return f"HttpClient(base_url={self._base_url!r})"

    def url(self, path: str, query: Mapping[str, str | int] | None = None) -> str:
        """Return the absolute URL of a path on the base URL (absolute URLs pass through).

        ``query``, when given, is appended (a paged route's first page).
        """
        url = path if path.startswith(("http://", "https://")) else self._base_url + path
        if query is None:
            return url
        return url + "?" + urlencode({key: str(value) for key, value in query.items()})

    def page_reader(
        self, item_type: Any, timeout: float | None = None
    ) -> Callable[[str], Awaitable[PageEnvelope]]:
        """Return a function that reads the page at a URL, its items decoded as ``item_type``.

        The function raises :class:`~fabric_chat_runtime.errors.ProtocolError` when the answer
        is not a page of such items, and whatever :meth:`call` raises.
        """
        decode = self._vocabulary.page_decoder(item_type)

        async def read(url: str) -> PageEnvelope:
            answer = await self.call("GET", url, timeout=timeout)
            try:
                return decode(answer)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise errors.ProtocolError(f"unexpected page: {exc}") from None

        return read

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> bytes:
        """Send one call, retrying as the policy says, and return the body of its answer.

        Args:
            method: The HTTP method.
            path: A path on the base URL, or an absolute URL (a page link) used verbatim.
            params: Query parameters.
            headers: Further request headers (never ``Authorization``, which the client sets);
                an ``Idempotency-Key`` among them counts as ``idempotency_key``.
            body: A JSON body, already encoded.
            timeout: Seconds for each attempt; the client's default when ``None``.
            idempotency_key: Sent as ``Idempotency-Key``, the same on every retry.

        Raises:
            InvalidArgumentError: ``timeout`` is not a positive, finite number; nothing was sent.
            APIError: The server answered with an error status (after any retries).
            ConnectionError: The server could not be reached (after any retries).
            TimeoutError: An attempt got no answer in time.
            ClientClosedError: The client is closed.
        """
        limit = self._timeout if timeout is None else require_seconds("timeout", timeout)
        sent: dict[str, str] = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = "application/json"
        if idempotency_key is not None:
            sent[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        else:
            idempotency_key = sent.get(IDEMPOTENCY_KEY_HEADER)
        url = self.url(path)
        policy = self._retry
        refused_once = False
        attempt = 0
        while attempt < policy.max_attempts:
            if self._is_closed():
                raise errors.ClientClosedError("the client is closed")
            last = attempt + 1 >= policy.max_attempts
            token = await self._tokens.current()
            sent["Authorization"] = "Bearer " + token
            started = time.perf_counter()
            try:
                response: HttpResponse = await self._transport.request(
                    method, url, params=params, headers=sent, body=body, timeout=limit
                )
            except errors.ConnectionError as exc:
                logger.info(
                    "%s %s failed after %.0fms: %s",
                    method,
                    urlsplit(url).path,
                    (time.perf_counter() - started) * 1000,
                    type(exc).__name__,
                )
                # A timed-out request may have been done: it is repeated only when repeating
                # is safe (a read, or a send that carries an idempotency key).
                timed_out = isinstance(exc, errors.APITimeoutError)
                if last or (timed_out and not (method in _SAFE or idempotency_key is not None)):
                    raise
                delay = policy.delay(attempt)
                logger.info("%s failed to connect; retry %d in %.2fs", method, attempt + 1, delay)
                await policy.sleep(delay)
                attempt += 1
                continue
            # One line per request: method, path (never the query), status, time, request id.
            logger.info(
                "%s %s %d %.0fms request_id=%s",
                method,
                urlsplit(url).path,
                response.status,
                (time.perf_counter() - started) * 1000,
                response.headers.get("x-request-id", "-"),
            )
            if response.status < 400:
                return response.body
            if response.status == 401 and self._tokens.refreshable and not refused_once:
                # The token expired or was revoked early: ask the provider once, go again.
                refused_once = True
                await self._tokens.refresh(stale=token)
                continue
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            detail = self._vocabulary.read_error(response.body)
            error = errors.error_from_response(response.status, detail, retry_after)
            error.with_response(body=_decoded(response.body), headers=response.headers)
            if last or not _retryable(response.status):
                raise error
            delay = policy.delay(attempt, retry_after)
            logger.info(
                "%s answered %d; retry %d in %.2fs", method, response.status, attempt + 1, delay
            )
            await policy.sleep(delay)
            attempt += 1
        raise AssertionError("unreachable")  # pragma: no cover
