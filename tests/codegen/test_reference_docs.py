"""docs/reference/chat.md and the generated docstrings read like the seed page, for every item."""

from __future__ import annotations

import inspect
import re
import textwrap
from typing import Any

import fabric_chat
import pytest
from fabric_chat._namespaces import AsyncChatNamespace, AsyncConversationNamespace
from fabric_chat_runtime.pagination import Page
from fabric_chat_runtime.subscriptions import MessageStream, Subscription

from codegen.build import markdown_anchor
from codegen.loader import load_spec

from .conftest import SPEC

DATA: dict[str, Any] = load_spec(SPEC).data
DOC_PATH = "docs/reference/chat.md"
NAMESPACES = {"chat": AsyncChatNamespace, "conversation": AsyncConversationNamespace}
RUNTIME_TYPES: dict[str, type] = {
    "Page": Page,
    "Subscription": Subscription,
    "MessageStream": MessageStream,
}


def _section(doc: str, heading: str) -> str:
    """Return the text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    lines = doc.splitlines()
    start = lines.index(heading)
    end = len(lines)
    for index in range(start + 1, len(lines)):
        mark = lines[index].split(" ", 1)[0]
        if set(mark) == {"#"} and len(mark) <= len(level):
            end = index
            break
    return "\n".join(lines[start:end])


def _methods() -> list[tuple[str, str, dict[str, Any]]]:
    found = [
        (ns, name, method)
        for ns, namespace in DATA["namespaces"].items()
        for name, method in namespace["methods"].items()
    ]
    found += [("client", name, method) for name, method in DATA["client"]["methods"].items()]
    return found


@pytest.fixture(scope="module")
def doc(rendered: dict[str, str]) -> str:
    return rendered[DOC_PATH]


@pytest.mark.parametrize("name", sorted(DATA["objects"]))
def test_every_object_has_fields_descriptions_and_an_example(doc: str, name: str) -> None:
    obj = DATA["objects"][name]
    section = _section(doc, f"### The {name} object")
    assert obj["description"] in section
    assert "| Field | Type | Default value | Description |" in section
    for field, prop in obj["properties"].items():
        [row] = [line for line in section.splitlines() if line.startswith(f"| `{field}` |")]
        assert prop["description"].replace("|", "\\|") in row, field
        assert ("required" in row) == (field in obj.get("required", [])), row
    article = "an" if name[0] in "AEIOU" else "a"
    assert f"Here is an example of {article} {name} object:" in section
    example = section.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert example.startswith("{")


def test_seed_object_reads_like_the_seed_page(doc: str) -> None:
    chat = _section(doc, "## The Chat Namespace")
    section = _section(chat, "### The ConversationChatMessage object")
    assert "| `user_id` | `str \\| None` | `None` | A unique identifier for the subscriber. |" in (
        section
    )
    assert '"ts": 1708192187.6779745' in section
    assert '"subtype": "log"' in section


@pytest.mark.parametrize(
    ("owner", "name", "method"),
    _methods(),
    ids=[f"{owner}.{name}" for owner, name, _ in _methods()],
)
def test_every_method_has_signature_table_returns_and_example(
    doc: str, owner: str, name: str, method: dict[str, Any]
) -> None:
    section = _section(doc, f"### {owner}.{name}")
    signature = section.split("```python\n", 1)[1].split("\n```", 1)[0]
    assert re.match(rf"(async )?def {name}\(", signature), signature
    for param in method["params"]:
        assert f"{param}:" in signature
        [row] = [line for line in section.splitlines() if line.startswith(f"| `{param}` |")]
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        assert len(cells) == 4, row
        default = method["params"][param].get("default", "required")
        assert cells[2] == ("required" if default == "required" else f"`{default!r}`"), row
        assert cells[3] == method["params"][param]["description"], row
    assert "| Name | Type | Default value | Description |" in section or not method["params"]
    returns = _section(section, "#### Returns")
    assert re.search(r"^`[^`]+`: \S", returns.splitlines()[2]), returns
    assert method["example"] in _section(section, "#### Example")
    for error in method["raises"]:
        assert f"- `{error}`: " in _section(section, "#### Raises")
    js_name = method.get("js_name")
    if js_name:
        line = next(line for line in section.splitlines() if line.startswith("JavaScript: "))
        expected = method.get("js_signature", f"{js_name}(options)")
        assert f"`{owner}.{expected}`" in line
        for param in method["params"].values():
            if "js_name" in param:  # Python-only parameters (idempotency_key) have none
                assert f"`options.{param['js_name']}`" in line
    else:
        assert "Python only" in section


def test_seed_signatures_are_shown_beside_the_python_form(doc: str) -> None:
    assert (
        "JavaScript: `chat.getMessages(options): Promise<{ data: ConversationChatMessage[], "
        "hasNext, hasPrev, nextPage(), prevPage() }>`"
    ) in doc
    assert "JavaScript: `chat.subscribe(options): {cancel()}`" in doc
    assert "JavaScript: `chat.sendMessage(options): Promise<Conversation>`" in doc
    assert "JavaScript: `chat.join(options): Promise<JoinConversationResponse>`" in doc


def test_every_link_of_the_reference_resolves(doc: str) -> None:
    anchors = {
        markdown_anchor(line.lstrip("#")) for line in doc.splitlines() if line.startswith("#")
    }
    links = re.findall(r"\]\(#([^)]+)\)", doc)
    assert len(links) > 50
    for link in links:
        assert link in anchors, link


@pytest.mark.parametrize("name", ["Page", "Subscription", "MessageStream"])
def test_sdk_types_are_documented_with_members_that_exist(doc: str, name: str) -> None:
    body = DATA["sdk_types"][name]
    section = _section(doc, f"### {name}")
    assert " ".join(body["description"].split()) in section
    for member, text in body["members"].items():
        assert f"- `{member}`: {text}" in section
        runtime = RUNTIME_TYPES[name]
        attribute = member.removesuffix("()")
        known = {*dir(runtime), *getattr(runtime, "__annotations__", {})}
        assert attribute in known, member
        assert member.endswith("()") == callable(getattr(runtime, attribute, None)), member


def test_objects_state_how_they_encode(doc: str) -> None:
    objects = _section(doc, "## Objects")
    assert "leaves out the fields that hold their default" in _section(
        objects, "### The PageLinks object"
    )
    assert "keeps every field of this object, nulls included" in _section(
        objects, "### The ConversationMessage object"
    )


@pytest.mark.parametrize(("ns", "owner"), list(NAMESPACES.items()))
def test_method_docstrings_are_google_style(ns: str, owner: type) -> None:
    for name, method in DATA["namespaces"][ns]["methods"].items():
        doc = inspect.getdoc(getattr(owner, name))
        assert doc is not None
        summary, _, rest = doc.partition("\n\n")
        assert summary == " ".join(method["summary"].split())
        sections = re.findall(r"^(Args|Returns|Raises|Example):$", rest, re.MULTILINE)
        arguments = set(inspect.signature(getattr(owner, name)).parameters) - {"self"}
        expected = ["Args"] if arguments else []
        assert sections == [*expected, "Returns", "Raises", "Example"], (name, sections)
        if "timeout" in arguments:
            assert re.search(r"^    timeout: \S", rest, re.MULTILINE), name
        for param in method["params"]:
            assert re.search(rf"^    {param}: \S", rest, re.MULTILINE), (name, param)
        for error in method["raises"]:
            assert re.search(rf"^    {error}: \S", rest, re.MULTILINE), (name, error)
        example = rest.split("Example:\n", 1)[1]
        assert textwrap.dedent(example).strip() == method["example"]


def test_client_help_names_its_namespaces() -> None:
    doc = inspect.getdoc(fabric_chat.AsyncClient)
    assert doc is not None
    assert "chat (AsyncChatNamespace): The Chat namespace" in doc
    assert "conversation (AsyncConversationNamespace): " in doc
    init = inspect.getdoc(fabric_chat.AsyncClient.__init__)
    assert init is not None
    for name in ("token", "token_provider", "base_url", "ws_url", "timeout", "max_retries"):
        assert f"    {name}: " in init
    info = inspect.getdoc(fabric_chat.AsyncClient.get_subscriber_info)
    assert info is not None
    assert "Returns:\n    The SubscriberInfo." in info
