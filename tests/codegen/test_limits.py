"""Limits are declared once in the spec and reach the contract, the exports and the reference."""

from __future__ import annotations

import json
from pathlib import Path

from fabric_chat.contract import FIELD_RULES, LIMITS

from codegen.loader import load_spec

ROOT = Path(__file__).resolve().parents[2]
DATA = load_spec(ROOT / "spec" / "chat.yaml").data
OPENAPI = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
ASYNCAPI = json.loads((ROOT / "docs" / "asyncapi.json").read_text(encoding="utf-8"))
REFERENCE = (ROOT / "docs" / "reference" / "chat.md").read_text(encoding="utf-8")


def test_every_limit_of_the_spec_is_in_the_generated_contract() -> None:
    for name, body in DATA["limits"].items():
        assert getattr(LIMITS, name) == body["value"]


def test_openapi_carries_the_limits_a_request_must_keep() -> None:
    schemas = OPENAPI["components"]["schemas"]
    send = schemas["SendMessageRequest"]["properties"]
    assert send["text"]["maxLength"] == LIMITS.text_bytes
    assert send["group_id"]["maxLength"] == LIMITS.id_length
    assert send["group_id"]["pattern"] == LIMITS.id_pattern
    assert send["metadata"]["x-limits"]["json_depth"] == LIMITS.json_depth
    assert schemas["CreateAddressRequest"]["properties"]["type"]["enum"] == ["room", "app"]
    operation = OPENAPI["paths"]["/api/fabric/messages"]["get"]
    page_size = next(p for p in operation["parameters"] if p["name"] == "page_size")
    assert page_size["schema"]["maximum"] == LIMITS.page_size
    send_op = OPENAPI["paths"]["/api/fabric/messages"]["post"]
    key = next(p for p in send_op["parameters"] if p["name"] == "Idempotency-Key")
    assert key["schema"]["maxLength"] == LIMITS.key_length


def test_asyncapi_carries_the_token_length() -> None:
    schemas = ASYNCAPI["components"]["schemas"]
    token = schemas["RpcAuthentication"]["properties"]["jwt_token"]
    assert token["maxLength"] == LIMITS.token_length


def test_the_reference_has_a_limits_table_generated_from_the_spec() -> None:
    section = REFERENCE.split("## Limits", 1)[1].split("\n## ", 1)[0]
    for name, body in DATA["limits"].items():
        assert f"| `{name}` | `{body['value']}` | {body['unit']} |" in section.replace("\\|", "|")


def test_the_models_stay_forgiving_while_the_rules_are_strict() -> None:
    import msgspec
    from fabric_chat.models import SendMessageRequest

    long_text = "x" * (LIMITS.text_bytes + 1)
    decoded = msgspec.json.decode(msgspec.json.encode({"text": long_text}), type=SendMessageRequest)
    assert decoded.text == long_text
    assert FIELD_RULES["SendMessageRequest"]["text"].max_length == LIMITS.text_bytes
