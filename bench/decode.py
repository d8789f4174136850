"""Figure ``decode``: a 100-message history page into the generated structs.

Compared with pydantic v2 models of the same shape (``model_validate_json``, pydantic's fastest
path) and with stdlib ``json.loads`` plus dataclasses (no type checks at all). The page is the
server's wire form: every key of §5 present, realistic ids, text, metadata.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from typing import Any

import msgspec
import pydantic
from fabric_chat.models import ConversationMessage, ConversationMessagePage

from ._results import FigureResult
from ._stats import Stat, alternate_sync, ratio_stat

__all__ = ["PAGE_SIZE", "run", "sample_page"]

PAGE_SIZE = 100
TARGET = 3.0


def sample_page(size: int = PAGE_SIZE) -> bytes:
    """Return the JSON of one history page of ``size`` chat messages, as the server sends it."""
    group, me, peer, user = (str(uuid.uuid4()) for _ in range(4))
    base = 1_795_000_000.0
    data = []
    for index in range(size):
        data.append(
            {
                "id": str(uuid.uuid4()),
                "group_id": group,
                "conversation_id": peer,
                "from_fabric_address_id": me,
                "from_address_id": me,
                "user_id": user,
                "user_name": "Alice",
                "ts": base - index * 1.37,
                "type": "message",
                "subtype": "chat",
                "kind": None,
                "text": f"message number {index}: the quick brown fox jumps over the lazy dog",
                "metadata": {"client": "bench", "seq": index},
                "details": {},
                "hidden": False,
                "conversation_name": "Bob",
            }
        )
    url = f"http://127.0.0.1:8787/api/fabric/conversations/{group}/messages?page_size={size}"
    links = {"self": url, "first": url, "next": url + "&page_token=" + "x" * 60}
    return msgspec.json.encode({"data": data, "links": links})


# pydantic v2 models of the same shape (defaults and all).


class _PydLinks(pydantic.BaseModel):
    self: str | None = None
    first: str | None = None
    next: str | None = None
    prev: str | None = None


class _PydMessage(pydantic.BaseModel):
    id: str
    group_id: str | None = None
    conversation_id: str | None = None
    from_fabric_address_id: str | None = None
    from_address_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    ts: float = 0.0
    type: str = ""
    subtype: str = ""
    kind: str | None = None
    text: str | None = None
    metadata: dict[str, Any] = pydantic.Field(default_factory=dict)
    details: dict[str, Any] = pydantic.Field(default_factory=dict)
    hidden: bool = False
    conversation_name: str | None = None


class _PydPage(pydantic.BaseModel):
    data: list[_PydMessage] = pydantic.Field(default_factory=list)
    links: _PydLinks = pydantic.Field(default_factory=_PydLinks)


# stdlib json + dataclasses of the same shape.


@dataclasses.dataclass(slots=True)
class _DcLinks:
    self: str | None = None
    first: str | None = None
    next: str | None = None
    prev: str | None = None


@dataclasses.dataclass(slots=True, kw_only=True)
class _DcMessage:
    id: str
    group_id: str | None = None
    conversation_id: str | None = None
    from_fabric_address_id: str | None = None
    from_address_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    ts: float = 0.0
    type: str = ""
    subtype: str = ""
    kind: str | None = None
    text: str | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    hidden: bool = False
    conversation_name: str | None = None


@dataclasses.dataclass(slots=True)
class _DcPage:
    data: list[_DcMessage]
    links: _DcLinks


def _stdlib_decode(body: bytes) -> _DcPage:
    raw = json.loads(body)
    return _DcPage(
        data=[_DcMessage(**item) for item in raw["data"]], links=_DcLinks(**raw["links"])
    )


def _timer(decode: Any, body: bytes, repeat: int, batches: int) -> Any:
    """Return a run: ``batches`` batches of ``repeat`` decodes; its value is the fastest batch.

    The fastest batch is the least disturbed by other processes (as ``timeit`` advises); the
    figure is then the median of such runs.
    """

    def measure() -> float:
        best = float("inf")
        for _ in range(batches):
            started = time.perf_counter()
            for _ in range(repeat):
                decode(body)
            best = min(best, (time.perf_counter() - started) / repeat)
        return best * 1e6

    return measure


def _check(body: bytes) -> None:
    ours = msgspec.json.decode(body, type=ConversationMessagePage)
    theirs = _PydPage.model_validate_json(body)
    plain = _stdlib_decode(body)
    assert isinstance(ours.data[0], ConversationMessage)
    assert len(ours.data) == len(theirs.data) == len(plain.data)
    assert ours.data[-1].text == theirs.data[-1].text == plain.data[-1].text


async def run(*, quick: bool) -> list[FigureResult]:
    """Measure the decode figure (microseconds per page; lower is better)."""
    body = sample_page()
    _check(body)
    decode_struct = msgspec.json.Decoder(ConversationMessagePage).decode
    repeat, batches = (10, 2) if quick else (100, 8)
    rounds = 3 if quick else 7
    ours, pyd, stdlib = alternate_sync(
        rounds,
        _timer(decode_struct, body, repeat, batches),
        _timer(_PydPage.model_validate_json, body, repeat, batches),
        _timer(_stdlib_decode, body, repeat, batches),
    )
    speedup = ratio_stat(pyd, ours)
    return [
        FigureResult(
            figure="decode",
            what=f"{PAGE_SIZE}-message page into generated structs (µs/page)",
            target=f"structs >= {TARGET:g}x faster than pydantic v2",
            value=Stat.of(ours, "µs"),
            baseline=Stat.of(pyd, "µs"),
            ratio=speedup,
            ratio_meaning="pydantic time / struct time",
            met=speedup.median >= TARGET,
            extra={
                "stdlib json + dataclasses": Stat.of(stdlib, "µs"),
                "speed-up vs stdlib json + dataclasses": ratio_stat(stdlib, ours),
            },
            notes={
                "page_bytes": len(body),
                "decodes_per_run": repeat * batches,
                "run_value": f"fastest of {batches} batches of {repeat} decodes",
                "pydantic": pydantic.VERSION,
                "msgspec": msgspec.__version__,
                "baseline": "pydantic v2 BaseModel.model_validate_json, same fields and defaults",
            },
        )
    ]
