"""Each example runs for real, as a subprocess, against a local server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from fabric_chat import AsyncClient, ConversationChatMessage
from fabric_chat_server.testing import LocalServer

from .conftest import RunExample, clean_env


async def test_demo_plays_the_whole_conversation_and_exits_cleanly(
    run_example: RunExample,
) -> None:
    """``make demo`` runs exactly this script: it must finish fast, exit 0 and show each step."""
    started = time.monotonic()
    demo = await run_example("demo.py")
    status, out, err = await demo.finish(seconds=60)
    elapsed = time.monotonic() - started
    assert status == 0, err
    assert err == ""
    assert elapsed < 30
    lines = out.splitlines()
    for heading in (
        "== 1. Start the local server",
        "== 3. Join (client.chat.join)",
        "== 4. Live subscriptions (client.chat.subscribe)",
        "== 6. History, 3 per page (get_messages, next_page, prev_page)",
        "== 7. Cancel (subscription.cancel)",
    ):
        assert heading in lines
    # Each message is printed by the sender, then by the receiver's live subscription.
    sent = lines.index("[alice -> bob] Hello Bob")
    assert lines[sent + 1] == "  [bob <- alice] Hello Bob"
    assert "  [alice <- bob] Hi Alice! I see you live." in lines
    assert any("(metadata {'mood': 'cheerful'})" in line for line in lines)
    # The history is walked forward to the oldest page and back to the newest.
    assert "  next_page() -> page 3: 2 messages (has_prev=True, has_next=False)" in lines
    assert any(line.startswith("  prev_page() -> page 1: 3 messages") for line in lines)
    assert "  8 messages on 3 pages, walked forward and back" in lines
    assert "  and the cancelled callback stays silent: True" in lines
    assert lines[-1].startswith("done in ")
    # Nothing is left running: the server's port no longer answers.
    listening = next(line for line in lines if "listening on http://127.0.0.1:" in line)
    port = int(listening.split("127.0.0.1:")[1].split()[0])
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


async def _addresses(server: LocalServer, *names: str) -> tuple[dict[str, str], dict[str, str]]:
    tokens = {name: await server.token(name, display_name=name.title()) for name in names}
    addresses = {name: await server.address_of(name) for name in names}
    return tokens, addresses


async def test_echo_bot_replies_to_each_message_then_stops(
    server: LocalServer, run_example: RunExample
) -> None:
    tokens, address = await _addresses(server, "alice", "bot")
    bot = await run_example(
        "echo_bot.py",
        address["alice"],
        "--max-messages",
        "2",
        env=clean_env(FABRIC_CHAT_TOKEN=tokens["bot"], FABRIC_CHAT_URL=server.base_url),
    )
    await bot.wait_for("echo bot ready", "stderr")
    replies: asyncio.Queue[ConversationChatMessage] = asyncio.Queue()
    async with AsyncClient(token=tokens["alice"], base_url=server.base_url) as alice:

        def collect(message: ConversationChatMessage) -> None:
            if message.user_name == "Bot":
                replies.put_nowait(message)

        subscription = await alice.chat.subscribe(address_id=address["bot"], on_message=collect)
        for text in ("ping", "are you there?"):
            await alice.chat.send_message(address_id=address["bot"], text=text)
            async with asyncio.timeout(15):
                reply = await replies.get()
            assert reply.text == f"echo: {text}"
        subscription.cancel()
    status, out, err = await bot.finish()
    assert status == 0, err
    assert "Alice: 'ping' -> 'echo: ping'" in out
    assert "replied to 2 message(s)" in err


async def test_export_history_writes_every_message_as_json_lines(
    server: LocalServer, run_example: RunExample, tmp_path: Path
) -> None:
    tokens, address = await _addresses(server, "alice", "bob")
    texts = [f"message {n}" for n in range(7)]
    async with AsyncClient(token=tokens["alice"]) as alice:
        for text in texts:
            await alice.chat.send_message(address_id=address["bob"], text=text)
    output = tmp_path / "history.jsonl"
    export = await run_example(
        "export_history.py",
        address["alice"],
        "--page-size",
        "3",
        "--output",
        str(output),
        "--token",
        tokens["bob"],
        "--server",
        server.base_url,
    )
    status, _, err = await export.finish()
    assert status == 0, err
    assert "exported 7 message(s)" in err
    exported = [json.loads(line) for line in output.read_text().splitlines()]
    assert [item["text"] for item in exported] == texts[::-1]  # newest first
    assert len({item["id"] for item in exported}) == 7
    assert {item["user_name"] for item in exported} == {"Alice"}


async def test_export_history_fails_with_one_line_on_a_bad_token(
    server: LocalServer, run_example: RunExample
) -> None:
    tokens, address = await _addresses(server, "alice")
    forged = tokens["alice"][:-4] + "AAAA"
    export = await run_example("export_history.py", address["alice"], "--token", forged)
    status, out, err = await export.finish()
    assert status == 1
    assert out == ""
    assert err.startswith("export failed: 401")
    assert "Traceback" not in err
    assert forged not in err


async def test_two_terminal_chat_delivers_both_ways(
    server: LocalServer, run_example: RunExample
) -> None:
    tokens, address = await _addresses(server, "alice", "bob")
    async with AsyncClient(token=tokens["alice"]) as alice:
        await alice.chat.send_message(address_id=address["bob"], text="earlier message")
    terminals = {
        name: await run_example(
            "chat.py", address[peer], env=clean_env(FABRIC_CHAT_TOKEN=tokens[name])
        )
        for name, peer in (("alice", "bob"), ("bob", "alice"))
    }
    for name, terminal in terminals.items():
        assert await terminal.line() == "  (Alice) earlier message"
        await terminal.wait_for(f"chatting as {name.title()}", "stderr")
    await terminals["alice"].write("Hi Bob, typed in terminal 1\n")
    assert await terminals["bob"].line() == "[Alice] Hi Bob, typed in terminal 1"
    await terminals["bob"].write("Hi Alice, from terminal 2\n")
    assert await terminals["alice"].line() == "[Bob] Hi Alice, from terminal 2"
    for terminal in terminals.values():  # end of input (Ctrl-D) ends each chat cleanly
        status, _, err = await terminal.finish()
        assert status == 0, err
        assert "bye" in err
        assert "Traceback" not in err
