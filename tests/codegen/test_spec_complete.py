"""spec/chat.yaml describes all of PROTOCOL.md §4, §5, §7 and the seed page, point by point."""

from __future__ import annotations

from typing import Any

import pytest
from fabric_chat._protocol import (
    CONVERSATION_MESSAGE,
    CONVERSATION_MESSAGE_UPDATED,
    INVALID_PARAMS,
    RESUME_REFUSED,
    SIGNALWIRE_AUTHORIZATION_STATE,
    SIGNALWIRE_CONNECT,
    SIGNALWIRE_DISCONNECT,
    SIGNALWIRE_EVENT,
    SIGNALWIRE_PING,
    SIGNALWIRE_REAUTHENTICATE,
    SUBSCRIBER_OFFLINE,
    SUBSCRIBER_ONLINE,
    TOKEN_ERROR,
)

from codegen.build import build_ir
from codegen.loader import load_spec

from .conftest import SPEC

DATA: dict[str, Any] = load_spec(SPEC).data
OBJECTS: dict[str, Any] = DATA["objects"]

# The seed page's ConversationChatMessage, field by field, word for word.
SEED_FIELDS = {
    "id": "A unique identifier for the conversation message.",
    "conversation_id": "A unique identifier of the parent conversation.",
    "user_id": "A unique identifier for the subscriber.",
    "ts": "The timestamp, in Unix Epoch, when the message was created.",
    "details": "Additional metadata associated with the conversation.",
    "type": "The type of the conversation message.",
    "subtype": "The subtype of the conversation message.",
}
SEED_EXAMPLE = {
    "id": "3c114417-5cc0-4d03-a30f-c90659028d73",
    "conversation_id": "9dbe9e94-c797-461e-b5a3-af6d095deaf4",
    "user_id": "cecbe021-ff86-4ac6-bdf3-399ca477ad6f",
    "ts": 1708192187.6779745,
    "details": {},
    "type": "message",
    "subtype": "log",
}

# PROTOCOL.md §5 (and §4 for SubscriberInfo, Conversation, the join answer, §6 the page).
PROTOCOL_FIELDS = {
    "Address": {
        "id", "name", "display_name", "type", "resource_id", "channels", "locked",
        "created_at", "cover_url", "preview_url",
    },
    "AddressChannels": {"messaging", "audio", "video"},
    "ConversationMessage": {
        "id", "group_id", "conversation_id", "from_fabric_address_id", "from_address_id",
        "user_id", "user_name", "ts", "type", "subtype", "kind", "text", "metadata", "details",
        "hidden", "conversation_name",
    },
    "ConversationChatMessage": {
        "id", "conversation_id", "user_id", "ts", "details", "type", "subtype", "text",
        "group_id", "from_address_id", "user_name", "metadata",
    },
    "Conversation": {
        "id", "group_id", "address_id", "name", "metadata", "created_at", "last_message_at",
        "from_fabric_address_id",
    },
    "JoinConversationResponse": {"group_id", "fabric_address_ids", "from_fabric_address_id"},
    "SubscriberInfo": {"id", "email", "display_name", "fabric_addresses"},
    "PageLinks": {"self", "first", "next", "prev"},
    "ConversationMessagePage": {"data", "links"},
    "ErrorBody": {"errors"},
    "ErrorItem": {"type", "code", "message", "attribute"},
    "ConnectParams": {
        "version", "event_acks", "agent", "authentication", "protocol", "authorization_state",
    },
    "ConnectResult": {"identity", "protocol", "ice_servers", "authorization"},
    "ConnectAuthorization": {"jti", "project_id", "fabric_subscriber"},
    "FabricSubscriberAuthorization": {
        "version", "expires_at", "subscriber_id", "application_id", "project_id", "space_id",
    },
    "EventParams": {"event_type", "event_channel", "timestamp", "is_author", "params"},
    "PingParams": {"timestamp"},
    "AuthorizationStateParams": {"authorization_state"},
    "ReauthenticateParams": {"authentication"},
    "RpcAuthentication": {"project", "jwt_token"},
}  # fmt: skip

# PROTOCOL.md §4: (method, path) -> success status, and the error statuses it must declare.
ROUTES = {
    ("GET", "/api/fabric/subscriber/info"): (200, {401}),
    ("GET", "/api/fabric/addresses"): (200, {401, 422}),
    ("GET", "/api/fabric/addresses/{address_id}"): (200, {401, 404}),
    ("POST", "/api/fabric/conversations/join"): (200, {400, 401, 403, 404, 413, 422}),
    ("GET", "/api/fabric/conversations"): (200, {401, 422}),
    ("GET", "/api/fabric/conversations/{key}/messages"): (200, {401, 403, 404, 422}),
    ("GET", "/api/fabric/messages"): (200, {401, 422}),
    ("POST", "/api/fabric/messages"): (201, {400, 401, 403, 404, 413, 422}),
    ("POST", "/api/fabric/subscribers/tokens"): (200, {400, 401, 422}),
}

# The seed page's methods of the chat namespace: JS names, parameters, defaults.
SEED_METHODS = {
    "get_messages": (
        "getMessages",
        {
            "address_id": (
                "addressId",
                "Chat messages exchanged with this particular address id will be fetched.",
            ),
            "page_size": ("pageSize", "The amount of messages per pagination page."),
        },
    ),
    "subscribe": (
        "subscribe",
        {
            "address_id": ("addressId", "The address to subscribe to."),
            "on_message": (
                "onMessage",
                "The callback that gets called when a new message event happens.",
            ),
        },
    ),
    "send_message": (
        "sendMessage",
        {
            "address_id": ("addressId", "The ID of the Address where to send the message."),
            "text": ("text", "The Message text content."),
            "metadata": ("metadata", "Metadata to go along with the Message."),
            "details": (
                "details",
                "Extra Message event details. Can be used to construct custom UIs, for example.",
            ),
        },
    ),
    "join": (
        "join",
        {"address_id": ("addressId", "The id of the address to join the conversation of.")},
    ),
}


def test_conversation_chat_message_has_the_seed_fields_word_for_word() -> None:
    obj = OBJECTS["ConversationChatMessage"]
    assert obj["description"].startswith(
        "ConversationChatMessage objects represent the specific interactions"
    )
    for name, description in SEED_FIELDS.items():
        assert obj["properties"][name]["description"] == description, name
    assert {key: obj["example"][key] for key in SEED_EXAMPLE} == SEED_EXAMPLE
    assert obj["properties"]["type"]["known_values"] == ["message"]
    assert set(obj["properties"]["subtype"]["known_values"]) == {"chat", "log"}


@pytest.mark.parametrize("name", sorted(PROTOCOL_FIELDS))
def test_every_protocol_object_has_its_fields(name: str) -> None:
    obj = OBJECTS[name]
    assert PROTOCOL_FIELDS[name] <= set(obj["properties"]), name
    assert obj["description"]
    assert obj["example"] is not None
    for prop in obj["properties"].values():
        assert prop["description"].strip()


def test_address_type_and_message_subtypes_are_the_protocol_values() -> None:
    address_type = OBJECTS["Address"]["properties"]["type"]["known_values"]
    assert address_type == ["subscriber", "room", "app", "call"]
    message = OBJECTS["ConversationMessage"]["properties"]
    assert set(message["subtype"]["known_values"]) == {"chat", "log"}
    assert message["ts"]["type"] == "number"


def test_every_rest_route_of_the_protocol_is_described() -> None:
    operations = DATA["operations"]
    found = {(op["method"], op["path"]): op for op in operations.values()}
    for route, (status, errors) in ROUTES.items():
        op = found[route]
        assert op["response"]["status"] == status, route
        assert errors <= set(op["errors"]), route
        assert 429 in op["errors"], route
        assert op["summary"]
        assert op["response"]["type"] in OBJECTS
        if op["method"] == "POST":
            assert op["body"] in OBJECTS, route
    assert set(map(int, DATA["error_statuses"])) == {
        400,
        401,
        403,
        404,
        409,
        413,
        415,
        422,
        429,
        500,
        503,
    }
    paged = [op for op in operations.values() if op["response"]["type"].endswith("Page")]
    assert len(paged) == 4
    for op in paged:
        assert {"$ref": "page_size"} in op["params"]
        assert {"$ref": "page_token"} in op["params"]
    size = DATA["parameters"]["page_size"]
    maximum = DATA["limits"][size["maximum"]]["value"]  # the parameter names a limit
    assert (size["default"], size["minimum"], maximum) == (10, 1, 1000)


def test_join_and_send_bodies_carry_both_dialects() -> None:
    join = set(OBJECTS["JoinConversationRequest"]["properties"])
    assert {"conversation_id", "from_fabric_address_id", "fabric_address_ids"} <= join
    send = set(OBJECTS["SendMessageRequest"]["properties"])
    assert {
        "conversation_id",
        "group_id",
        "from_fabric_address_id",
        "from_address_id",
        "text",
        "metadata",
        "details",
    } <= send


def test_every_json_rpc_method_and_event_of_the_protocol_is_described() -> None:
    ws = DATA["websocket"]
    assert ws["path"] == "/"
    methods = ws["rpc_methods"]
    assert {name: m["direction"] for name, m in methods.items()} == {
        SIGNALWIRE_CONNECT: "client",
        SIGNALWIRE_PING: "both",
        SIGNALWIRE_EVENT: "server",
        SIGNALWIRE_DISCONNECT: "server",
        SIGNALWIRE_REAUTHENTICATE: "client",
        # Sent by the current official client after every connect (found in tests/browser).
        SUBSCRIBER_ONLINE: "client",
        SUBSCRIBER_OFFLINE: "client",
    }
    assert (methods[SIGNALWIRE_CONNECT]["params"], methods[SIGNALWIRE_CONNECT]["result"]) == (
        "ConnectParams",
        "ConnectResult",
    )
    assert methods[SIGNALWIRE_CONNECT]["errors"] == [TOKEN_ERROR, RESUME_REFUSED, INVALID_PARAMS]
    assert {name: e["payload"] for name, e in ws["events"].items()} == {
        CONVERSATION_MESSAGE: "ConversationMessage",
        CONVERSATION_MESSAGE_UPDATED: "ConversationMessage",
        SIGNALWIRE_AUTHORIZATION_STATE: "AuthorizationStateParams",
    }


@pytest.mark.parametrize("py_name", sorted(SEED_METHODS))
def test_chat_namespace_methods_follow_the_seed(py_name: str) -> None:
    method = DATA["namespaces"]["chat"]["methods"][py_name]
    js_name, params = SEED_METHODS[py_name]
    assert method["js_name"] == js_name
    assert method["js_signature"].startswith(f"{js_name}(options)")
    for name, (js_param, description) in params.items():
        param = method["params"][name]
        assert param["js_name"] == js_param
        assert param["description"].rstrip(".") == description.rstrip(".")
    assert method["summary"]
    assert method["example"].strip()
    assert f"client.chat.{py_name}(" in method["example"]


def test_seed_defaults_and_return_types() -> None:
    chat = DATA["namespaces"]["chat"]["methods"]
    returns = {m.py_name: m.returns for m in build_ir(DATA).client.namespaces[0].methods}
    assert chat["get_messages"]["params"]["page_size"]["default"] == 10
    assert returns["get_messages"] == "Page[ConversationChatMessage]"
    assert returns["subscribe"] == "Subscription"
    assert returns["send_message"] == "Conversation"
    assert returns["join"] == "JoinConversationResponse"
    assert chat["send_message"]["params"]["metadata"]["default"] is None
    assert chat["send_message"]["params"]["details"]["default"] is None
    assert chat["send_message"]["summary"] == "Send a Chat Message to a given Address ID."
    assert chat["join"]["summary"] == (
        "Joins a conversation given an address without having to send a message."
    )


def test_conversation_namespace_is_complete() -> None:
    methods = DATA["namespaces"]["conversation"]["methods"]
    assert {name: m["js_name"] for name, m in methods.items() if m["js_name"]} == {
        "get_conversations": "getConversations",
        "get_messages": "getMessages",
        "get_conversation_messages": "getConversationMessages",
        "send_message": "sendMessage",
        "join": "join",
        "subscribe": "subscribe",
    }
    for method in methods.values():
        if "page_size" in method["params"]:
            assert method["params"]["page_size"]["default"] == 10
