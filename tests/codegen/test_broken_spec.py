"""A broken spec stops the generator with ``FILE:LINE: what is wrong`` and writes nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "spec" / "chat.yaml").read_text(encoding="utf-8")

#: chat.send_message's spec from its idempotency_key's description to its example.
_KEY_TEXT = (
    "            description: >-\n"
    "              Sent as the Idempotency-Key header. Pass the same key when you retry a send "
    "that\n"
    "              failed or timed out: the server stores the message once and answers the retry\n"
    "              with it (the same key with other content is refused, 409). None: a fresh key "
    "per\n"
    "              call, which the call's own retries reuse.\n"
    "        returns:\n"
    "          description: The Conversation; its last_message is the message just sent.\n"
    "        engine: {method: send_message, type: Conversation, operation: sendMessage}\n"
    "        raises: [InvalidArgumentError, APIError, APIConnectionError, APITimeoutError]\n"
    "        example: |-\n"
)

# (case id, text to replace, replacement, anchor on the reported line, expected message)
CASES = [
    (
        "backslash-in-a-description",
        "    description: The longest name, display name, reference or email address.\n",
        "    description: The longest name (\\\\S), display name, reference or email address.\n",
        "The longest name (",
        "description holds a backslash or a triple quote",
    ),
    (
        "unknown-limit-name",
        "        max_length: text_bytes\n",
        "        max_length: text_byte\n",
        "max_length: text_byte",
        "max_length names unknown limit 'text_byte'",
    ),
    (
        "pattern-names-a-number-limit",
        "        max_length: text_bytes\n",
        "        pattern: text_bytes\n",
        "pattern: text_bytes",
        "pattern needs a limit of type str",
    ),
    (
        "unknown-type-reference",
        "items: {$ref: Address}\n        default: []\n        description: The subscriber's",
        "items: {$ref: Adress}\n        default: []\n        description: The subscriber's",
        "{$ref: Adress}",
        "unknown type reference 'Adress'",
    ),
    (
        "duplicate-key",
        "response: {status: 200, type: SubscriberInfo}",
        "response: {status: 200, type: SubscriberInfo, status: 201}",
        "status: 201}",
        "duplicate key 'status'",
    ),
    (
        "default-not-matching-type",
        "        default: 0.0\n        description: The timestamp, in Unix Epoch, when the "
        "message was created.\n      type:",
        "        default: soon\n        description: The timestamp, in Unix Epoch, when the "
        "message was created.\n      type:",
        "default: soon",
        "ConversationMessage.ts: default 'soon' does not match type number",
    ),
    (
        "path-param-missing-from-path",
        "path: /api/fabric/addresses/{address_id}",
        "path: /api/fabric/addresses/{id}",
        "{name: address_id, in: path",
        "getAddress: path parameter 'address_id' does not appear in the path",
    ),
    (
        "path-placeholder-undeclared",
        "path: /api/fabric/addresses/{address_id}",
        "path: /api/fabric/addresses/{id}",
        "path: /api/fabric/addresses/{id}",
        "getAddress: path placeholder {id} is not a declared parameter",
    ),
    (
        "event-without-payload",
        "belongs to changed.\n      payload: ConversationMessage\n",
        "belongs to changed.\n",
        "    conversation.message.updated:",
        "websocket/events/conversation.message.updated: 'payload' is a required property",
    ),
    (
        "event-payload-unknown",
        "      payload: AuthorizationStateParams",
        "      payload: AuthorisationState",
        "payload: AuthorisationState",
        "unknown payload type reference 'AuthorisationState'",
    ),
    (
        "engine-method-unknown",
        "{method: conversation_history, type: ConversationMessage, args: {chat_only: false}}",
        "{method: paged, type: ConversationMessage, args: {chat_only: false}}",
        "method: paged",
        "unknown engine method 'paged'",
    ),
    (
        "unknown-key",
        "    summary: List the address directory.",
        "    summary: List the address directory.\n    sumary: typo",
        "sumary: typo",
        "operations/listAddresses: unknown key 'sumary'",
    ),
    (
        "error-status-undescribed",
        "errors: [401, 404, 422, 429, 500]",
        "errors: [401, 404, 418, 429, 500]",
        "errors: [401, 404, 418, 429, 500]",
        "getAddress: error status 418 is not in error_statuses",
    ),
    (
        "optional-without-default",
        'for the address.\n      name:\n        type: string\n        default: ""\n',
        "for the address.\n      name:\n        type: string\n",
        "for the address.\n      name:",
        "Address.name: optional property has no default",
    ),
    (
        "required-unknown-property",
        "required: [reference]",
        "required: [referance]",
        "required: [referance]",
        "CreateSubscriberTokenRequest: required names unknown property 'referance'",
    ),
    (
        "parameter-default-out-of-range",
        "    type: integer\n    default: 10\n",
        "    type: integer\n    default: 0\n",
        "    default: 0\n",
        "page_size: default 0 is outside 1..1000",
    ),
    (
        "example-does-not-match",
        "      ts: 1708192187.6779745\n      details: {}\n      type: message\n      subtype: log",
        "      ts: yesterday\n      details: {}\n      type: message\n      subtype: log",
        "ts: yesterday",
        "ConversationChatMessage: example ts: 'yesterday' is not of type 'number'",
    ),
    (
        "unknown-operation",
        "operation: listConversations",
        "operation: listConvos",
        "operation: listConvos",
        "unknown operation 'listConvos'",
    ),
    (
        "engine-argument-missing",
        "{method: conversation_stream, type: ConversationChatMessage, args: {chat_only: true}}",
        "{method: conversation_stream, type: ConversationChatMessage}",
        "{method: conversation_stream, type: ConversationChatMessage}",
        "engine method 'conversation_stream' needs argument 'chat_only'",
    ),
    (
        "object-name-taken",
        "\n  ErrorBody:\n",
        "\n  Engine:\n",
        "\n  Engine:",
        "object name 'Engine' is already a public name of fabric_chat",
    ),
    (
        "export-object-missing",
        "\n  RpcError:\n",
        "\n  RpcFault:\n",
        "\nobjects:",
        "the exports need an object named 'RpcError'",
    ),
    (
        "js-signature-without-js-name",
        "        js_name: null\n        summary: Return the chat messages exchanged",
        "        js_name: null\n        js_signature: stream(options)\n"
        "        summary: Return the chat messages exchanged",
        "js_signature: stream(options)",
        "js_signature needs a js_name",
    ),
    (
        "js-signature-of-another-name",
        'js_signature: "join(options): Promise<JoinConversationResponse>"',
        'js_signature: "joinConversation(options): Promise<JoinConversationResponse>"',
        'js_signature: "joinConversation(options)',
        "js_signature must start with the js_name: join(...)",
    ),
    (
        "duplicate-js-name",
        "        js_name: getConversationMessages\n",
        "        js_name: getConversations\n",
        "get_conversation_messages:\n        js_name: getConversations",
        "duplicate js_name 'getConversations' in conversation",
    ),
    (
        "required-property-with-default",
        "    required: [reference]\n    properties:\n      reference:\n        type: string\n",
        "    required: [reference]\n    properties:\n      reference:\n        type: string\n"
        "        default: nobody\n",
        "default: nobody",
        "CreateSubscriberTokenRequest.reference: required property has a default",
    ),
    (
        "method-default-not-matching-type",
        "            type: integer\n            default: 10\n            minimum: 1\n"
        "            maximum: 1000\n            description: The amount of conversations",
        "            type: integer\n            default: ten\n            minimum: 1\n"
        "            maximum: 1000\n            description: The amount of conversations",
        "default: ten",
        "page_size: default 'ten' does not match type integer",
    ),
    (
        "field-name-the-struct-cannot-have",
        '      video:\n        type: [string, "null"]',
        '      field:\n        type: [string, "null"]',
        "      field:",
        "AddressChannels.field: the struct cannot have this field",
    ),
    (
        "object-name-clashes-with-models-module",
        "\n  EmptyResult:\n",
        "\n  Struct:\n    description: A clash.\n    properties: {}\n    example: {}\n"
        "\n  EmptyResult:\n",
        "\n  Struct:",
        "object name 'Struct' clashes with a name of the models module",
    ),
    (
        "sdk-type-member-missing-from-the-runtime",
        "      iter_all(): Iterate",
        "      walk_all(): Iterate",
        "      walk_all(): Iterate",
        "Page has no member 'walk_all' in the runtime",
    ),
    (
        "parameter-binds-to-nothing",
        "          page_size:\n            js_name: pageSize\n            type: integer\n"
        "            default: 10\n            minimum: 1\n            maximum: 1000\n"
        "            description: The amount of conversations",
        "          pagesize:\n            js_name: pageSize\n            type: integer\n"
        "            default: 10\n            minimum: 1\n            maximum: 1000\n"
        "            description: The amount of conversations",
        "pagesize:",
        "parameter 'pagesize' binds to nothing of operation 'listConversations'",
    ),
    (
        "required-body-field-not-bound",
        "      params: {}\n      operation: getSubscriberInfo",
        "      params: {}\n      operation: createAddress",
        "      params: {}\n      operation: createAddress",
        "operation 'createAddress' needs its required body field 'name'; add a parameter 'name'",
    ),
    (
        "bound-parameter-of-another-type",
        "      params: {}\n      operation: getSubscriberInfo",
        "      params:\n        address_id: {type: integer, description: An id.}\n"
        "      operation: getAddress",
        "        address_id: {type: integer",
        "parameter 'address_id' is integer but path 'address_id' of 'getAddress' is string",
    ),
    (
        "engine-method-that-calls-an-operation",
        "engine: {method: join, type: JoinConversationResponse}\n"
        "        raises: [InvalidArgumentError, APIError, APIConnectionError, APITimeoutError]\n"
        "        example: |-\n          await client.conversation.join(",
        "engine: {method: request, type: JoinConversationResponse}\n"
        "        raises: [InvalidArgumentError, APIError, APIConnectionError, APITimeoutError]\n"
        "        example: |-\n          await client.conversation.join(",
        "method: request, type: JoinConversationResponse}",
        "engine method 'request' calls an operation: write operation: <id>",
    ),
    (
        "engine-operation-unknown",
        "engine: {method: send_message, type: Conversation, operation: sendMessage}\n"
        "        raises: [InvalidArgumentError, APIError, APIConnectionError, APITimeoutError]\n"
        "        example: |-\n          conversation = await client.chat.send_message(",
        "engine: {method: send_message, type: Conversation, operation: sendMesage}\n"
        "        raises: [InvalidArgumentError, APIError, APIConnectionError, APITimeoutError]\n"
        "        example: |-\n          conversation = await client.chat.send_message(",
        "operation: sendMesage}",
        "unknown operation 'sendMesage'",
    ),
    (
        "engine-param-binds-no-header",
        "          idempotency_key:\n            type: string\n            default: null\n"
        + _KEY_TEXT
        + "          conversation = await client.chat.send_message(",
        "          idempotency_ky:\n            type: string\n            default: null\n"
        + _KEY_TEXT
        + "          conversation = await client.chat.send_message(",
        "idempotency_ky:",
        "parameter 'idempotency_ky' is not an argument of engine method 'send_message' nor a "
        "header of operation 'sendMessage'",
    ),
    (
        "method-named-like-a-generated-iter-twin",
        "      stream:\n        js_name: null\n        summary: Return the chat messages exchanged",
        "      iter_messages:\n        js_name: null\n"
        "        summary: Return the chat messages exchanged",
        "iter_messages:",
        "'iter_messages' is generated as the iter_ twin of paged method 'get_messages'",
    ),
    (
        "not-yaml",
        "  version: 0.1.0\n",
        "  version: 0.1.0\n bad: indent\n",
        " bad: indent",
        "not valid YAML",
    ),
]


def _line_of(text: str, anchor: str) -> int:
    """Return the line where ``anchor`` (unique in ``text``) ends."""
    assert text.count(anchor) == 1, f"anchor {anchor!r} must be unique"
    end = text.index(anchor) + len(anchor.rstrip("\n"))
    return text[:end].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "anchor", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def _snapshot(tree: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``tree`` with its bytes and modification time."""
    return {
        path.relative_to(tree).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(tree.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def out(tmp_path: Path, rendered: dict[str, str]) -> Path:
    """An output tree as ``make gen`` left it, plus a stray file ``gen`` would delete."""
    tree = tmp_path / "out"
    for path, text in rendered.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text, encoding="utf-8")
    (tree / "generated" / "fabric_chat" / "stray.py").write_text("x = 1\n", encoding="utf-8")
    return tree


def test_at_least_ten_distinct_broken_spec_cases() -> None:
    assert len(CASES) >= 10
    assert len({case[4] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("old", "new", "anchor", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_broken_spec_reports_line_and_writes_nothing(
    old: str,
    new: str,
    anchor: str,
    message: str,
    tmp_path: Path,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert GOOD.count(old) == 1, f"case text {old!r} must occur once in the spec"
    broken = GOOD.replace(old, new)
    (tmp_path / "chat.yaml").write_text(broken, encoding="utf-8")
    before = _snapshot(out)
    monkeypatch.chdir(tmp_path)

    status = main(["gen", "--spec", "chat.yaml", "--out", str(out)])

    errors = capsys.readouterr().err.splitlines()
    assert status == 1
    expected = f"chat.yaml:{_line_of(broken, anchor)}: "
    assert any(line.startswith(expected) and message in line for line in errors), errors
    assert all(re.match(r"^chat\.yaml:\d+: \S", line) for line in errors), errors
    assert _snapshot(out) == before


def test_cli_exits_nonzero_and_prints_file_line(tmp_path: Path, out: Path) -> None:
    spec = tmp_path / "chat.yaml"
    spec.write_text(
        GOOD.replace("type: SubscriberInfo}", "type: SubscriberInfoo}"), encoding="utf-8"
    )
    before = _snapshot(out)
    done = subprocess.run(
        [sys.executable, "-m", "codegen", "gen", "--spec", str(spec), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1
    line = GOOD[: GOOD.index("type: SubscriberInfo}")].count("\n") + 1
    assert f"chat.yaml:{line}: unknown type reference 'SubscriberInfoo'" in done.stderr
    assert done.stdout == ""
    assert _snapshot(out) == before


def test_missing_spec_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["gen", "--spec", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)])
    assert status == 1
    assert "cannot read the spec" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_make_gen_on_a_broken_spec_fails_and_leaves_the_tree_alone(tmp_path: Path) -> None:
    """``make gen`` itself, in a copy of the project whose spec is broken."""
    copy = tmp_path / "project"
    for name in ("codegen", "generated", "docs", "spec"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, copy / name)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    spec = copy / "spec" / "chat.yaml"
    spec.write_text(GOOD.replace("payload: AuthorizationStateParams", "payload: Nothing"))
    before = {name: _snapshot(copy / name) for name in ("generated", "docs")}

    done = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed-stamp", "gen"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode != 0
    line = GOOD[: GOOD.index("payload: AuthorizationStateParams")].count("\n") + 1
    assert f"spec/chat.yaml:{line}: unknown payload type reference 'Nothing'" in done.stderr
    assert {name: _snapshot(copy / name) for name in ("generated", "docs")} == before
