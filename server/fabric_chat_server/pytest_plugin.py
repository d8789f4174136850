"""The pytest plugin of ``fabric-chat[test]``: a ``chat_server`` fixture.

pytest loads it by itself (the ``pytest11`` entry point) once fabric-chat is installed::

    from fabric_chat import Client

    def test_hello(chat_server):
        token = chat_server.token("alice", display_name="Alice")
        with Client(token=token) as client:
            assert client.get_subscriber_info().display_name == "Alice"

The fixture is a :class:`~fabric_chat_server.testing.ThreadedServer`: the real server on
127.0.0.1, a free port, a throwaway database, on its own thread, so that sync and async tests
alike can use it. This module imports nothing optional: without the ``test`` extra, using the
fixture raises one line naming the extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import ThreadedServer

__all__ = ["chat_server"]


@pytest.fixture
def chat_server() -> Iterator[ThreadedServer]:
    """Yield a fresh local chat server for one test; it stops when the test ends."""
    from ._extras import MissingExtraError, missing_extra_message

    try:
        from .testing import ThreadedServer
    except MissingExtraError:
        raise MissingExtraError(missing_extra_message("test", "the chat_server fixture")) from None
    with ThreadedServer() as server:
        yield server
