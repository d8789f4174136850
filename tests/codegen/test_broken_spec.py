"""A broken spec stops the generator with ``FILE:LINE: what is wrong`` and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codegen.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "spec" / "chat.yaml").read_text(encoding="utf-8")

# (case id, text to replace, replacement, anchor on the reported line, expected message)
CASES = [
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
        "{method: page, operation:",
        "{method: paged, operation:",
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
        "errors: [401, 404, 429, 500]",
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
        "args: {address_id: null, chat_only: false}}\n        raises: [ConnectionError]",
        "args: {address_id: null}}\n        raises: [ConnectionError]",
        "args: {address_id: null}}",
        "engine method 'stream' needs argument 'chat_only'",
    ),
    (
        "object-name-taken",
        "\n  ErrorBody:\n",
        "\n  Page:\n",
        "\n  Page:",
        "object name 'Page' is already a public name of fabric_chat",
    ),
    (
        "export-object-missing",
        "\n  RpcError:\n",
        "\n  RpcFault:\n",
        "\nobjects:",
        "the exports need an object named 'RpcError'",
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
def test_broken_spec_reports_line_and_writes_nothing(
    old: str,
    new: str,
    anchor: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert GOOD.count(old) == 1, f"case text {old!r} must occur once in the spec"
    broken = GOOD.replace(old, new)
    (tmp_path / "chat.yaml").write_text(broken, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(tmp_path)

    status = main(["gen", "--spec", "chat.yaml", "--out", str(out)])

    errors = capsys.readouterr().err.splitlines()
    assert status == 1
    expected = f"chat.yaml:{_line_of(broken, anchor)}: "
    assert any(line.startswith(expected) and message in line for line in errors), errors
    assert list(out.iterdir()) == []


def test_cli_exits_nonzero_and_prints_file_line(tmp_path: Path) -> None:
    spec = tmp_path / "chat.yaml"
    spec.write_text(
        GOOD.replace("type: SubscriberInfo}", "type: SubscriberInfoo}"), encoding="utf-8"
    )
    out = tmp_path / "out"
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
    assert not out.exists()


def test_missing_spec_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["gen", "--spec", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)])
    assert status == 1
    assert "cannot read the spec" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
