"""What the generator knows of the runtime's frozen seam (``fabric_chat_runtime.engine.Engine``).

Each engine method: its positional and keyword arguments, the keyword that takes the struct type,
whether it takes ``timeout``, whether it is a coroutine, and the return kind it gives.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ENGINE_METHODS", "ERRORS", "SDK_TYPES", "EngineMethod"]


@dataclass(frozen=True, slots=True)
class EngineMethod:
    """One method of the runtime engine, as generated code calls it."""

    positional: tuple[str, ...]
    keywords: tuple[str, ...]
    optional: tuple[str, ...]
    type_keyword: str
    timeout: bool
    is_async: bool
    kind: str
    takes_operation: bool = False


ENGINE_METHODS: dict[str, EngineMethod] = {
    "request": EngineMethod(
        positional=(),
        keywords=("path", "query", "body", "idempotency_key"),
        optional=("path", "query", "body", "idempotency_key"),
        type_keyword="result_type",
        timeout=True,
        is_async=True,
        kind="object",
        takes_operation=True,
    ),
    "page": EngineMethod(
        positional=(),
        keywords=("page_size", "path"),
        optional=("path",),
        type_keyword="item_type",
        timeout=True,
        is_async=True,
        kind="page",
        takes_operation=True,
    ),
    "join": EngineMethod(
        positional=("address_id",),
        keywords=(),
        optional=(),
        type_keyword="result_type",
        timeout=True,
        is_async=True,
        kind="object",
    ),
    "send_message": EngineMethod(
        positional=("address_id",),
        keywords=("text", "metadata", "details"),
        optional=(),
        type_keyword="result_type",
        timeout=True,
        is_async=True,
        kind="object",
    ),
    "history": EngineMethod(
        positional=("address_id",),
        keywords=("page_size", "chat_only"),
        optional=(),
        type_keyword="item_type",
        timeout=True,
        is_async=True,
        kind="page",
    ),
    "iter_history": EngineMethod(
        positional=("address_id",),
        keywords=("page_size", "chat_only"),
        optional=(),
        type_keyword="item_type",
        timeout=False,
        is_async=False,
        kind="iterator",
    ),
    "subscribe": EngineMethod(
        positional=(),
        keywords=("on_message", "address_id", "chat_only"),
        optional=(),
        type_keyword="item_type",
        timeout=False,
        is_async=True,
        kind="subscription",
    ),
    "stream": EngineMethod(
        positional=(),
        keywords=("address_id", "chat_only"),
        optional=(),
        type_keyword="item_type",
        timeout=False,
        is_async=False,
        kind="stream",
    ),
}

SDK_TYPES: dict[str, str] = {
    "Page": "fabric_chat_runtime.pagination",
    "Subscription": "fabric_chat_runtime.subscriptions",
    "MessageStream": "fabric_chat_runtime.subscriptions",
}
"""The runtime module of each result type the spec's ``sdk_types`` documents."""

ERRORS: dict[str, str] = {
    "InvalidArgumentError": "An argument is wrong; nothing was sent.",
    "APIError": "The server answered with an error status.",
    "AuthenticationError": "The server refused the token; the socket will not reconnect.",
    "ConnectionError": "The server could not be reached, or the socket dropped.",
    "TimeoutError": "No answer arrived in time.",
    "ProtocolError": "The server's answer did not follow the wire protocol.",
    "ClientClosedError": "The client was used after it was closed.",
    "FabricChatError": "The SDK failed.",
}
"""The runtime's exceptions a method's ``raises`` may name, with the line its docstring gets."""
