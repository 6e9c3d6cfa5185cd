"""Sending what the outbox holds, once, with bounded retries.

Scheduled work (prompts, reminders, celebrations, nudges) is decided in a database
transaction that also inserts an outbox row keyed by the occurrence; this service
sends committed rows. Each send carries a Discord nonce derived from the key with
`enforce_nonce`, so if the process dies after Discord accepted a message but before the
row was marked sent, the resend after restart returns the original message instead of
posting a second one.

Each row is claimed in the database just before it is sent (see `bot.db.outbox`): a
batch read a moment ago does not send a row that a member's change has cancelled or
deleted since, and no two senders ever hold one row. A claim lapses after `CLAIM_TTL`
if its sender died. Discord forgets a nonce after about five minutes, so a row retaken
after a lapse must be resent within that window of the first try: a send is given up
after `SEND_TIMEOUT` (then retried, with the same nonce, a minute later), the claim
lasts twice that, and a lapsed claim is retaken at the next drain (every minute) — at
most about three minutes after the first try.

What the nonce cannot cover: a send that reached Discord but whose answer was lost (a 5xx
after the work was done), followed by failures on every retry until Discord has forgotten
the nonce. Retries back off 1, 2, 4 … minutes, so that takes the retries at 1 and 3
minutes failing too: during a Discord incident, a message may then appear twice. Nothing
else in Discord's API can tell (a message's nonce is not returned by history reads).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from bot.db.members import MemberRepository
from bot.db.outbox import Claim, NewOutboxItem, OutboxItem, OutboxRepository
from bot.domain.clock import Clock
from bot.domain.messages import SendResult, SendStatus
from bot.errors import DatabaseUnavailableError
from bot.services.ports import Metrics, Notifier, NullMetrics

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Sends in flight at once. Discord answers a send in roughly 50-150 ms, so one at a time would
# cap a fan-out at 7-20 messages a second, well under the 50 a second the global limit allows
# (the notifier keeps the rate). Messages to one target still go one after another, in order.
SENDERS = 8
SEND_TIMEOUT = timedelta(seconds=60)  # one send, with discord.py's own retries of 429s and 5xx
CLAIM_TTL = timedelta(minutes=2)  # well inside Discord's ~5-minute nonce window (see above)
# The detail of a DM not tried because the member's DMs are known to be closed.
KNOWN_CLOSED = "known closed"
ResultHook = Callable[[OutboxItem, SendResult], Awaitable[None]]


def nonce_for(dedupe_key: str) -> str:
    """Return the 25-character Discord nonce for an occurrence key."""
    return "k" + hashlib.sha256(dedupe_key.encode()).hexdigest()[:24]


def claim_owner(scope: str) -> str:
    """Return the owner a process's claims are taken in: its scope among processes sharing a database.

    One process at a time runs as each owner (each shard range is run by one process); "main"
    is the only process of a bot that is not split.
    """
    return scope or "main"


def backoff(attempts: int) -> timedelta:
    """Return the wait before the next try after `attempts` failures (1 min doubling, max 1 h)."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


class OutboxService:
    """Delivers queued messages and reports outcomes to the features that queued them."""

    def __init__(self, outbox: OutboxRepository, members: MemberRepository, notifier: Notifier,
                 clock: Clock, *, batch: int = 50, owner: str = "main", metrics: Metrics | None = None) -> None:
        self.outbox = outbox
        self.members = members
        self.notifier = notifier
        self.clock = clock
        self.batch = batch
        self.metrics = metrics or NullMetrics()
        # Claims name this process: its owner (see `claim_owner`: one process at a time per
        # owner), where it runs, and a token of this start, so a restarted process can tell its
        # predecessor's claims (that process is gone) from its own, and an operator can see
        # which process holds a row. Other owners' claims are left to lapse (`CLAIM_TTL`).
        if ":" in owner:
            raise ValueError(f"an owner cannot contain ':' (it separates a claim's parts): {owner!r}")
        self.owner = owner
        self.token = f"{self.owner}:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.send_timeout = SEND_TIMEOUT.total_seconds()
        self._adopted = False
        self._hooks: dict[str, ResultHook] = {}
        self._always_attempt: set[str] = set()
        # Dispatchers take turns; `deliver_now` does not wait for them (an urgent alert must
        # not queue behind a morning's prompts). The database claim keeps them off each other's rows.
        self._dispatching = asyncio.Lock()
        # Outcomes the database could not store when they happened (locked, read-only, full).
        # The row still says "pending" and is still claimed by us; sending it again once Discord
        # has forgotten the nonce (about 5 minutes) would post a duplicate, so they are stored
        # before anything else is sent, and their rows are not sent again meanwhile.
        self._unrecorded: dict[int, tuple[OutboxItem, SendResult]] = {}
        self._stopping = False

    def stop(self) -> None:
        """Send nothing more after the send in flight (shutdown: the outcome of that one is still recorded)."""
        self._stopping = True

    def on_result(self, kind: str, hook: ResultHook) -> None:
        """Call `hook` after each delivery attempt of messages of this kind."""
        self._hooks[kind] = hook

    def always_attempt(self, kind: str) -> None:
        """Try DMs of this kind even to a member whose DMs are known to be closed (crisis help).

        The mark may be out of date (DMs opened again without a command), and a refusal
        costs one 4xx and then takes the message's fallback, as any refusal does.
        """
        self._always_attempt.add(kind)

    def _claim(self, now: datetime) -> Claim:
        return Claim(self.token, now + CLAIM_TTL)

    async def deliver_now(self, item: NewOutboxItem) -> SendResult:
        """Queue a message and send it at once (used by commands that must report the outcome)."""
        now = self.clock.now()
        queued = await self.outbox.enqueue_claimed(item, self._claim(now), now)
        if queued is None:
            status = await self.outbox.status_of(item.dedupe_key)
            return SendResult(SendStatus.SENT if status == "sent" else SendStatus.TRANSIENT,
                              detail="already queued")
        return await self._send(queued)

    async def send_now(self, dedupe_keys: Sequence[str]) -> list[SendResult | None]:
        """Send these committed rows at once, side by side, without waiting for a drain or its backlog.

        For urgent messages decided in a transaction with other state (a crisis alert and the
        member's DM): a drain sending a fan-out of prompts or reminders would hold them for as
        long as the fan-out takes, and neither should wait for the other's round trip. Every row
        is claimed before any is sent, so a drain never sends one too; None for a row another
        sender already holds (or sent).
        """
        now = self.clock.now()
        claimed = [await self.outbox.claim(key, self.token, now, until=now + CLAIM_TTL) for key in dedupe_keys]
        sends = [self._send(item) for item in claimed if item is not None]
        sent = iter(await asyncio.gather(*sends))
        return [None if item is None else next(sent) for item in claimed]

    async def dispatch(self) -> int:
        """Send every due message (in batches); return how many were attempted."""
        attempted = 0
        async with self._dispatching:
            if not self._adopted:
                released = await self.outbox.release_claims(self.owner, keep=self.token)
                if released:
                    log.info("outbox: took back %d message(s) a previous process was sending", released)
                self._adopted = True
            for outbox_id, (item, result) in list(self._unrecorded.items()):
                await self._record(item, result)  # raises while the database is still unavailable
                del self._unrecorded[outbox_id]
            while True:
                due = await self.outbox.due(self.clock.now(), self.batch)
                lanes: dict[tuple[str, int], list[int]] = {}
                for outbox_id, target, target_id in due:
                    lanes.setdefault((target, target_id), []).append(outbox_id)
                sent_here = await self._send_lanes(list(lanes.values()))
                attempted += sent_here
                if len(due) < self.batch or sent_here == 0 or self._stopping:
                    return attempted

    async def _send_lanes(self, lanes: list[list[int]]) -> int:
        """Send each lane's rows in order, up to SENDERS lanes at once; return how many were sent.

        If one sender fails (the database became unavailable, or a bug), the others finish the
        row they hold and take no new one, and the first failure is raised once they have: a
        send is never cut off halfway, and no sender is left running on its own.
        """
        waiting = deque(lanes)
        sent = 0
        failure: Exception | None = None

        async def sender() -> None:
            nonlocal sent, failure
            while waiting and failure is None and not self._stopping:
                for outbox_id in waiting.popleft():
                    if failure is not None or self._stopping:
                        return
                    # Claimed one by one, just before sending: whatever changed since the
                    # batch was read (a cancellation, a deletion, another sender) counts.
                    now = self.clock.now()
                    try:
                        claimed = await self.outbox.claim(outbox_id, self.token, now, until=now + CLAIM_TTL)
                        if claimed is not None:
                            await self._send(claimed)
                            sent += 1
                    except Exception as exc:
                        failure = failure or exc
                        return

        await asyncio.gather(*(sender() for _ in range(min(SENDERS, len(lanes)))))
        if failure is not None:
            raise failure
        return sent

    async def _send(self, item: OutboxItem) -> SendResult:
        """Send a row this process holds, and record the outcome."""
        if (item.target == "dm" and item.kind not in self._always_attempt
                and await self.members.dm_closed(item.target_id, self.clock.now())):
            # Known-closed DMs are not tried again: repeated 4xx count toward Discord's
            # invalid-request limit. The mark lifts when the member next uses the bot, or
            # after a week (`DM_CLOSED_FOR`).
            result = SendResult(SendStatus.DM_CLOSED, detail=KNOWN_CLOSED)
        else:
            result = await self._deliver(item)
        self.metrics.outbox_result(item.kind, result.status.value)
        try:
            await self._record(item, result)
        except DatabaseUnavailableError:
            self._unrecorded[item.outbox_id] = (item, result)
            log.warning("outbox %s (%s): %s, not stored yet (database unavailable)", item.outbox_id, item.kind,
                        result.status.value)
            raise
        return result

    async def _deliver(self, item: OutboxItem) -> SendResult:
        """Hand the message to Discord, giving up (as a transient failure) after `SEND_TIMEOUT`."""
        nonce = nonce_for(item.dedupe_key)
        try:
            async with asyncio.timeout(self.send_timeout):
                if item.target == "dm":
                    return await self.notifier.send_dm(item.target_id, item.message, nonce=nonce)
                return await self.notifier.send_channel(item.target_id, item.message, nonce=nonce)
        except TimeoutError:
            # It may have reached Discord; the retry carries the same nonce, well within the window.
            log.warning("outbox %s (%s): no answer from Discord in %.0f s", item.outbox_id, item.kind,
                        self.send_timeout)
            return SendResult(SendStatus.TRANSIENT, detail="timeout")

    async def _record(self, item: OutboxItem, result: SendResult) -> None:
        now = self.clock.now()
        if result.status is SendStatus.SENT:
            recorded = await self.outbox.mark_sent(item.outbox_id, self.token, result.message_id, now)
        elif result.status is SendStatus.TRANSIENT and item.attempts + 1 < MAX_ATTEMPTS:
            recorded = await self.outbox.retry_later(item.outbox_id, self.token, now + backoff(item.attempts + 1),
                                                     result.status.value)
            log.warning("outbox %s (%s) transient failure, attempt %d", item.outbox_id, item.kind, item.attempts + 1)
        else:
            if result.status is SendStatus.DM_CLOSED:
                # Before the row is closed, so that storing this outcome again after a database
                # failure (see `_unrecorded`) still does them; both are safe to repeat.
                if result.detail != KNOWN_CLOSED:  # a refusal just now: the week starts again
                    await self.members.mark_dm_closed(item.target_id, now)
                await self._fall_back(item, now)  # its own dedupe key: queued and sent once
            recorded = await self.outbox.mark_undeliverable(item.outbox_id, self.token, result.status.value)
            # A member's closed DMs are their own business, not an operator's (DEBUG); a refused
            # channel post is a permission to fix.
            log.log(logging.DEBUG if result.status is SendStatus.DM_CLOSED else logging.INFO,
                    "outbox %s (%s) undeliverable: %s", item.outbox_id, item.kind, result.status.value)
        if not recorded:
            # Deleted with its member meanwhile, or our claim lapsed and another sender holds
            # it (it records the outcome; the nonce made its resend return this message).
            log.info("outbox %s (%s): outcome %s not stored (the row is gone or held by another sender)",
                     item.outbox_id, item.kind, result.status.value)
            return
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
        queued = await self.outbox.enqueue_claimed(fallback, self._claim(now), now)
        if queued is not None:
            await self._send(queued)
