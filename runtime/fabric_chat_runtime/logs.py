"""The SDK's loggers, all under ``fabric_chat``, and ``FABRIC_CHAT_LOG``.

``logging.getLogger("fabric_chat")`` is the parent of every logger of the SDK; each module
names its own, whatever the file is called (``fabric_chat.http``, ``fabric_chat.session``,
``fabric_chat.subscriptions``...), as httpcore does. Setting ``FABRIC_CHAT_LOG=info`` (or
``debug``) in the environment prints them on stderr without any logging setup of your own: at
``info``, one line per HTTP request (method, path, status, time, request id) and the socket's
connects and reconnects. No log line ever holds a token.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

__all__ = ["ENVIRONMENT_VARIABLE", "ROOT", "configure_from_environment"]

#: The root of the SDK's loggers.
ROOT = "fabric_chat"
#: The environment variable that switches the SDK's logging on: ``debug`` or ``info``.
ENVIRONMENT_VARIABLE = "FABRIC_CHAT_LOG"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``FABRIC_CHAT_LOG`` adds (once) to the ``fabric_chat`` logger."""


def configure_from_environment(environ: Mapping[str, str] = os.environ) -> int | None:
    """Apply ``FABRIC_CHAT_LOG`` (``debug`` or ``info``); return the level set, if any."""
    level = _LEVELS.get(environ.get(ENVIRONMENT_VARIABLE, "").strip().lower())
    if level is None:
        return None
    root = logging.getLogger(ROOT)
    if not any(isinstance(handler, _Handler) for handler in root.handlers):
        handler = _Handler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    return level
