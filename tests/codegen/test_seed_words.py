"""The reference keeps the seed page's own words for every seed method.

Every sentence the seed page writes about a method (its text, each parameter's description and
what it returns) is read from the seed page itself and must be found in that method's section
of ``docs/reference/chat.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED_COPY = ROOT / "tests" / "codegen" / "seed" / "chat-namespace.txt"
"""The seed page (the public Chat namespace page of the JavaScript SDK), as it was given."""
METHODS = {
    "getMessages": "get_messages",
    "subscribe": "subscribe",
    "sendMessage": "send_message",
    "join": "join",
}
PYTHON_NAMES = {"conversation.sendMessage": "conversation.send_message"}
"""The one code name the Python reference writes in snake_case where the seed writes camelCase."""
NOT_ABOUT_THE_METHOD = {"Returns a list of Addresses."}
"""The seed page's subscribe section opens with this line copied from another page; it is not
what subscribe does, so the reference does not repeat it."""
_PARAM_ROW = re.compile(
    r"^options\.(?P<name>\w+)\??"
    r"(?:string|number|object|\(ConversationEventParams\)=>void)"
    r"(?:undefined|10|-)?(?P<text>.+)$"
)


def _seed_text() -> str:
    return SEED_COPY.read_text(encoding="utf-8")


def _sections() -> dict[str, list[str]]:
    lines = [line.strip() for line in _seed_text().splitlines()]
    start = lines.index("Methods")
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in lines[start + 1 :]:
        if line in METHODS:
            current = sections.setdefault(line, [])
        elif line:
            current.append(line)
    return sections


def _sentences(text: str) -> list[str]:
    return [part if part.endswith(".") else part + "." for part in re.split(r"(?<=\.) ", text)]


def seed_words(js_name: str) -> list[str]:
    """Return the sentences the seed page writes about one method."""
    section = _sections()[js_name]
    words: list[str] = []
    part = "text"
    for line in section[1:]:
        if line in {"Parameters", "Returns", "Example"}:
            part = line
            continue
        if part == "text":
            words.extend(_sentences(line))
        elif part == "Parameters":
            row = _PARAM_ROW.match(line)
            if row is not None:
                words.extend(_sentences(row["text"]))
        elif part == "Returns" and not line.startswith("Promise<"):
            words.extend(_sentences(line))
    result = []
    for sentence in words:
        for js, py in PYTHON_NAMES.items():
            sentence = sentence.replace(js, py)
        if sentence not in NOT_ABOUT_THE_METHOD:
            result.append(sentence)
    return result


def _reference_section(py_name: str) -> str:
    doc = (ROOT / "docs" / "reference" / "chat.md").read_text(encoding="utf-8")
    start = doc.index(f"\n### chat.{py_name}\n")
    end = doc.index("\n### ", start + 1)
    return " ".join(doc[start:end].split())


def test_every_seed_method_has_its_words() -> None:
    assert set(_sections()) == set(METHODS)
    for js_name in METHODS:
        assert len(seed_words(js_name)) >= 2, js_name


@pytest.mark.parametrize(("js_name", "py_name"), sorted(METHODS.items()))
def test_the_reference_keeps_the_seed_words(js_name: str, py_name: str) -> None:
    section = _reference_section(py_name)
    missing = [s for s in seed_words(js_name) if s.rstrip(".") not in section]
    assert missing == [], f"chat.{py_name} lost the seed's words: {missing}"


def test_subscribe_returns_in_the_seed_words() -> None:
    assert (
        "An object will be returned with a cancel() function which can be used to unsubscribe "
        "to the event." in seed_words("subscribe")
    )
    section = _reference_section("subscribe")
    assert (
        "`Subscription`: An object will be returned with a cancel() function which can be used "
        "to unsubscribe to the event." in section
    )
