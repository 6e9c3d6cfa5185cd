"""deliver_now (a command that must report a DM's outcome) racing a sweep's drain of the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.db.database import Connection
from bot.db.outbox import NewOutboxItem
from bot.domain.messages import OutgoingMessage, SendResult
from bot.services.container import Services
from bot.services.outbox import nonce_for
from tests.support import RecordingNotifier

U = 20


async def test_deliver_now_and_a_drain_that_sees_its_row_send_it_once(services: Services,
                                                                        notifier: RecordingNotifier) -> None:
    """A drain that reads the row between its commit and deliver_now's send must leave it alone."""
    calls: list[str | None] = []
    original_dm = notifier.send_dm

    async def counting_dm(user_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        calls.append(nonce)
        return await original_dm(user_id, message, nonce=nonce)

    notifier.send_dm = counting_dm  # type: ignore[method-assign]
    transaction = services.db.transaction
    drained = False

    @asynccontextmanager
    async def then_drain() -> AsyncIterator[Connection]:
        nonlocal drained
        async with transaction() as conn:
            yield conn
        if not drained and await services.outbox_repo.status_of("req:race") == "pending":
            drained = True
            await asyncio.create_task(services.outbox.dispatch())  # a sweep's drain, just then

    services.db.transaction = then_drain  # type: ignore[method-assign]
    try:
        result = await services.outbox.deliver_now(NewOutboxItem("req:race", "buddy.request", "dm", U,
                                                                 OutgoingMessage("hey")))
    finally:
        del services.db.transaction
    assert drained
    assert result.ok
    assert calls == [nonce_for("req:race")], "the row was sent by both deliver_now and the drain"


async def test_deliver_now_while_a_drain_is_sending_its_row_reports_the_outcome(
        services: Services, notifier: RecordingNotifier) -> None:
    """No assertion error for the member: deliver_now's row is its own from the moment it exists."""
    release = asyncio.Event()
    sending = asyncio.Event()
    original_dm = notifier.send_dm

    async def slow_dm(user_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        sending.set()
        await release.wait()
        return await original_dm(user_id, message, nonce=nonce)

    notifier.send_dm = slow_dm  # type: ignore[method-assign]
    transaction = services.db.transaction
    drain: asyncio.Task[int] | None = None

    @asynccontextmanager
    async def then_drain() -> AsyncIterator[Connection]:
        nonlocal drain
        async with transaction() as conn:
            yield conn
        if drain is None and await services.outbox_repo.status_of("req:race2") == "pending":
            drain = asyncio.create_task(services.outbox.dispatch())
            sent_or_done = asyncio.ensure_future(sending.wait())
            await asyncio.wait({drain, sent_or_done}, return_when=asyncio.FIRST_COMPLETED)
            sent_or_done.cancel()

    services.db.transaction = then_drain  # type: ignore[method-assign]
    try:
        delivery = asyncio.create_task(services.outbox.deliver_now(
            NewOutboxItem("req:race2", "buddy.request", "dm", U, OutgoingMessage("hey"))))
        await sending.wait()
        release.set()
        result = await delivery
    finally:
        release.set()
        del services.db.transaction
    assert drain is not None
    await drain
    assert result.ok
    assert len(notifier.dms_to(U)) == 1
