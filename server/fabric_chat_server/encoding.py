"""The server's one JSON encoder for response bodies.

Every key that §5 and §7 ask for is already on the wire: the spec marks the objects the server
sends (messages, addresses, conversations, the connect result...) ``omit_defaults: false``, and
keeps the page links (a missing key means no such page), error items and address channels sparse.
"""

from __future__ import annotations

import msgspec

__all__ = ["encode"]

encode = msgspec.json.Encoder().encode
