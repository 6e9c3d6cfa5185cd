"""Discord faults through the loopback server: nothing lost, nothing duplicated, no tight retry loops.

429s (per route and global) are waited out by discord.py and never reach the outbox; a burst of
5xx is retried by the outbox on its back-off schedule (1, 2, 4… minutes), one request per
message per step however often the sweeps run; a gateway connection that drops in the middle
of a sweep neither stops the sends nor loses the commands members used meanwhile; and a member
whose DMs are closed is asked once (403/50007), then left alone by every kind of DM (but crisis
help) until they use the bot again, or for a week.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from bot.app import KindredBot
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord, User
from tests.e2e.helpers import Community

POST_MESSAGE = "POST /channels/{channel_id}/messages"
OPEN_DM = "POST /users/@me/channels"
REMINDER = "check-in reminder"
NINE = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # prompts and reminders are due (London is UTC in November)


async def run(fake: FakeDiscord, community: Community, command: str, user: User, **options: object) -> str:
    reply = await (await fake.slash(command, user=user, guild=community.guild, options=options)).reply()
    assert reply.ephemeral, command
    return reply.text


async def prompt_and_reminders(fake: FakeDiscord, community: Community, clock: FakeClock, *users: User) -> None:
    """The daily prompt at 09:00 London, and a 09:00 reminder DM for each of `users`; the clock at 09:00."""
    clock.set(NINE - timedelta(days=1))
    await run(fake, community, "/config checkins", community.mod, channel=community.checkins, time="09:00",
              timezone="Europe/London")
    for user in users:
        await run(fake, community, "/reminder set", user, time="09:00")
    clock.set(NINE)


def posts(fake: FakeDiscord, status: int | None = None) -> int:
    return sum(status is None or r.status == status for r in fake.requests(POST_MESSAGE))


async def outbox(bot: KindredBot) -> list[tuple[str, str, int]]:
    rows = await bot.services.db.fetch_all("SELECT kind, status, attempts FROM outbox ORDER BY outbox_id")
    return [(r["kind"], r["status"], r["attempts"]) for r in rows]


async def test_429s_are_waited_out_by_discord_py_and_each_message_goes_once(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, alice, bob = fake_discord, community.alice, community.bob
    await prompt_and_reminders(fake, community, clock, alice, bob)
    fake.faults.rate_limit(POST_MESSAGE, times=2, retry_after=0.05)
    fake.faults.rate_limit(OPEN_DM, times=1, retry_after=0.05, is_global=True, scope="global")
    await kindred.run_sweeps_once()

    # (Sends to different targets overlap, so the order of the refusals is not fixed.)
    assert Counter(fake.faults.injected) == {("/channels/{channel_id}/messages", 429): 2, ("/users/@me/channels", 429): 1}
    assert len(fake.messages_in(community.checkins)) == 1
    assert [len(fake.dms_to(u)) for u in (alice, bob)] == [1, 1]
    assert (posts(fake, 429), posts(fake, 200)) == (2, 3)  # each refused send retried once, after the wait
    assert await outbox(kindred) == [("checkin.prompt", "sent", 1), ("checkin.reminder", "sent", 1),
                                     ("checkin.reminder", "sent", 1)]
    for _ in range(5):
        clock.advance(timedelta(minutes=10))
        await kindred.run_sweeps_once()
    assert posts(fake) == 5


async def test_a_5xx_outage_is_retried_on_the_outbox_back_off_and_delivered_once(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, alice, bob = fake_discord, community.alice, community.bob
    await prompt_and_reminders(fake, community, clock, alice, bob)
    # Discord answers 503 for 90 minutes (discord.py does not retry a 503: the outbox does).
    fake.faults.server_error(POST_MESSAGE, times=10_000, status=503)
    tries: Counter[int] = Counter()  # minutes after 09:00 → message requests made then
    while clock.now() < NINE + timedelta(minutes=130):
        if clock.now() >= NINE + timedelta(minutes=90):
            fake.faults.clear()
        before = posts(fake)
        await kindred.run_sweeps_once()  # as often as every 30 seconds: it must not mean more requests
        if posts(fake) > before:
            tries[int((clock.now() - NINE).total_seconds() // 60)] += posts(fake) - before
        clock.advance(timedelta(seconds=30))

    # Three messages, each tried at 0, 1, 3, 7, 15, 31 and 63 minutes (503), then at 123 (delivered).
    assert tries == {minute: 3 for minute in (0, 1, 3, 7, 15, 31, 63, 123)}
    assert len(fake.messages_in(community.checkins)) == 1
    assert [len(fake.dms_to(u)) for u in (alice, bob)] == [1, 1]
    assert {status for _, status, _ in await outbox(kindred)} == {"sent"}


async def test_a_500_is_retried_by_discord_py_within_one_outbox_attempt(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake = fake_discord
    await prompt_and_reminders(fake, community, clock)
    fake.faults.server_error(POST_MESSAGE, times=1, status=500)  # discord.py waits 1 s and tries again
    await kindred.run_sweeps_once()
    assert len(fake.messages_in(community.checkins)) == 1
    assert (posts(fake, 500), posts(fake, 200)) == (1, 1)
    assert await outbox(kindred) == [("checkin.prompt", "sent", 1)]


async def test_a_dropped_gateway_mid_sweep_loses_no_send_and_no_command(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, alice, bob = fake_discord, community.alice, community.bob
    await prompt_and_reminders(fake, community, clock, alice, bob)
    # Hold the first send in a 429 so the connection drops while the sweep is mid-way.
    fake.faults.rate_limit(POST_MESSAGE, times=1, retry_after=0.3)
    sweep = kindred.loop.create_task(kindred.run_sweeps_once())
    await fake.wait_for(lambda: fake.faults.injected, what="the sweep's first send")
    async with fake.outage("abort"):
        checkin = await fake.slash("/checkin", user=community.mod, guild=community.guild, mood=4)
        await fake.wait_for(sweep.done, what="the sweep to finish while the gateway is down")
    await sweep
    reply = await checkin.reply()
    assert reply.ephemeral and "Checked in" in reply.text
    assert len(fake.gateway.received(6)) == 1 and len(fake.gateway.received(2)) == 1  # one RESUME, no new IDENTIFY

    clock.advance(timedelta(minutes=5))
    await kindred.run_sweeps_once()
    assert len(fake.messages_in(community.checkins)) == 1
    assert [len(fake.dms_to(u)) for u in (alice, bob)] == [1, 1]
    assert len(checkin.replies) == 1
    assert {status for _, status, _ in await outbox(kindred)} == {"sent"}


async def test_closed_dms_are_tried_once_then_no_kind_of_dm_asks_again_until_the_member_returns(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, alice, bob = fake_discord, community.alice, community.bob
    clock.set(NINE - timedelta(days=1))  # 21 November, 09:00
    await run(fake, community, "/config buddies", community.mod, nudge_after_days=1)
    await run(fake, community, "/reminder set", alice, time="20:00")
    await run(fake, community, "/recovery start", alice, date="2026-11-19")  # 3 days on the 22nd, by DM
    await run(fake, community, "/buddy request", bob, member=alice)
    await run(fake, community, "/buddy accept", alice, member=bob)
    await run(fake, community, "/settings share-checkins", bob, **{"with": "buddies"})
    await run(fake, community, "/checkin", bob, mood=3)  # then away: Alice would be nudged on the 23rd
    fake.faults.close_dms(alice)
    alice_dm = fake.dm_channel(alice)

    def asked_alice() -> int:
        return sum(r.path == f"/channels/{alice_dm.id}/messages" for r in fake.requests(POST_MESSAGE))

    asked_before = asked_alice()  # the buddy request reached her while her DMs were open
    end = NINE + timedelta(days=3)
    while clock.now() < end:  # three days of sweeps every 20 minutes
        clock.advance(timedelta(minutes=20))
        await kindred.run_sweeps_once()
    # One refused reminder on the 21st; the milestone, the nudge and later reminders never asked.
    assert asked_alice() - asked_before == 1
    kinds = {(kind, status) for kind, status, _ in await outbox(kindred)}
    assert ("milestone", "undeliverable") in kinds and ("checkin.reminder", "undeliverable") in kinds
    assert not any(kind == "buddy.nudge" for kind, _ in kinds)  # not decided while her DMs are closed

    # She opens her DMs and uses the bot again: DMs are tried again, and arrive.
    fake.faults.open_dms(alice)
    await run(fake, community, "/pledge", alice)
    received = len(fake.dms_to(alice))
    clock.set(datetime(2026, 11, 25, 20, 1, tzinfo=UTC))
    await kindred.run_sweeps_once()
    later = [m.content for m in fake.dms_to(alice)[received:]]
    assert sorted(("hasn't checked in" in text, REMINDER in text) for text in later) == [(False, True), (True, False)]
    assert asked_alice() - asked_before == 3
