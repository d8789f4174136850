"""Which messages of a feed a caller sees, and how each is shown: one object, three readers.

A history page, a backfill after a refused resume and the live routing of socket events all
ask the same :class:`MessageView`, so the chat-only rule and the ``conversation_id`` rewrite are
written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from ._decoders import has_field

__all__ = ["ALL_MESSAGES", "MessageKey", "MessageView"]

T = TypeVar("T")


class MessageKey(msgspec.Struct):
    """The fields of a message event that routing, ordering and dedupe read."""

    id: str
    ts: float = 0.0
    group_id: str | None = None
    conversation_id: str | None = None
    subtype: str | None = None


@dataclass(frozen=True, slots=True)
class MessageView:
    """What one history call or subscription sees of the messages.

    Attributes:
        chat_only: Only chat messages (``subtype == "chat"``); logs and others are left out.
        address_id: The conversation, by the address the caller asked for; ``None``: all of them.
        group_id: The same conversation by its group, for live events (``None``: by address).
        rewrite_to: The ``conversation_id`` each shown message gets (``None``: as sent).
    """

    chat_only: bool = False
    address_id: str | None = None
    group_id: str | None = None
    rewrite_to: str | None = None

    @classmethod
    def of(
        cls,
        item_type: Any,
        *,
        address_id: str | None,
        chat_only: bool,
        group_id: str | None = None,
    ) -> MessageView:
        """Return the view of one call: a chat view of one address reports messages under it.

        The chat namespace shows each message under the address it was asked for (the server
        knows it by its group), when the item type has a ``conversation_id`` at all.
        """
        rewrite = chat_only and address_id is not None and has_field(item_type, "conversation_id")
        return cls(chat_only, address_id, group_id, address_id if rewrite else None)

    def keeps(self, item: object) -> bool:
        """Whether a decoded message is in the view."""
        return not self.chat_only or getattr(item, "subtype", None) == "chat"

    def shown(self, item: T) -> T:
        """Return the message as the view shows it (its ``conversation_id`` rewritten)."""
        target = self.rewrite_to
        if target is not None and getattr(item, "conversation_id", None) != target:
            return msgspec.structs.replace(item, conversation_id=target)  # type: ignore[type-var]
        return item

    def routes(self, key: MessageKey) -> bool:
        """Whether a live message event (read as its :class:`MessageKey`) is in the view."""
        if self.chat_only and key.subtype != "chat":
            return False
        if self.group_id is None:
            return True
        return key.group_id == self.group_id or (
            key.group_id is None and key.conversation_id == self.address_id
        )


ALL_MESSAGES = MessageView()
"""The view that keeps every message as it is."""
