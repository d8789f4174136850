"""``python -m codegen diff OLD NEW``: one pair of specs per rule, and the repository itself.

Each case edits a copy of the real spec's data in one way and expects the one change it makes,
breaking or compatible; the command exits 1 exactly when something breaks.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fabric_chat._protocol import CONVERSATION_MESSAGE_UPDATED, SIGNALWIRE_REAUTHENTICATE

from codegen.__main__ import main
from codegen.diff import Change, diff_specs

from .conftest import ROOT, SPEC

BASE: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))

Edit = Callable[[dict[str, Any]], None]


def _chat(data: dict[str, Any]) -> dict[str, Any]:
    methods: dict[str, Any] = data["namespaces"]["chat"]["methods"]
    return methods


def _conversation(data: dict[str, Any]) -> dict[str, Any]:
    methods: dict[str, Any] = data["namespaces"]["conversation"]["methods"]
    return methods


def _props(data: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = data["objects"][name]["properties"]
    return props


def _rename_method(data: dict[str, Any]) -> None:
    methods = _conversation(data)
    methods["list_conversations"] = methods.pop("get_conversations")


def _add_field(required: bool) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        prop: dict[str, Any] = {"type": "string", "description": "New."}
        if required:
            data["objects"]["Address"]["required"].append("nickname")
        else:
            prop["default"] = ""
        _props(data, "Address")["nickname"] = prop

    return edit


def _add_param(required: bool) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        param: dict[str, Any] = {"type": "string", "description": "New."}
        if not required:
            param["default"] = None
        _chat(data)["join"]["params"]["reason"] = param

    return edit


# (case id, edit, where, what, breaking)
CASES: list[tuple[str, Edit, str, str, bool]] = [
    (
        "method-removed",
        lambda d: _chat(d).pop("stream"),
        "client.chat",
        "method 'stream' removed",
        True,
    ),
    (
        "method-renamed",
        _rename_method,
        "client.conversation",
        "method 'get_conversations' removed",
        True,
    ),
    (
        "method-added",
        lambda d: _chat(d).__setitem__("stream_again", _chat(d)["stream"]),
        "client.chat",
        "method 'stream_again' added",
        False,
    ),
    (
        "namespace-removed",
        lambda d: d["namespaces"].pop("conversation"),
        "client",
        "namespace 'client.conversation' removed",
        True,
    ),
    (
        "parameter-removed",
        lambda d: _chat(d)["send_message"]["params"].pop("details"),
        "client.chat.send_message",
        "parameter 'details' removed",
        True,
    ),
    (
        "parameter-added-required",
        _add_param(True),
        "client.chat.join",
        "parameter 'reason' added as required",
        True,
    ),
    (
        "parameter-added-optional",
        _add_param(False),
        "client.chat.join",
        "parameter 'reason' added",
        False,
    ),
    (
        "parameter-newly-required",
        lambda d: _chat(d)["get_messages"]["params"]["page_size"].pop("default"),
        "client.chat.get_messages.page_size",
        "parameter newly required",
        True,
    ),
    (
        "parameter-default-changed",
        lambda d: _chat(d)["get_messages"]["params"]["page_size"].__setitem__("default", 20),
        "client.chat.get_messages.page_size",
        "default changed from 10 to 20",
        True,
    ),
    (
        "parameter-bound-narrowed",
        lambda d: _chat(d)["get_messages"]["params"]["page_size"].__setitem__("maximum", 100),
        "client.chat.get_messages.page_size",
        "maximum lowered to 100",
        True,
    ),
    (
        "parameter-type-narrowed",
        lambda d: _chat(d)["get_messages"]["params"]["page_size"].__setitem__("type", "boolean"),
        "client.chat.get_messages.page_size",
        "type narrowed (integer no longer admitted)",
        True,
    ),
    (
        "returns-changed",
        lambda d: _chat(d)["send_message"]["engine"].__setitem__("type", "ConversationMessage"),
        "client.chat.send_message",
        "what the method returns changed",
        True,
    ),
    (
        "field-removed",
        lambda d: _props(d, "Address").pop("locked"),
        "objects.Address",
        "field 'locked' removed",
        True,
    ),
    (
        "field-added-optional",
        _add_field(False),
        "objects.Address",
        "field 'nickname' added",
        False,
    ),
    (
        "field-added-required",
        _add_field(True),
        "objects.Address",
        "field 'nickname' added as required",
        True,
    ),
    (
        "field-newly-required",
        lambda d: (
            d["objects"]["Address"]["required"].append("name"),
            _props(d, "Address")["name"].pop("default"),
        ),
        "objects.Address.name",
        "field newly required",
        True,
    ),
    (
        "field-type-narrowed",
        lambda d: _props(d, "ConversationMessage")["text"].update(type="string", default=""),
        "objects.ConversationMessage.text",
        "type narrowed (null no longer admitted)",
        True,
    ),
    (
        "field-type-widened",
        lambda d: _props(d, "ConversationMessage")["ts"].__setitem__("type", ["number", "null"]),
        "objects.ConversationMessage.ts",
        "type widened (null admitted)",
        False,
    ),
    (
        "field-default-changed",
        lambda d: _props(d, "Address")["locked"].__setitem__("default", True),
        "objects.Address.locked",
        "default changed from False to True",
        True,
    ),
    (
        "object-removed",
        lambda d: d["objects"].pop("EmptyResult"),
        "objects",
        "object 'EmptyResult' removed",
        True,
    ),
    (
        "operation-removed",
        lambda d: d["operations"].pop("getAddress"),
        "operations",
        "operation 'getAddress' removed",
        True,
    ),
    (
        "operation-added",
        lambda d: d["operations"].__setitem__("getAddress2", d["operations"]["getAddress"]),
        "operations",
        "operation 'getAddress2' added",
        False,
    ),
    (
        "operation-moved",
        lambda d: d["operations"]["getAddress"].__setitem__(
            "path", "/api/fabric/address/{address_id}"
        ),
        "operations.getAddress",
        "path changed from /api/fabric/addresses/{address_id} to /api/fabric/address/{address_id}",
        True,
    ),
    (
        "route-parameter-removed",
        lambda d: d["operations"]["sendMessage"].pop("params"),
        "operations.sendMessage",
        "parameter 'Idempotency-Key' removed",
        True,
    ),
    (
        "route-parameter-newly-required",
        lambda d: d["operations"]["sendMessage"]["params"][0].__setitem__("required", True),
        "operations.sendMessage.Idempotency-Key",
        "parameter newly required",
        True,
    ),
    (
        "limit-lowered",
        lambda d: d["limits"]["text_bytes"].__setitem__("value", 100),
        "limits.text_bytes",
        "value changed from 65536 to 100",
        True,
    ),
    (
        "limit-raised",
        lambda d: d["limits"]["text_bytes"].__setitem__("value", 100000),
        "limits.text_bytes",
        "value changed from 65536 to 100000",
        False,
    ),
    (
        "field-bound-set",
        lambda d: _props(d, "ErrorItem")["message"].__setitem__("max_length", "text_bytes"),
        "objects.ErrorItem.message",
        "max_length set to 65536",
        True,
    ),
    (
        "field-pattern-changed",
        lambda d: _props(d, "CreateAddressRequest")["name"].__setitem__("pattern", "^[a-z]+$"),
        "objects.CreateAddressRequest.name",
        "pattern changed to '^[a-z]+$'",
        True,
    ),
    (
        "field-enum-narrowed",
        lambda d: _props(d, "CreateAddressRequest")["type"].__setitem__("enum", ["room"]),
        "objects.CreateAddressRequest.type",
        "enum narrowed (app no longer accepted)",
        True,
    ),
    (
        "event-removed",
        lambda d: d["websocket"]["events"].pop(CONVERSATION_MESSAGE_UPDATED),
        "websocket.events",
        f"event {CONVERSATION_MESSAGE_UPDATED!r} removed",
        True,
    ),
    (
        "rpc-method-removed",
        lambda d: d["websocket"]["rpc_methods"].pop(SIGNALWIRE_REAUTHENTICATE),
        "websocket.rpc_methods",
        f"JSON-RPC method {SIGNALWIRE_REAUTHENTICATE!r} removed",
        True,
    ),
]


@pytest.mark.parametrize(
    ("edit", "where", "what", "breaking"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_each_rule(edit: Edit, where: str, what: str, breaking: bool) -> None:
    new = copy.deepcopy(BASE)
    edit(new)
    changes = diff_specs(BASE, new)
    assert Change(breaking, where, what) in changes, changes
    assert any(change.breaking for change in changes) is breaking, changes


def test_the_same_spec_has_no_change() -> None:
    assert diff_specs(BASE, copy.deepcopy(BASE)) == []


def test_descriptions_are_not_surface() -> None:
    new = copy.deepcopy(BASE)
    _chat(new)["join"]["summary"] = "Join, in other words."
    _props(new, "Address")["id"]["description"] = "Another text."
    assert diff_specs(BASE, new) == []


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_cli_on_files_exits_one_on_a_breaking_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _write(tmp_path / "old.yaml", BASE)
    new_data = copy.deepcopy(BASE)
    _chat(new_data).pop("stream")
    _add_field(False)(new_data)
    new = _write(tmp_path / "new.yaml", new_data)
    assert main(["diff", str(old), str(new)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "BREAKING   client.chat: method 'stream' removed",
        "compatible objects.Address: field 'nickname' added",
        "1 breaking change(s), 1 compatible",
    ]
    assert main(["diff", str(new), str(new)]) == 0


def test_cli_exits_zero_on_compatible_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new_data = copy.deepcopy(BASE)
    _add_field(False)(new_data)
    assert main(["diff", str(SPEC), str(_write(tmp_path / "new.yaml", new_data))]) == 0
    assert capsys.readouterr().out.endswith("no breaking change, 1 compatible\n")


def test_cli_refuses_what_is_neither_file_nor_revision(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["diff", "no-such-revision-or-file", str(SPEC)]) == 2
    assert "neither a spec file nor a git revision" in capsys.readouterr().err


def test_make_spec_diff_on_the_repository() -> None:
    """``make spec-diff BASE=HEAD``: the working spec against the last commit's."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed-stamp", "spec-diff", "BASE=HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith(("no change", "no breaking change", f"{last.split()[0]} breaking"))
    assert (done.returncode == 1) == ("BREAKING" in done.stdout)


def test_a_spec_of_the_old_format_compares_by_what_methods_return() -> None:
    """Before binding by name, methods declared ``returns: {kind, type}`` and ``engine``."""
    old = copy.deepcopy(BASE)
    method = _conversation(old)["get_conversations"]
    del method["operation"]
    method["engine"] = {"method": "page", "operation": "listConversations", "type": "Conversation"}
    method["returns"] = {"kind": "page", "type": "Conversation"}
    assert diff_specs(old, BASE) == []
    method["returns"] = {"kind": "page", "type": "ConversationMessage"}
    method["engine"]["type"] = "ConversationMessage"
    assert diff_specs(old, BASE) == [
        Change(True, "client.conversation.get_conversations", "what the method returns changed")
    ]


def test_a_hand_written_iter_method_that_became_a_generated_twin_is_no_change() -> None:
    old = copy.deepcopy(BASE)
    paged = _chat(old)["get_messages"]
    _chat(old)["iter_messages"] = {
        "summary": "Iterate over every chat message.",
        "params": copy.deepcopy(paged["params"]),
        "engine": {"method": "iter_history", "type": "ConversationChatMessage"},
    }
    assert diff_specs(old, BASE) == []
    _chat(old)["iter_messages"]["engine"]["type"] = "ConversationMessage"
    assert diff_specs(old, BASE) == [
        Change(True, "client.chat.iter_messages", "what the method returns changed")
    ]
