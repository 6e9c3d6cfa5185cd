"""Sending what the outbox holds, once, with bounded retries.

Scheduled work (prompts, reminders, celebrations, nudges) is decided in a database
transaction that also inserts an outbox row keyed by the occurrence; this service
sends committed rows. Each send carries a Discord nonce derived from the key with
`enforce_nonce`, so if the process dies after Discord accepted a message but before the
row was marked sent, the resend after restart returns the original message instead of
posting a second one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.db.database import DatabaseUnavailableError
from bot.db.members import MemberRepository
from bot.db.outbox import NewOutboxItem, OutboxItem, OutboxRepository
from bot.domain.clock import Clock
from bot.domain.messages import SendResult, SendStatus
from bot.services.ports import Notifier

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# The detail of a DM not tried because the member's DMs are known to be closed.
KNOWN_CLOSED = "known closed"
ResultHook = Callable[[OutboxItem, SendResult], Awaitable[None]]


def nonce_for(dedupe_key: str) -> str:
    """Return the 25-character Discord nonce for an occurrence key."""
    return "k" + hashlib.sha256(dedupe_key.encode()).hexdigest()[:24]


def backoff(attempts: int) -> timedelta:
    """Return the wait before the next try after `attempts` failures (1 min doubling, max 1 h)."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


class OutboxService:
    """Delivers queued messages and reports outcomes to the features that queued them."""

    def __init__(self, outbox: OutboxRepository, members: MemberRepository, notifier: Notifier,
                 clock: Clock, *, batch: int = 50) -> None:
        self.outbox = outbox
        self.members = members
        self.notifier = notifier
        self.clock = clock
        self.batch = batch
        self._hooks: dict[str, ResultHook] = {}
        self._always_attempt: set[str] = set()
        # Dispatchers take turns; `deliver_now` does not wait for them (an urgent alert must
        # not queue behind a morning's prompts). Each row is claimed while it is being sent,
        # so no two senders ever send the same row.
        self._dispatching = asyncio.Lock()
        self._in_flight: set[int] = set()
        # Outcomes the database could not store when they happened (locked, read-only, full).
        # The row still says "pending", and sending it again once Discord has forgotten the
        # nonce (about 5 minutes) would post a duplicate, so they are stored before anything
        # else is sent, and their rows are not sent again meanwhile.
        self._unrecorded: dict[int, tuple[OutboxItem, SendResult]] = {}

    def on_result(self, kind: str, hook: ResultHook) -> None:
        """Call `hook` after each delivery attempt of messages of this kind."""
        self._hooks[kind] = hook

    def always_attempt(self, kind: str) -> None:
        """Try DMs of this kind even to a member whose DMs are known to be closed (crisis help).

        The mark may be out of date (DMs opened again without a command), and a refusal
        costs one 4xx and then takes the message's fallback, as any refusal does.
        """
        self._always_attempt.add(kind)

    async def deliver_now(self, item: NewOutboxItem) -> SendResult:
        """Queue a message and send it at once (used by commands that must report the outcome)."""
        now = self.clock.now()
        outbox_id = await self.outbox.enqueue(item, not_before=now, now=now)
        if outbox_id is None:
            status = await self.outbox.status_of(item.dedupe_key)
            return SendResult(SendStatus.SENT if status == "sent" else SendStatus.TRANSIENT,
                              detail="already queued")
        queued = await self.outbox.get(outbox_id)
        assert queued is not None
        result = await self._send_claimed(queued)
        assert result is not None, "a row just queued cannot be in flight elsewhere"
        return result

    async def dispatch(self) -> int:
        """Send every due message (in batches); return how many were attempted."""
        attempted = 0
        async with self._dispatching:
            for outbox_id, (item, result) in list(self._unrecorded.items()):
                await self._record(item, result)  # raises while the database is still unavailable
                del self._unrecorded[outbox_id]
            while True:
                due = await self.outbox.due(self.clock.now(), self.batch)
                sent_here = 0
                for item in due:
                    if await self._send_claimed(item) is not None:
                        sent_here += 1
                attempted += sent_here
                if len(due) < self.batch or sent_here == 0:
                    return attempted

    async def _send_claimed(self, item: OutboxItem) -> SendResult | None:
        """Send a row unless another sender holds it; None if it was in flight elsewhere."""
        if item.outbox_id in self._in_flight or item.outbox_id in self._unrecorded:
            return None
        self._in_flight.add(item.outbox_id)
        try:
            return await self._send(item)
        finally:
            self._in_flight.discard(item.outbox_id)

    async def _send(self, item: OutboxItem) -> SendResult:
        nonce = nonce_for(item.dedupe_key)
        if (item.target == "dm" and item.kind not in self._always_attempt
                and await self.members.dm_closed(item.target_id, self.clock.now())):
            # Known-closed DMs are not tried again: repeated 4xx count toward Discord's
            # invalid-request limit. The mark lifts when the member next uses the bot, or
            # after a week (`DM_CLOSED_FOR`).
            result = SendResult(SendStatus.DM_CLOSED, detail=KNOWN_CLOSED)
        elif item.target == "dm":
            result = await self.notifier.send_dm(item.target_id, item.message, nonce=nonce)
        else:
            result = await self.notifier.send_channel(item.target_id, item.message, nonce=nonce)
        try:
            await self._record(item, result)
        except DatabaseUnavailableError:
            self._unrecorded[item.outbox_id] = (item, result)
            log.warning("outbox %s (%s): %s, not stored yet (database unavailable)", item.outbox_id, item.kind,
                        result.status.value)
            raise
        return result

    async def _record(self, item: OutboxItem, result: SendResult) -> None:
        now = self.clock.now()
        if result.status is SendStatus.SENT:
            await self.outbox.mark_sent(item.outbox_id, result.message_id, now)
        elif result.status is SendStatus.TRANSIENT and item.attempts + 1 < MAX_ATTEMPTS:
            await self.outbox.retry_later(item.outbox_id, now + backoff(item.attempts + 1), result.status.value)
            log.warning("outbox %s (%s) transient failure, attempt %d", item.outbox_id, item.kind, item.attempts + 1)
        else:
            await self.outbox.mark_undeliverable(item.outbox_id, result.status.value)
            log.info("outbox %s (%s) undeliverable: %s", item.outbox_id, item.kind, result.status.value)
            if result.status is SendStatus.DM_CLOSED:
                if result.detail != KNOWN_CLOSED:  # a refusal just now: the week starts again
                    await self.members.mark_dm_closed(item.target_id, now)
                await self._fall_back(item, now)
        hook = self._hooks.get(item.kind)
        if hook is not None:
            await hook(item, result)

    async def _fall_back(self, item: OutboxItem, now: datetime) -> None:
        message = item.message
        if message.fallback is None or message.fallback_channel_id is None:
            return
        fallback = NewOutboxItem(
            dedupe_key=item.dedupe_key + ":fallback", kind=item.kind + ".fallback",
            target="channel", target_id=message.fallback_channel_id, message=message.fallback,
            guild_id=item.guild_id, member_id=item.member_id,
        )
        outbox_id = await self.outbox.enqueue(fallback, not_before=now, now=now)
        if outbox_id is not None:
            queued = await self.outbox.get(outbox_id)
            assert queued is not None
            await self._send_claimed(queued)
