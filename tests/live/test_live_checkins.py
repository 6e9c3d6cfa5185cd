"""The daily prompt and reminders, from a bot process that stays up for days on a live clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.fakediscord import Channel, FakeDiscord, Message, User
from tests.e2e.helpers import Community
from tests.live.conftest import LiveStarter
from tests.live.support import LiveKindred, local

NEW_YORK = "America/New_York"
# The US springs forward on Sunday 2027-03-14: 02:00 EST becomes 03:00 EDT.
SATURDAY, SUNDAY, MONDAY = date(2027, 3, 13), date(2027, 3, 14), date(2027, 3, 15)


def at(day: date, hh: int, mm: int) -> datetime:
    return local(day, hh, mm, NEW_YORK)


async def configure_prompt(kindred: LiveKindred, guild_channel: Channel, time: str, tz: str = "America/New_York") -> None:
    community = kindred.community
    guild = kindred.fake.world.guild_of(guild_channel)
    reply = await kindred.run("/config checkins", user=community.mod, guild=guild,
                              options={"channel": guild_channel, "time": time, "timezone": tz})
    assert time in reply.text, reply.text


async def expect_prompt(kindred: LiveKindred, channel: Channel, count: int, due: datetime) -> None:
    """Wait for the `count`-th prompt in `channel`; it must have been sent within seconds of `due`."""
    await kindred.expect(lambda: kindred.fake.messages_in(channel), count, due, f"prompt in #{channel.name}")


async def test_one_prompt_a_local_day_on_time_across_the_spring_forward_night(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    night_owls = fake_discord.add_guild("Night Owls", channels=["general", "check-ins"])
    kathmandu = fake_discord.add_guild("Himalaya Circle", channels=["general", "check-ins"])
    for guild in (night_owls, kathmandu):
        fake_discord.add_member(guild, community.mod, manage_guild=True)
    owls, himalaya = night_owls.channel("check-ins"), kathmandu.channel("check-ins")
    kindred = await live(at(SATURDAY, 6, 0))
    await configure_prompt(kindred, community.checkins, "09:00")
    await configure_prompt(kindred, owls, "02:30")  # does not exist on Sunday: 03:30 EDT that day
    await configure_prompt(kindred, himalaya, "09:00", tz="Asia/Kathmandu")  # UTC+05:45: 03:15 UTC

    # Saturday 09:00 EST: Recovery Circle's prompt, and nothing more in the following minutes.
    # (Night Owls set 02:30 when Saturday's had passed: their first prompt is Sunday's.)
    await kindred.approach(at(SATURDAY, 9, 0))
    await expect_prompt(kindred, community.checkins, 1, at(SATURDAY, 9, 0))
    await kindred.jump(at(SATURDAY, 9, 3))
    await kindred.ticks_past(at(SATURDAY, 9, 5))
    assert len(fake_discord.messages_in(community.checkins)) == 1
    assert fake_discord.messages_in(owls) == []

    # Sunday 09:00 in Kathmandu is Saturday 22:15 in New York (the first since it was set up).
    await kindred.approach(local(SUNDAY, 9, 0, "Asia/Kathmandu"))
    await expect_prompt(kindred, himalaya, 1, local(SUNDAY, 9, 0, "Asia/Kathmandu"))

    # Sunday: the bot runs through 02:00 EST becoming 03:00 EDT; Night Owls' 02:30 is 03:30 EDT.
    await kindred.jump(at(SUNDAY, 1, 57))
    await kindred.ticks_past(datetime(2027, 3, 14, 7, 2, tzinfo=UTC))  # 03:02 EDT
    assert fake_discord.messages_in(owls) == [], "02:30 did not exist; nothing before 03:30 EDT"
    await kindred.approach(datetime(2027, 3, 14, 7, 30, tzinfo=UTC))  # 03:30 EDT
    await expect_prompt(kindred, owls, 1, datetime(2027, 3, 14, 7, 30, tzinfo=UTC))
    await kindred.approach(at(SUNDAY, 9, 0))
    await expect_prompt(kindred, community.checkins, 2, at(SUNDAY, 9, 0))  # 09:00 EDT, 13:00 UTC
    await kindred.jump(at(SUNDAY, 9, 3))
    await kindred.ticks_past(at(SUNDAY, 9, 5))

    # Monday 09:00 in Kathmandu (Sunday 23:15 EDT), then Monday 09:00 EDT.
    await kindred.approach(local(MONDAY, 9, 0, "Asia/Kathmandu"))
    await expect_prompt(kindred, himalaya, 2, local(MONDAY, 9, 0, "Asia/Kathmandu"))
    await kindred.approach(at(MONDAY, 9, 0))
    await expect_prompt(kindred, community.checkins, 3, at(MONDAY, 9, 0))
    await kindred.jump(at(MONDAY, 9, 3))
    await kindred.ticks_past(at(MONDAY, 9, 5))

    prompts = fake_discord.messages_in(community.checkins)
    assert [p.content.splitlines()[0] for p in prompts] == [
        "**Daily check-in** · Saturday 13 March", "**Daily check-in** · Sunday 14 March",
        "**Daily check-in** · Monday 15 March"]
    assert all(p.custom_ids == ["kindred:checkin", "kindred:pledge"] for p in prompts)
    assert len(fake_discord.messages_in(owls)) == 2  # Sunday's and Monday's
    assert len(fake_discord.messages_in(himalaya)) == 2
    assert kindred.proc.returncode is None, "the same process served all three days"


async def test_one_prompt_on_the_fall_back_night_when_its_time_happens_twice(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    # The US falls back on Sunday 2027-11-07: 01:00-02:00 EDT is followed by 01:00-02:00 EST.
    sunday = date(2027, 11, 7)
    kindred = await live(datetime(2027, 11, 7, 3, 0, tzinfo=UTC))  # Saturday 23:00 EDT
    await configure_prompt(kindred, community.checkins, "01:30")
    first = local(sunday, 1, 30, NEW_YORK)  # 05:30 UTC: 01:30 EDT, the first of the two
    await kindred.approach(first)
    await expect_prompt(kindred, community.checkins, 1, first)
    # An hour later the clock reads 01:30 again (EST): the scheduler fires, and nothing is posted.
    await kindred.jump(first + timedelta(minutes=58))
    await kindred.ticks_past(first + timedelta(hours=1, minutes=5))
    assert len(fake_discord.messages_in(community.checkins)) == 1


async def test_reminder_dms_only_on_days_without_a_check_in(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    alice, bob = community.alice, community.bob
    monday, tuesday = date(2027, 1, 11), date(2027, 1, 12)
    kindred = await live(datetime(2027, 1, 11, 8, 0, tzinfo=UTC))
    for member, tz in ((alice, "Europe/London"), (bob, "Asia/Kolkata")):
        await kindred.run("/settings timezone", user=member, tz=tz)
        reply = await kindred.run("/reminder set", user=member, time="20:00")
        assert "20:00" in reply.text, reply.text
    await kindred.run("/checkin", user=alice, mood=4)  # Monday: Alice has checked in, Bob has not

    def reminders(user: User) -> list[Message]:
        return kindred.dms(user, "gentle check-in reminder")

    await kindred.approach(local(monday, 20, 0, "Asia/Kolkata"))
    await kindred.expect(lambda: reminders(bob), 1, local(monday, 20, 0, "Asia/Kolkata"), "Bob's reminder")
    await kindred.jump(local(monday, 19, 58, "Europe/London"))
    await kindred.ticks_past(local(monday, 20, 3, "Europe/London"))
    assert reminders(alice) == [], "Alice checked in on Monday: no reminder"

    # Tuesday: nobody checks in, so both are reminded, each at 20:00 in their own zone, once.
    await kindred.approach(local(tuesday, 20, 0, "Asia/Kolkata"))
    await kindred.expect(lambda: reminders(bob), 2, local(tuesday, 20, 0, "Asia/Kolkata"), "Bob's reminder")
    await kindred.approach(local(tuesday, 20, 0, "Europe/London"))
    await kindred.expect(lambda: reminders(alice), 1, local(tuesday, 20, 0, "Europe/London"), "Alice's reminder")
    await kindred.jump(local(tuesday, 20, 3, "Europe/London"))
    await kindred.ticks_past(local(tuesday, 20, 5, "Europe/London"))
    assert (len(reminders(alice)), len(reminders(bob))) == (1, 2)
    assert len(fake_discord.dms_to(alice)) == 1 and len(fake_discord.dms_to(bob)) == 2
