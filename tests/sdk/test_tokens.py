"""TokenSource: when it refreshes, one refresh at a time, sync or async providers, no leaks."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from fabric_chat import AuthenticationError, InvalidArgumentError
from fabric_chat_runtime.tokens import TokenSource, read_lifetime


def _jwt(iat: float, exp: float, tag: str = "") -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'typ': 'SAT'})}.{part({'iat': iat, 'exp': exp, 'tag': tag})}.sig"


def test_read_lifetime_reads_iat_and_exp_and_shrugs_at_garbage() -> None:
    assert read_lifetime(_jwt(10, 70)) == (10, 70)
    assert read_lifetime("not-a-jwt") == (None, None)
    assert read_lifetime("a.!!!.c") == (None, None)


@pytest.mark.parametrize(
    ("iat", "exp", "refresh_before", "due"),
    [
        (0, 3600, 60.0, 3540),  # a long token: a minute early
        (0, 6, 60.0, 4),  # a short one: at most a third of its life early
        (0, 30, 5.0, 25),
    ],
)
def test_refresh_is_due_before_expiry(
    iat: float, exp: float, refresh_before: float, due: float
) -> None:
    source = TokenSource(_jwt(iat, exp), lambda: "x", refresh_before=refresh_before)
    assert source.refresh_at() == due


async def test_current_refreshes_once_when_due_even_with_many_callers() -> None:
    now = [0.0]
    calls: list[int] = []

    async def provider() -> str:
        calls.append(1)
        await asyncio.sleep(0.01)
        return _jwt(now[0], now[0] + 9, tag=str(len(calls)))

    source = TokenSource(_jwt(0, 9), provider, clock=lambda: now[0])
    heard: list[str] = []

    async def listener(token: str) -> None:
        heard.append(token)

    source.on_refresh(listener)
    first = await source.current()
    assert calls == []  # not due yet (due at 6)
    now[0] = 6.5
    tokens = await asyncio.gather(*(source.current() for _ in range(5)))
    assert len(calls) == 1
    assert len(set(tokens)) == 1
    assert tokens[0] != first
    assert heard == [tokens[0]]
    assert source.refreshes == 1


async def test_a_sync_provider_works_and_failures_are_authentication_errors() -> None:
    source = TokenSource(None, lambda: "fresh-token")
    assert await source.current() == "fresh-token"

    def broken() -> str:
        raise OSError("backend down: secret-detail")

    failing = TokenSource("old", broken)
    with pytest.raises(AuthenticationError) as caught:
        await failing.refresh(stale="old")
    assert "OSError" in str(caught.value)
    assert "secret-detail" not in str(caught.value)
    empty = TokenSource("old", lambda: "")
    with pytest.raises(AuthenticationError):
        await empty.refresh(stale="old")
    with pytest.raises(AuthenticationError):
        await TokenSource("old").refresh(stale="old")
    with pytest.raises(InvalidArgumentError):
        TokenSource(None)
    with pytest.raises(InvalidArgumentError):
        TokenSource("t", "not callable")  # type: ignore[arg-type]
