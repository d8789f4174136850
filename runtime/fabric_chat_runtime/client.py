"""The base of the generated ``fabric_chat.Client``."""

from __future__ import annotations

from types import TracebackType

from .contract import Contract
from .engine import Engine

__all__ = ["BaseClient"]


class BaseClient:
    """Owns the engine (HTTP session, socket, caches) of one client.

    SEAM (frozen): the generated ``Client.__init__`` calls
    ``super().__init__(token=token, contract=CONTRACT, base_url=base_url, ws_url=ws_url,
    timeout=timeout, **options)`` and then builds its namespaces from ``self._engine``.
    URLs are derived from the token's ``ch`` header when omitted.
    """

    _engine: Engine

    def __init__(
        self,
        *,
        token: str,
        contract: Contract,
        base_url: str | None = None,
        ws_url: str | None = None,
        timeout: float = 30.0,
        **options: object,
    ) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> BaseClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        raise NotImplementedError
