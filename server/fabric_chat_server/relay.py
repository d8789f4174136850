"""Fan-out through the bus: what this instance stores goes out here and to the other instances.

The :class:`Relay` sits between the routes, the :class:`~fabric_chat_server.hub.Hub` and a
:class:`~fabric_chat_server.bus.Bus`:

- a message committed here is published on the bus (its position only) and offered at once to
  this instance's sessions of its members;
- positions heard from other instances are read back from the store (one query for all the
  positions heard at once) and offered the same way, in ``seq`` order per conversation, and only
  when a member has a session here;
- a re-sync (the bus reconnected, or dropped positions) wakes every live session, which reads
  whatever lies beyond its positions from the store;
- a session resumed here, or evicted, is announced (``(protocol, SESSION_CLOSED)``), so that a
  socket still holding it on another instance closes instead of delivering events twice.

What the fan-out reads for each message (the conversation, its members, the addresses of its
views) is cached for ``cache_ttl`` seconds: with PostgreSQL a read is a round trip, and the same
conversation is read for every message. A join drops the conversation's members here and
tells the other instances (position ``(group_id, MEMBERS_CHANGED)``); the ttl and the
re-sync bound what a lost notice of a join can cost (a delayed first delivery, never a lost one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from .bus import MEMBERS_CHANGED, SESSION_CLOSED, Bus, BusPosition
from .events import publish_message
from .hub import Hub
from .store import AddressRecord, ConversationRecord, MessageRecord, Store

__all__ = ["Relay", "StoreCache"]

logger = logging.getLogger(__name__)


class StoreCache:
    """What the fan-out reads of the store, remembered for ``ttl`` seconds.

    Args:
        store: Where to read.
        ttl: Seconds an entry is trusted.
        max_entries: Entries per kind; beyond it the kind is cleared (memory stays bounded).
        clock: Monotonic seconds (injected by tests).
    """

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = 2.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._conversations: dict[str, tuple[float, ConversationRecord | None]] = {}
        self._members: dict[str, tuple[float, list[tuple[str, str]]]] = {}
        self._addresses: dict[tuple[str, str], tuple[float, AddressRecord | None]] = {}

    def _fresh(self, entry: tuple[float, Any] | None) -> bool:
        return entry is not None and self._clock() - entry[0] < self._ttl

    def _keep(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if len(table) >= self._max:
            table.clear()
        table[key] = (self._clock(), value)

    async def get_conversation(self, group_id: str) -> ConversationRecord | None:
        """Return the conversation (see :meth:`Store.get_conversation`)."""
        entry = self._conversations.get(group_id)
        if self._fresh(entry):
            assert entry is not None
            return entry[1]
        conversation = await self._store.get_conversation(group_id)
        self._keep(self._conversations, group_id, conversation)
        return conversation

    async def members(self, group_id: str) -> list[tuple[str, str]]:
        """Return the conversation's members (see :meth:`Store.members`)."""
        entry = self._members.get(group_id)
        if self._fresh(entry):
            assert entry is not None
            return entry[1]
        members = await self._store.members(group_id)
        self._keep(self._members, group_id, members)
        return members

    async def get_address(self, project_id: str, address_id: str) -> AddressRecord | None:
        """Return an address (see :meth:`Store.get_address`)."""
        key = (project_id, address_id)
        entry = self._addresses.get(key)
        if self._fresh(entry):
            assert entry is not None
            return entry[1]
        address = await self._store.get_address(project_id, address_id)
        self._keep(self._addresses, key, address)
        return address

    def has_member(self, group_id: str, subscriber_id: str) -> bool:
        """Say whether the cached members of ``group_id`` (fresh ones) include the subscriber."""
        entry = self._members.get(group_id)
        return self._fresh(entry) and any(member == subscriber_id for member, _ in entry[1])  # type: ignore[index]

    def forget_members(self, group_id: str) -> None:
        """Drop the cached members of a conversation."""
        self._members.pop(group_id, None)


class Relay:
    """Publishes what this instance stores and delivers what the others publish.

    Args:
        store: The store (shared by every instance).
        hub: This instance's sessions.
        bus: Carries positions between instances.
        cache_ttl: Seconds the fan-out trusts what it read (conversation, members, addresses).
        max_pending: Positions heard and not yet delivered; beyond it they are dropped and
            every session re-syncs from the store instead (memory stays bounded).
        retry_delay: Seconds to wait after a failed delivery (the store is down) before the
            re-sync that replaces it.
        read_batch: Positions whose messages are read from the store in one query at most.
    """

    def __init__(
        self,
        store: Store,
        hub: Hub,
        bus: Bus,
        *,
        cache_ttl: float = 2.0,
        max_pending: int = 65_536,
        retry_delay: float = 0.5,
        read_batch: int = 1024,
    ) -> None:
        self._store = store
        self._hub = hub
        self.bus = bus
        self.cache = StoreCache(store, ttl=cache_ttl)
        self._max_pending = max_pending
        self._retry_delay = retry_delay
        self._read_batch = read_batch
        self._pending: list[BusPosition] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.resyncs = 0

    def __repr__(self) -> str:
        return f"Relay(bus={self.bus!r})"

    async def start(self) -> None:
        """Start the bus and the delivery of what it hears."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fabric-chat-relay")
        try:
            await self.bus.start(self._heard, self.resync)
        except BaseException:
            await self._stop_task()
            raise

    async def close(self) -> None:
        """Stop delivering and close the bus."""
        try:
            await self._stop_task()
        finally:
            await self.bus.close()

    async def _stop_task(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def publish(self, record: MessageRecord) -> int:
        """Publish a committed message and offer it to this instance's sessions.

        Returns:
            The number of live sessions here it was offered to.
        """
        self.bus.publish(record.group_id, record.seq)
        try:
            return await publish_message(self.cache, self._hub, record)
        except Exception:  # the message is stored: the sessions here read it back instead
            logger.warning("offering a message failed; re-syncing every session")
            self.resync()
            return 0

    def joined(self, group_id: str, subscriber_id: str) -> None:
        """Note that the subscriber is (now) a member: refresh the members where needed."""
        if self.cache.has_member(group_id, subscriber_id):
            return  # known here; a join on another instance was announced by that instance
        self.cache.forget_members(group_id)
        self.bus.publish(group_id, MEMBERS_CHANGED)

    def sessions_closed(self, protocols: Sequence[str]) -> None:
        """Tell the other instances that these sessions were resumed here or no longer exist.

        A socket holding one of them on another instance is closed there (as one superseded
        here is), so that the old socket delivers nothing more.
        """
        for protocol in protocols:
            self.bus.publish(protocol, SESSION_CLOSED)

    async def _close_here(self, protocol: str) -> None:
        live = self._hub.live(protocol)
        if live is None:
            return
        try:
            await self._hub.detach(live)  # what it acked is saved, as on a local takeover
        finally:
            live.channel.finish(superseded=True)

    def resync(self) -> None:
        """Wake every live session to read what lies beyond its positions from the store."""
        self.resyncs += 1
        self._hub.wake_all()

    def _heard(self, positions: Sequence[BusPosition]) -> None:
        if len(self._pending) + len(positions) > self._max_pending:
            logger.warning("too many positions pending; re-syncing every session instead")
            self._pending.clear()
            self.resync()
            return
        self._pending.extend(positions)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            try:
                await self._deliver(batch)
            except Exception:
                logger.warning("delivering positions from the bus failed; re-syncing soon")
                await asyncio.sleep(self._retry_delay)
                self.resync()

    async def _deliver(self, batch: list[BusPosition]) -> None:
        """Read the messages of a batch of positions in one go and offer them, in order."""
        by_group: dict[str, set[int]] = {}
        for group_id, seq in batch:
            if seq == SESSION_CLOSED:
                await self._close_here(group_id)  # a protocol, not a conversation
                continue
            by_group.setdefault(group_id, set()).add(seq)
        wanted: list[BusPosition] = []
        for group_id, seqs in by_group.items():
            if MEMBERS_CHANGED in seqs:
                self.cache.forget_members(group_id)
                seqs.discard(MEMBERS_CHANGED)
            if seqs and await self._has_sessions_here(group_id):
                wanted.extend((group_id, seq) for seq in seqs)
        for start in range(0, len(wanted), self._read_batch):
            # One read for many positions (not one per message); by conversation, in seq order.
            for record in await self._store.messages_at(wanted[start : start + self._read_batch]):
                await publish_message(self.cache, self._hub, record)

    async def _has_sessions_here(self, group_id: str) -> bool:
        """Say whether a member of the conversation has a socket here (else nothing is read)."""
        members = await self.cache.members(group_id)
        return any(self._hub.sockets_of(member) for member, _ in members)
