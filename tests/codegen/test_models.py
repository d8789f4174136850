"""The generated structs: round trips from the spec's own schemas, forgiving decoding."""

from __future__ import annotations

import ast
import inspect
import itertools
import json
from typing import Any

import fabric_chat
import msgspec
import pytest
from fabric_chat import models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from codegen.build import object_json_schemas
from codegen.loader import load_spec

from .conftest import SPEC

OBJECTS: dict[str, Any] = load_spec(SPEC).data["objects"]
SCHEMAS = object_json_schemas(OBJECTS, "#/$defs/")

SEED_EXAMPLE = """{
"id": "3c114417-5cc0-4d03-a30f-c90659028d73",
"conversation_id": "9dbe9e94-c797-461e-b5a3-af6d095deaf4",
"user_id": "cecbe021-ff86-4ac6-bdf3-399ca477ad6f",
"ts": 1708192187.6779745,
"details": {},
"type": "message",
"subtype": "log"
}"""


_JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=8))
_FREE_OBJECT = st.dictionaries(
    st.text(max_size=6),
    st.recursive(_JSON_LEAF, lambda inner: st.lists(inner, max_size=2), max_leaves=4),
    max_size=3,
)


def _strategy(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Draw JSON values from one of the spec's JSON Schemas.

    Leaves (strings, numbers, booleans, null, arrays of scalars) come from hypothesis-jsonschema;
    objects are assembled here, because hypothesis-jsonschema 0.23's object strategy no longer
    runs on this Hypothesis version. Integers are bounded to what msgspec decodes.
    """
    if "$ref" in schema:
        return _strategy(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    if "anyOf" in schema:
        return st.one_of(*(_strategy(option) for option in schema["anyOf"]))
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if len(kinds) > 1:
        return st.one_of(*(_strategy({**schema, "type": kind}) for kind in kinds))
    kind = kinds[0]
    if kind == "object" and "properties" in schema:
        required = set(schema.get("required", ()))
        props = {name: _strategy(body) for name, body in schema["properties"].items()}
        return st.fixed_dictionaries(
            {name: strat for name, strat in props.items() if name in required},
            optional={name: strat for name, strat in props.items() if name not in required},
        )
    if kind == "object":
        return _FREE_OBJECT
    if kind == "array":
        items = schema["items"]
        if "$ref" in items or items.get("type") == "object":
            return st.lists(_strategy(items), max_size=3)
    if kind == "integer":
        schema = {"minimum": -(2**53), "maximum": 2**53, **schema}
    return from_schema({key: value for key, value in schema.items() if key != "default"})


def test_every_object_is_a_struct() -> None:
    for name in OBJECTS:
        struct = getattr(models, name)
        assert issubclass(struct, msgspec.Struct)
        config = struct.__struct_config__
        assert config.omit_defaults is OBJECTS[name].get("omit_defaults", True)
        assert not config.forbid_unknown_fields
        with pytest.raises(TypeError):
            struct("positional")  # kw_only: no positional arguments
        assert name in models.__all__


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_round_trip_from_the_spec_schema(name: str) -> None:
    struct = getattr(models, name)
    decoder = msgspec.json.Decoder(struct)

    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(_strategy(SCHEMAS[name]))
    def round_trip(value: dict[str, Any]) -> None:
        decoded = decoder.decode(json.dumps(value).encode())
        again = decoder.decode(msgspec.json.encode(decoded))
        assert again == decoded
        for key, item in value.items():
            if not isinstance(item, (dict, list)):
                assert getattr(decoded, key) == item

    round_trip()


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_spec_example_decodes(name: str) -> None:
    example = OBJECTS[name]["example"]
    decoded = msgspec.json.decode(json.dumps(example).encode(), type=getattr(models, name))
    assert _contains(msgspec.to_builtins(decoded), example)


def _contains(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` holds every key and value of ``expected`` (defaults may be omitted)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            _contains(actual.get(key, {} if value == {} else None), value)
            for key, value in expected.items()
            if not (value in ({}, [], False, None, "", 0) and key not in actual)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def test_seed_example_decodes_into_conversation_chat_message_intact() -> None:
    message = msgspec.json.decode(SEED_EXAMPLE.encode(), type=fabric_chat.ConversationChatMessage)
    assert message.id == "3c114417-5cc0-4d03-a30f-c90659028d73"
    assert message.conversation_id == "9dbe9e94-c797-461e-b5a3-af6d095deaf4"
    assert message.user_id == "cecbe021-ff86-4ac6-bdf3-399ca477ad6f"
    assert message.ts == 1708192187.6779745
    assert message.details == {}
    assert message.type == "message"
    assert message.subtype == "log"
    encoded = msgspec.json.decode(msgspec.json.encode(message))
    assert {key: encoded[key] for key in json.loads(SEED_EXAMPLE)} == json.loads(SEED_EXAMPLE)


def test_unknown_fields_are_ignored() -> None:
    raw = b'{"id": "m1", "subtype": "chat", "brand_new": {"x": [1, 2]}, "reactions": 3}'
    message = msgspec.json.decode(raw, type=fabric_chat.ConversationMessage)
    assert message == fabric_chat.ConversationMessage(id="m1", subtype="chat")


@pytest.mark.parametrize(
    ("struct", "raw", "field", "value"),
    [
        (
            fabric_chat.ConversationMessage,
            b'{"id":"m","subtype":"reaction"}',
            "subtype",
            "reaction",
        ),
        (fabric_chat.ConversationChatMessage, b'{"id":"m","type":"poll"}', "type", "poll"),
        (fabric_chat.Address, b'{"id":"a","type":"spaceship"}', "type", "spaceship"),
        (
            models.EventParams,
            b'{"event_type":"conversation.typing"}',
            "event_type",
            "conversation.typing",
        ),
    ],
)
def test_unknown_type_values_still_decode(
    struct: type[msgspec.Struct], raw: bytes, field: str, value: str
) -> None:
    assert getattr(msgspec.json.decode(raw, type=struct), field) == value


def test_missing_fields_take_their_defaults() -> None:
    conversation = msgspec.json.decode(b'{"id": "c"}', type=fabric_chat.Conversation)
    assert conversation.last_message is None
    assert conversation.metadata == {}
    page = msgspec.json.decode(b"{}", type=models.ConversationMessagePage)
    assert page.data == []
    assert page.links.next is None


def test_required_fields_are_required() -> None:
    with pytest.raises(msgspec.ValidationError, match="id"):
        msgspec.json.decode(b"{}", type=fabric_chat.ConversationMessage)
    with pytest.raises(TypeError):
        models.SendMessageRequest()  # type: ignore[call-arg]


def test_page_links_field_named_self_round_trips() -> None:
    links = msgspec.json.decode(
        b'{"self": "http://x/1", "next": "http://x/2"}', type=models.PageLinks
    )
    assert links.self == "http://x/1"
    assert links.prev is None
    assert msgspec.json.encode(links) == b'{"self":"http://x/1","next":"http://x/2"}'


def test_objects_the_server_sends_carry_every_key_on_the_wire() -> None:
    """PROTOCOL.md §5: a message carries the union of both dialects' names, nulls included."""
    encoded = msgspec.json.decode(msgspec.json.encode(models.ConversationMessage(id="m1")))
    assert set(encoded) == set(models.ConversationMessage.__struct_fields__)
    for key in ("group_id", "conversation_id", "from_fabric_address_id", "from_address_id", "kind"):
        assert key in encoded
    assert encoded["kind"] is None
    assert encoded["hidden"] is False


def test_request_bodies_and_links_leave_absent_keys_out() -> None:
    """A missing link means no such page (§6); a group-dialect body names no address-dialect key."""
    links = msgspec.json.decode(msgspec.json.encode(models.PageLinks(self="a", first="a")))
    assert "next" not in links
    assert "prev" not in links
    body = models.SendMessageRequest(group_id="g", from_fabric_address_id="me", text="hi")
    assert set(msgspec.json.decode(msgspec.json.encode(body))) == {
        "group_id",
        "from_fabric_address_id",
        "text",
    }


def _words(text: str | None) -> str:
    return " ".join((text or "").split())


def test_every_field_has_its_spec_description_as_docstring() -> None:
    tree = ast.parse(inspect.getsource(models))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for name, obj in OBJECTS.items():
        body = classes[name].body
        assert _words(ast.get_docstring(classes[name])) == _words(obj["description"]), name
        docs: dict[str, str] = {}
        for field, after in itertools.pairwise(body):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
            ):
                docs[field.target.id] = _words(str(after.value.value))
        for prop_name, prop in obj["properties"].items():
            assert docs[prop_name].startswith(_words(prop["description"])), (name, prop_name)
