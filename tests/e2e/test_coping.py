"""Coping tools end to end: `/urge` with its HALT buttons and check-back DM, `/plan`, and the plan elsewhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import KindredBot
from bot.config import Config
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord, Message, User
from tests.e2e.helpers import Community, running_kindred

SHAME_WORDS = ("failed", "lost", "reset", "should have", "blame")
HALT = {"h": "Eat something", "a": "Put it into words", "l": "Send one message", "t": "Rest, even briefly"}
PLAN_IDS = ["warning_signs", "triggers", "coping", "people", "reasons"]


def assert_kind(text: str) -> None:
    for word in SHAME_WORDS:
        assert word not in text.lower(), text


def urge_id_of(reply: Message) -> int:
    match = re.search(r"kindred:urge:halt:(\d+):h", " ".join(reply.custom_ids))
    assert match, reply.custom_ids
    return int(match.group(1))


async def urge(fake: FakeDiscord, community: Community, user: User, **options: int) -> Message:
    reply = await (await fake.slash("/urge", user=user, guild=community.guild, **options)).reply()
    assert reply.ephemeral
    assert_kind(reply.text)
    return reply


def reminders(fake: FakeDiscord, user: User) -> list[Message]:
    return [m for m in fake.dms_to(user) if "Tuesday group" in m.content]


def checkbacks(fake: FakeDiscord, user: User) -> list[Message]:
    return [m for m in fake.dms_to(user) if any(c.startswith("kindred:urge:after:") for c in m.custom_ids)]


async def save_plan(fake: FakeDiscord, community: Community, user: User, **parts: str) -> Message:
    opened = await fake.slash("/plan edit", user=user, guild=community.guild)
    assert (await opened.modal())["custom_id"] == "kindred:plan:modal"
    done = await fake.submit_modal("kindred:plan:modal", parts, user=user)
    reply = await done.reply()
    assert reply.ephemeral
    return reply


async def test_coping_commands_are_synced_with_the_spec_names(fake_discord: FakeDiscord, kindred: KindredBot) -> None:
    commands = {c["name"]: c for c in fake_discord.commands()}
    options = {o["name"]: o for o in commands["urge"]["options"]}
    assert list(options) == ["strength", "minutes"]
    assert (options["strength"]["min_value"], options["strength"]["max_value"]) == (0, 10)
    assert (options["minutes"]["min_value"], options["minutes"]["max_value"]) == (5, 60)
    assert not any(o.get("required") for o in options.values())
    assert sorted(o["name"] for o in commands["plan"]["options"]) == ["edit", "show"]
    pulse = next(o for o in commands["config"]["options"] if o["name"] == "pulse")
    assert [(o["name"], o["min_value"], o["max_value"], o.get("required", False)) for o in pulse["options"]] == [
        ("weeks", 4, 26, False)]


async def test_an_urge_gets_halt_answers_and_one_check_back_dm_that_quiet_hours_do_not_hold(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, alice = fake_discord, community.alice
    # Quiet hours all day long: the check-back was asked for minutes ago, so they do not hold it back.
    await (await fake.slash("/settings quiet-hours", user=alice, guild=community.guild,
                            start="00:00", end="23:59")).reply()
    reply = await urge(fake, community, alice, strength=6)
    urge_id = urge_id_of(reply)
    assert reply.custom_ids == [f"kindred:urge:halt:{urge_id}:{n}" for n in "halt"]
    assert "6/10" in reply.text and "hungry" in reply.text.lower()
    assert "Things that often help" in reply.text  # no plan yet: the common steps, and how to write a plan
    assert "/plan edit" in reply.text and "/crisis" not in reply.text
    due = clock.now() + timedelta(minutes=15)  # the clock reads a whole minute: no rounding up
    assert f"<t:{int(due.timestamp())}:t>" in reply.text
    # One short DM says when the check-back comes (it also shows the DMs reach Alice).
    [hello] = await fake.wait_for(lambda: fake.dms_to(alice), what="the DM saying when the check-back comes")
    assert f"<t:{int(due.timestamp())}:t>" in hello.content and not hello.custom_ids

    for need, words in HALT.items():
        answer = await (await fake.click(reply, user=alice, custom_id=f"kindred:urge:halt:{urge_id}:{need}")).reply()
        assert answer.ephemeral and words in answer.text
        assert_kind(answer.text)

    clock.set(due - timedelta(seconds=1))
    await kindred.run_sweeps_once()
    assert checkbacks(fake, alice) == []
    clock.set(due)
    await kindred.run_sweeps_once()
    [dm] = checkbacks(fake, alice)
    assert dm.custom_ids == [f"kindred:urge:after:{urge_id}:{n}" for n in range(11)]
    assert "how strong" in dm.content.lower() and "6/10" in dm.content
    clock.advance(timedelta(minutes=30))
    await kindred.run_sweeps_once()
    assert len(checkbacks(fake, alice)) == 1

    answer = await (await fake.click(dm, user=alice, custom_id=f"kindred:urge:after:{urge_id}:2")).reply()
    assert answer.ephemeral and "from **6** to **2**" in answer.text and "/crisis" not in answer.text
    assert_kind(answer.text)
    stored = await kindred.db.fetch_one("SELECT strength_before, strength_after FROM urges WHERE urge_id = ?",
                                        (urge_id,))
    assert stored is not None and tuple(stored) == (6, 2)

    stats = await (await fake.slash("/mystats", user=alice, guild=community.guild)).reply()
    assert "Urges surfed: **1**" in stats.text and "eased by **4.0** points" in stats.text


async def test_the_check_back_goes_out_once_across_a_restart(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock) -> None:
    fake, alice = fake_discord, community.alice
    async with running_kindred(fake, kindred_config, clock=clock):
        reply = await urge(fake, community, alice, minutes=5)
    clock.advance(timedelta(minutes=6))
    for _ in range(2):  # two restarts after it came due: it goes out with the first, late, once
        async with running_kindred(fake, kindred_config, clock=clock, sync=False) as bot:
            await bot.run_sweeps_once()
            await bot.run_sweeps_once()
    [dm] = checkbacks(fake, alice)
    assert dm.custom_ids[0] == f"kindred:urge:after:{urge_id_of(reply)}:0"


async def test_a_strong_urge_puts_the_members_own_plan_first_and_offers_crisis_gently(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, alice = fake_discord, community.alice
    await save_plan(fake, community, alice, coping="Call Sam. Walk the dog round the park.", people="Sam, my sponsor",
                    reasons="My kids")
    reply = await urge(fake, community, alice, strength=9, minutes=10)
    urge_id = urge_id_of(reply)
    assert "/crisis" in reply.text
    fields = [f["name"] for f in reply.embeds[0]["fields"]]
    assert fields == ["📋 What helps you — from your plan", "🌊 Surf the urge"]  # their own steps first
    assert "Walk the dog" in reply.text and "Things that often help" not in reply.text
    assert "kindred:plan:show" in reply.custom_ids
    shown = await (await fake.click(reply, user=alice, custom_id="kindred:plan:show")).reply()
    assert shown.ephemeral and "Sam, my sponsor" in shown.text and "My kids" in shown.text

    clock.advance(timedelta(minutes=11))
    await kindred.run_sweeps_once()
    [dm] = checkbacks(fake, alice)
    answer = await (await fake.click(dm, user=alice, custom_id=f"kindred:urge:after:{urge_id}:9")).reply()
    # Still strong: no blame, /crisis offered, and the member's own plan right there.
    assert "still **9/10**" in answer.text and "/crisis" in answer.text and "Walk the dog" in answer.text
    assert_kind(answer.text)
    # A later tap replaces a mistaken one.
    again = await (await fake.click(dm, user=alice, custom_id=f"kindred:urge:after:{urge_id}:4")).reply()
    assert "from **9** to **4**" in again.text and "/crisis" not in again.text
    assert await kindred.db.fetch_value("SELECT strength_after FROM urges WHERE urge_id = ?", (urge_id,)) == 4


@pytest.mark.parametrize("discord_is", ["quick", "slow"])
async def test_closed_dms_are_said_on_the_reply_and_the_answer_buttons_are_there_instead(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock,
        discord_is: str) -> None:
    fake, alice = fake_discord, community.alice
    fake.faults.close_dms(alice)
    if discord_is == "slow":  # the refusal comes after the reply went out: the reply is edited to say so
        fake.faults.rate_limit("POST /users/@me/channels", retry_after=2.5)
    handle = await fake.slash("/urge", user=alice, guild=community.guild, strength=7, minutes=5)
    reply = await handle.reply()
    urge_id = urge_id_of(reply)
    await fake.wait_for(lambda: "DMs are closed" in reply.content, what="the reply to say the DMs are closed")
    assert reply.ephemeral and "tap how strong the urge is **below**" in reply.text
    assert bool(reply.history) == (discord_is == "slow"), "said at once when Discord answers quickly"
    assert [c for c in reply.custom_ids if ":after:" in c] == [
        f"kindred:urge:after:{urge_id}:{n}" for n in range(11)]
    clock.advance(timedelta(minutes=10))
    await kindred.run_sweeps_once()
    assert fake.dms_to(alice) == [] and len(fake.requests("POST /channels/{channel_id}/messages")) == 1
    assert await kindred.db.fetch_value("SELECT checkback FROM urges WHERE urge_id = ?", (urge_id,)) == "dm_closed"
    answer = await (await fake.click(reply, user=alice, custom_id=f"kindred:urge:after:{urge_id}:3")).reply()
    assert "from **7** to **3**" in answer.text


async def test_the_plan_is_private_prefilled_when_edited_and_cleared_when_emptied(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    fake, alice, bob = fake_discord, community.alice, community.bob
    none = await (await fake.slash("/plan show", user=alice, guild=community.guild)).reply()
    assert none.ephemeral and "/plan edit" in none.text

    opened = await fake.slash("/plan edit", user=alice, guild=community.guild)
    modal = await opened.modal()
    inputs = [c for row in modal["components"] for c in row.get("components", [row.get("component")]) if c]
    assert [c["custom_id"] for c in inputs] == PLAN_IDS
    assert all(c["max_length"] == 500 and not c.get("required", True) for c in inputs)
    done = await fake.submit_modal("kindred:plan:modal", {
        "warning_signs": "Skipping meals, staying in", "triggers": "Payday Fridays", "coping": "Call Sam",
        "people": "Sam 07700 900123", "reasons": "Being there for my kids"}, user=alice)
    saved = await done.reply()
    assert saved.ephemeral and "Payday Fridays" in saved.text and "Only you can see this" in saved.text

    again = await fake.slash("/plan edit", user=alice, guild=community.guild)
    prefilled = {c["custom_id"]: c.get("value") for row in (await again.modal())["components"]
                 for c in row.get("components", [row.get("component")]) if c}
    assert prefilled["triggers"] == "Payday Fridays" and prefilled["reasons"] == "Being there for my kids"
    changed = await (await fake.submit_modal("kindred:plan:modal", {"triggers": "Payday, and Sunday nights"},
                                             user=alice)).reply()
    assert "Sunday nights" in changed.text and "Call Sam" in changed.text  # the other parts were kept as shown

    shown = await (await fake.slash("/plan show", user=alice, guild=community.guild)).reply()
    assert shown.ephemeral and "Sunday nights" in shown.text
    bobs = await (await fake.slash("/plan show", user=bob, guild=community.guild)).reply()
    assert "Sunday nights" not in bobs.text and "/plan edit" in bobs.text

    await (await fake.slash("/plan edit", user=alice, guild=community.guild)).modal()
    cleared = await (await fake.submit_modal("kindred:plan:modal", dict.fromkeys(PLAN_IDS, ""), user=alice)).reply()
    assert "removed" in cleared.text
    assert await kindred.db.fetch_value("SELECT count(*) FROM relapse_plans") == 0


async def test_a_hard_check_in_offers_the_plan(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    fake, alice, guild = fake_discord, community.alice, community.guild
    invited = await (await fake.slash("/checkin", user=alice, guild=guild, mood=1)).reply()
    assert "/plan edit" in invited.text and "kindred:plan:show" not in invited.custom_ids
    await save_plan(fake, community, alice, coping="Call Sam")
    for options in ({"mood": 1}, {"mood": 3, "craving": 8}):
        reply = await (await fake.slash("/checkin", user=alice, guild=guild, **options)).reply()
        assert reply.custom_ids == ["kindred:plan:show"], options
        shown = await (await fake.click(reply, user=alice, custom_id="kindred:plan:show")).reply()
        assert "Call Sam" in shown.text
    calm = await (await fake.slash("/checkin", user=alice, guild=guild, mood=2, craving=7)).reply()
    assert calm.custom_ids == [] and "plan" not in calm.text.lower()


async def test_crisis_shows_the_members_own_plan_first_and_nobody_elses(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    fake, alice, bob = fake_discord, community.alice, community.bob
    await save_plan(fake, community, alice, warning_signs="Not sleeping", people="Sam, my sponsor")
    reply = await (await fake.slash("/crisis", user=alice, guild=community.guild, country="GB")).reply()
    assert reply.ephemeral
    assert reply.embeds[0]["title"] == "📋 Your plan" and "Sam, my sponsor" in reply.text
    assert "999" in reply.text and "116 123" in reply.text
    in_dm = await (await fake.slash("/crisis", user=alice, country="GB")).reply()
    assert "Sam, my sponsor" in in_dm.text and "116 123" in in_dm.text
    others = await (await fake.slash("/crisis", user=bob, guild=community.guild, country="GB")).reply()
    assert "Sam, my sponsor" not in others.text and "Your plan" not in others.text
    assert "999" in others.text


async def test_config_pulse_is_for_moderators_private_and_counts_only(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, guild, mod = fake_discord, community.guild, community.mod
    services = kindred.services
    # Last week (Monday 9 November 2026): ten members check in (five good weeks, five low) and surf
    # urges. The week before: Alice and Bob only, so that week shows "fewer than 5".
    members = [fake.add_user(f"member{n}") for n in range(10)]
    for user in members:
        fake.add_member(guild, user)
    clock.set(datetime(2026, 11, 3, 12, 0, tzinfo=UTC))
    for user in (community.alice, community.bob):
        await services.checkins.check_in(guild.id, user.id, mood=1, craving=9)
    clock.set(datetime(2026, 11, 10, 12, 0, tzinfo=UTC))
    for n, user in enumerate(members):
        await services.checkins.check_in(guild.id, user.id, mood=4 if n % 2 else 2, craving=2)
        await services.coping.start_urge(guild.id, user.id, minutes=5)
    clock.set(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))  # the week of 9 Nov is final

    hidden = await (await fake.slash("/config pulse", user=community.alice, guild=guild,
                                     bypass_permissions=True)).reply()
    assert hidden.ephemeral and "Manage Server" in hidden.text and not hidden.attachments

    reply = await (await fake.slash("/config pulse", user=mod, guild=guild, weeks=4)).reply()
    assert reply.ephemeral
    assert "4 whole weeks" in reply.text and "fewer than 5" in reply.text
    week_of_2nd = [line.split() for line in reply.text.splitlines() if line.startswith("2 Nov")]
    week_of_9th = [line.split() for line in reply.text.splitlines() if line.startswith("9 Nov")]
    # Checked in, urges, buddy pairs, mentorships, members sent a meeting reminder.
    assert week_of_2nd[0] == ["2", "Nov", "fewer", "than", "5", "0", "0", "0", "0"]
    assert week_of_9th[0] == ["9", "Nov", "10", "10", "0", "0", "0"]
    assert "Mood: low 5 · middle 0 · good 5" in reply.text
    assert "Craving: 10 (not split" in reply.text  # all ten in one band: saying so would tell anyone's
    png = reply.attachment("kindred-pulse.png")
    assert png.data.startswith(b"\x89PNG")
    named = [u for u in (community.alice, community.bob, *members) if u.name in reply.text or str(u.id) in reply.text]
    assert named == [], "the pulse names no one"


async def test_config_pulse_hides_two_weeks_whose_difference_would_single_someone_out(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, guild, services = fake_discord, community.guild, kindred.services
    members = [fake.add_user(f"member{n}") for n in range(7)]
    for user in members:
        fake.add_member(guild, user)
    # The same six members check in two weeks running; a seventh joins them in the second week.
    clock.set(datetime(2026, 11, 3, 12, 0, tzinfo=UTC))
    for user in members[:6]:
        await services.checkins.check_in(guild.id, user.id, mood=3)
    clock.set(datetime(2026, 11, 10, 12, 0, tzinfo=UTC))
    for user in members:
        await services.checkins.check_in(guild.id, user.id, mood=1 if user is members[6] else 3)
    clock.set(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))  # the week of 9 Nov is final

    reply = await (await fake.slash("/config pulse", user=community.mod, guild=guild, weeks=4)).reply()
    week_of_2nd = next(line.split() for line in reply.text.splitlines() if line.startswith("2 Nov"))
    week_of_9th = next(line.split() for line in reply.text.splitlines() if line.startswith("9 Nov"))
    # Checked in (then urges, buddy pairs, mentorships, meeting reminders): "6, then 7" is not shown.
    assert week_of_2nd[2:] == ["not", "shown", "0", "0", "0", "0"]
    assert week_of_9th[2:] == ["not", "shown", "0", "0", "0", "0"]
    assert "(not shown)" in reply.text  # nor how the newcomer felt
    assert "the same people plus one" in reply.text


async def test_config_pulse_shows_mentorships_and_members_sent_a_meeting_reminder(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, guild, mod, services = fake_discord, community.guild, community.mod, kindred.services
    members = [fake.add_user(f"member{n}") for n in range(6)]
    for user in members:
        fake.add_member(guild, user)
    # Week of 9 November 2026: three mentorships (six members), and five members reminded of a
    # meeting by DM (the sixth has DMs closed).
    clock.set(datetime(2026, 11, 9, 12, 0, tzinfo=UTC))
    for mentor, mentee in zip(members[::2], members[1::2], strict=True):
        await services.mentors.offer(guild.id, mentor.id)
        outcome = await services.mentors.request(guild.id, mentee.id, mentor.id, "hello")
        await services.mentors.answer_by_button(outcome.ref, mentor.id, accept=True)
    added = await (await fake.slash("/meeting add", user=mod, guild=guild, options={
        "name": "Tuesday group", "weekday": "tuesday", "time": "19:00", "timezone": "UTC", "duration": 60,
        "channel": community.meeting_room})).reply()
    assert "Tuesday group" in added.content
    for user in members:
        await (await fake.slash("/meeting remind", user=user, guild=guild,
                                options={"name": "Tuesday group", "minutes_before": 30})).reply()
    fake.faults.close_dms(members[5])
    clock.set(datetime(2026, 11, 10, 18, 30, tzinfo=UTC))
    await kindred.run_sweeps_once()
    await fake.wait_for(lambda: all(reminders(fake, u) for u in members[:5]), what="five meeting reminders")
    assert reminders(fake, members[5]) == []
    clock.set(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))  # the week of 9 Nov is final

    reply = await (await fake.slash("/config pulse", user=mod, guild=guild, weeks=4)).reply()
    header = next(line.split() for line in reply.text.splitlines() if line.startswith("Week of"))
    assert header[-3:] == ["Mentorships", "Meeting", "reminders"]
    week_of_26th_oct = next(line.split() for line in reply.text.splitlines() if line.startswith("26 Oct"))
    week_of_9th = next(line.split() for line in reply.text.splitlines() if line.startswith("9 Nov"))
    # Checked in, urges, buddy pairs, mentorships, members sent a meeting reminder.
    assert week_of_9th[2:] == ["0", "0", "0", "3", "5"]
    # Ended mentorships and sent messages are kept 30 days: that week is no longer known whole.
    assert week_of_26th_oct[2:] == ["0", "0", "0", "not", "kept", "not", "kept"]
    assert "Meeting reminders: members sent at least one" in reply.text and "“Not kept”" in reply.text
    named = [u for u in members if u.name in reply.text or str(u.id) in reply.text]
    assert named == [], "the pulse names no one"
