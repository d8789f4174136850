"""The generated project-credentials client against the real local server."""

from __future__ import annotations

import pytest
from fabric_chat import AuthenticationError, UnprocessableEntityError
from fabric_chat.models import CreateAddressRequest, CreateSubscriberTokenRequest
from fabric_chat.project import ProjectClient
from fabric_chat_server.testing import LocalServer


async def test_mints_a_token_and_creates_a_room() -> None:
    async with LocalServer() as server:
        async with ProjectClient(
            project_id=server.project_id,
            project_token=server.project_token,
            base_url=server.base_url,
        ) as project:
            minted = await project.create_subscriber_token(
                CreateSubscriberTokenRequest(reference="alice", display_name="Alice")
            )
            room = await project.create_address(CreateAddressRequest(name="lobby", type="room"))
            again = await project.create_address(CreateAddressRequest(name="lobby", type="room"))
            assert server.project_token not in repr(project)
        assert minted.token.count(".") == 2
        assert room.id == again.id
        assert room.type == "room"


async def test_wrong_credentials_and_bad_bodies_get_typed_errors() -> None:
    async with LocalServer() as server:
        async with ProjectClient(
            project_id=server.project_id, project_token="PT-not-it-xyz", base_url=server.base_url
        ) as project:
            with pytest.raises(AuthenticationError) as refused:
                await project.create_subscriber_token(CreateSubscriberTokenRequest(reference="a"))
        assert "PT-not-it-xyz" not in str(refused.value)
        async with ProjectClient(
            project_id=server.project_id,
            project_token=server.project_token,
            base_url=server.base_url,
        ) as project:
            with pytest.raises(UnprocessableEntityError):
                await project.create_address(CreateAddressRequest(name=" ", type="room"))
