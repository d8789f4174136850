"""The error tree: one root, no builtin shadowed, builtins still caught, status error details."""

from __future__ import annotations

import builtins
import pickle

import fabric_chat
import pytest
from fabric_chat import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    FabricChatError,
    NotFoundError,
)
from fabric_chat_server.testing import LocalServer


def test_no_public_name_shadows_a_builtin_and_every_error_has_one_root() -> None:
    assert not set(fabric_chat.__all__) & set(dir(builtins))
    namespace: dict[str, object] = {}
    exec("from fabric_chat import *", namespace)
    assert namespace.get("ConnectionError", builtins.ConnectionError) is builtins.ConnectionError
    values = [getattr(fabric_chat, name) for name in fabric_chat.__all__]
    errors = [v for v in values if isinstance(v, type) and issubclass(v, BaseException)]
    assert len(errors) >= 15
    for cls in errors:
        assert issubclass(cls, FabricChatError), cls
        assert cls.__module__ == "fabric_chat", cls  # tracebacks say fabric_chat.NotFoundError
    assert issubclass(APIConnectionError, APIError)
    assert issubclass(APIConnectionError, builtins.ConnectionError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APITimeoutError, builtins.TimeoutError)
    assert issubclass(NotFoundError, APIStatusError)


async def test_a_status_error_carries_status_body_headers_and_request_id() -> None:
    async with LocalServer() as server:
        token = await server.token("alice")
        async with fabric_chat.AsyncClient(token=token) as client:
            with pytest.raises(APIError) as caught:
                await client.chat.join(address_id="00000000-0000-4000-8000-000000000000")
    error = caught.value
    assert isinstance(error, NotFoundError)
    assert error.status == 404
    assert isinstance(error.body, dict)
    assert error.body["errors"][0]["code"] == error.code
    assert error.headers["content-type"].startswith("application/json")
    assert error.request_id is not None
    assert error.request_id.startswith("req_")
    assert error.request_id in repr(error)
    assert token not in repr(error) + str(error)
    assert type(pickle.loads(pickle.dumps(error))) is NotFoundError
