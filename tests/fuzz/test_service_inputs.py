"""Property tests: raw member input straight into the service methods the cogs call.

For every example the service either returns a correct result or raises a `UserFacingError`
whose message is kind and safe (no fault details, no raw echo beyond a printable clip), and a
refused input leaves every table exactly as it was. Each property also has an independent
oracle of what should be accepted, so over-refusing valid input fails as surely as accepting
garbage. Examples are derandomized (the same on every run) and bounded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.db.recovery import name_key
from bot.domain.countries import find_country
from bot.domain.localtime import is_valid_zone, local_date, parse_hhmm, zone
from bot.domain.plaintext import has_link
from bot.errors import UserFacingError
from bot.services.recovery import MAX_RUNGS
from cogs.recovery._messages import ladder_text
from tests.fuzz.conftest import ServiceWorld
from tests.fuzz.support import FUZZ, assert_kind_message, changed_tables, hostile_text

G, U, OTHER = 1001, 2002, 3003
CHANNEL = 555_000_000_000_000_001
TODAY = date(2026, 11, 21)  # the worlds' FakeClock: 2026-11-21 10:00 UTC, zone UTC by default
ZONES = ("Europe/London", "America/St_Johns", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "UTC",
         "Etc/GMT+2", "US/Eastern", "America/Argentina/Buenos_Aires")
TIMES = ("07:30", "7:30", "00:00", "23:59", "24:00", "12:60", "21:00", "9:5", "09:05")
COUNTRIES = ("GB", "gb", "US", "United Kingdom", "india", "Côte d'Ivoire", "USA", "DEU", "Atlantis")
DATES = ("2026-11-21", "2026-11-14", "2026-11-13", "2026-11-22", "2025-01-01", "1900-01-01", "1899-12-31",
         "2026-02-29", "2024-02-29", "9999-12-31", "0001-01-01", "2026-1-5")
SNOWFLAKES = st.one_of(st.sampled_from([U, OTHER, 0, 1, 2**63 - 1]), st.integers(0, 2**63 - 1))
# Whole numbers as if the client's range check were bypassed (or a future caller forgot it):
# around the edges and far outside, beyond what SQLite can store.
NUMBERS = st.one_of(st.integers(-5, 40), st.integers(-(2**70), 2**70))

T = TypeVar("T")


def attempt(world: ServiceWorld, call: Callable[[], Awaitable[T]], *inputs: object) -> tuple[T | None, UserFacingError | None]:
    """Run one service call; a refusal must be kind and must change nothing."""
    before = world.snapshot()
    try:
        return world.run(call()), None
    except UserFacingError as error:
        assert_kind_message(error.message, *inputs)
        after = world.snapshot()
        assert after == before, f"a refused input changed {changed_tables(before, after)}: {error.message!r}"
        return None, error


def member(world: ServiceWorld, user_id: int = U) -> Any:
    return world.run(world.services.members.get(G, user_id))


def known(world: ServiceWorld) -> None:
    """Create the member and server rows first: using the bot at all records that, which is intended."""
    world.run(world.services.settings.touch(G, U))


# -- oracles: what a reasonable reader of the SPEC would accept ------------------------------

def is_time(text: str) -> bool:
    parts = text.strip().split(":")
    return (len(parts) == 2 and all(p.isascii() and p.isdigit() for p in parts) and 1 <= len(parts[0]) <= 2
            and len(parts[1]) == 2 and int(parts[0]) < 24 and int(parts[1]) < 60)


def whole(value: object, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if low <= value <= high else None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 3):
        return None
    return int(text) if low <= int(text) <= high else None


def iso_day(text: str) -> date | None:
    stripped = text.strip()
    if len(stripped) != 10 or not stripped.isascii() or stripped[4] != "-" or stripped[7] != "-":
        return None
    try:
        return date.fromisoformat(stripped)
    except ValueError:
        return None


# -- /settings -------------------------------------------------------------------------------

@FUZZ
@given(text=hostile_text(*ZONES))
def test_timezone(world: ServiceWorld, text: str) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.settings.set_timezone(G, U, text), text)
    assert (error is None) == is_valid_zone(text.strip()), (text, error)
    if result is not None:
        assert result.timezone == text.strip() == member(world).timezone


@FUZZ
@given(text=hostile_text(*COUNTRIES))
def test_region(world: ServiceWorld, text: str) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.settings.set_region(G, U, text), text)
    expected = find_country(text)
    assert (error is None) == (expected is not None), (text, error)
    if result is not None:
        assert expected is not None and result.region == expected.code == member(world).region


@FUZZ
@given(start=hostile_text(*TIMES, max_size=8), end=hostile_text(*TIMES, max_size=8))
def test_quiet_hours(world: ServiceWorld, start: str, end: str) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.settings.set_quiet_hours(G, U, start, end), start, end)
    assert (error is None) == (is_time(start) and is_time(end)), (start, end, error)
    if result is not None:
        stored = member(world)
        if parse_hhmm(start) == parse_hhmm(end):
            assert stored.quiet_start is None and stored.quiet_end is None
        else:
            assert (stored.quiet_start, stored.quiet_end) == (parse_hhmm(start), parse_hhmm(end))


@FUZZ
@given(text=hostile_text("nobody", "buddies"))
def test_share_checkins(world: ServiceWorld, text: str) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.settings.set_share_checkins(G, U, text), text)
    assert (error is None) == (text in ("nobody", "buddies")), (text, error)
    if result is not None:
        assert member(world).share_checkins.value == text


# -- check-ins -------------------------------------------------------------------------------

MOODS = st.one_of(hostile_text("1", "3", "5", "0", "6", " 4 ", "05", "10", max_size=25), NUMBERS)
CRAVINGS = st.one_of(st.none(), hostile_text("0", "7", "10", "11", "", "  ", max_size=25), NUMBERS)
NOTES = st.one_of(st.none(), hostile_text("a good day", "x" * 500, " " + "y" * 500 + " ", max_size=600),
                  st.text(min_size=495, max_size=505))
DAYS = st.one_of(st.none(), hostile_text(*DATES, "", " ", max_size=40))


@settings(FUZZ, max_examples=250)
@given(mood=MOODS, craving=CRAVINGS, note=NOTES, day=DAYS)
def test_checkin(world: ServiceWorld, mood: Any, craving: Any, note: str | None, day: str | None) -> None:
    known(world)
    mood_ok = whole(mood, 1, 5)
    blank_craving = craving is None or (isinstance(craving, str) and not craving.strip())
    craving_ok = blank_craving or whole(craving, 0, 10) is not None
    written = None if note is None else note.replace("\x00", "").strip()  # NUL is dropped (PostgreSQL cannot store it)
    note_ok = written is None or len(written) <= 500
    target = TODAY if day is None or not day.strip() else iso_day(day)
    day_ok = target is not None and TODAY - timedelta(days=7) <= target <= TODAY
    earlier = stored_checkin(world, target) if day_ok and target is not None else None
    result, error = attempt(world, lambda: world.services.checkins.check_in(G, U, mood=mood, craving=craving,
                                                                            note=note, day=day),
                            mood, craving, note, day)
    expected_ok = mood_ok is not None and craving_ok and note_ok and day_ok
    assert (error is None) == expected_ok, (mood, craving, note, day, error)
    if result is not None:
        assert target is not None and result.local_date == target
        # A second check-in that day replaces the mood and keeps a craving or note not re-entered.
        given_note = written or None
        kept_craving, kept_note = (None, None) if earlier is None else (earlier["craving"], earlier["note"])
        expected = (mood_ok, kept_craving if blank_craving else whole(craving, 0, 10), given_note or kept_note)
        stored = stored_checkin(world, target)
        assert stored is not None and (stored["mood"], stored["craving"], stored["note"]) == expected
        assert result.updated == (earlier is not None)


def stored_checkin(world: ServiceWorld, day: date) -> Any:
    return world.run(world.db.fetch_one(
        "SELECT mood, craving, note FROM checkins c JOIN members m USING (member_id) "
        "WHERE m.guild_id = ? AND m.user_id = ? AND c.local_date = ?", (G, U, day.isoformat())))


@FUZZ
@given(text=hostile_text(*TIMES, max_size=10))
def test_reminder_time(world: ServiceWorld, text: str) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.checkins.set_reminder(G, U, text), text)
    assert (error is None) == is_time(text), (text, error)
    if result is not None:
        assert result.remind_time == parse_hhmm(text)


@settings(FUZZ, max_examples=60)
@given(days=NUMBERS)
def test_mystats_period(world: ServiceWorld, days: Any) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.checkins.my_stats(G, U, days))
    assert (error is None) == (whole(days, 7, 365) is not None), (days, error)
    if result is not None:
        assert result.days == days and (result.end - result.start).days == days - 1


# -- recovery counters -----------------------------------------------------------------------

NAMES = hostile_text("alcohol", "Alcohol", " alcohol ", "alc ohol", "self-harm free", "gambling", "a" * 40,
                     "a" * 41, "x_y", "@me", max_size=60)
FIRST_START = "2025-01-01"


def clean_name(text: str | None) -> str | None:
    """The name a counter gets, or None if the name must be refused."""
    if text is None:
        return "recovery"
    name = " ".join(text.split())
    if (not text.isprintable() or not name or len(name) > 40 or not any(c.isalnum() for c in name)
            or any(c in "<>@*_~|`\\[]" for c in name)):
        return None
    return name


def with_counter(world: ServiceWorld) -> None:
    """Give the member exactly one counter, "alcohol", from 2025-01-01 (no slips)."""
    known(world)
    names = world.run(world.services.recovery.names(G, U))
    if names != ["alcohol"] or world.run(world.services.recovery.history(G, U))[0].slips:
        for name in names:
            world.run(world.services.recovery.remove(G, U, name))
        world.run(world.services.recovery.start(G, U, FIRST_START, "alcohol"))


@settings(FUZZ, max_examples=200)
@given(day=hostile_text(*DATES, max_size=40), name=st.one_of(st.none(), NAMES),
       visibility=st.one_of(st.none(), hostile_text("private", "buddies", "server", max_size=12)))
def test_recovery_start(world: ServiceWorld, day: str, name: str | None, visibility: str | None) -> None:
    with_counter(world)
    result, error = attempt(world, lambda: world.services.recovery.start(G, U, day, name, visibility),
                            day, name, visibility)
    cleaned, start = clean_name(name), iso_day(day)
    expected_ok = (cleaned is not None and start is not None and date(1900, 1, 1) <= start <= TODAY
                   and visibility in (None, "private", "buddies", "server"))
    assert (error is None) == expected_ok, (day, name, visibility, error)
    if result is not None:
        assert cleaned is not None
        assert name_key(result.counter.name) == name_key(cleaned) and result.counter.start == start
        assert result.created == (name_key(cleaned) != "alcohol")


@settings(FUZZ, max_examples=120)
@given(name=st.one_of(st.none(), NAMES), day=st.one_of(st.none(), hostile_text(*DATES, max_size=40)))
def test_recovery_slip(world: ServiceWorld, name: str | None, day: str | None) -> None:
    with_counter(world)
    result, error = attempt(world, lambda: world.services.recovery.slip(G, U, name, day), name, day)
    on = TODAY if day is None else iso_day(day)
    expected_ok = ((name is None or name_key(name) == "alcohol") and on is not None
                   and date(2025, 1, 1) <= on <= TODAY)
    assert (error is None) == expected_ok, (name, day, error)
    if result is not None:
        assert result.slip_date == on and result.counter.start == on
        assert result.recorded == (on != date(2025, 1, 1))


@settings(FUZZ, max_examples=120)
@given(name=NAMES, visibility=st.one_of(st.none(), hostile_text("private", "buddies", "server", max_size=12)),
       celebrate=st.one_of(st.none(), hostile_text("channel", "dm", "off", max_size=12)),
       action=st.sampled_from(["settings", "remove", "show", "history"]))
def test_recovery_lookups_by_name(world: ServiceWorld, name: str, visibility: str | None, celebrate: str | None,
                                  action: str) -> None:
    with_counter(world)
    recovery = world.services.recovery
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "settings": lambda: recovery.update_settings(G, U, name, visibility, celebrate),
        "remove": lambda: recovery.remove(G, U, name),
        "show": lambda: recovery.show(G, U, None, name),
        "history": lambda: recovery.history(G, U, name),
    }
    result, error = attempt(world, calls[action], name, visibility, celebrate)
    expected_ok = name_key(name) == "alcohol" and (action != "settings" or (
        visibility in (None, "private", "buddies", "server") and celebrate in (None, "channel", "dm", "off")))
    assert (error is None) == expected_ok, (action, name, visibility, celebrate, error)
    if action == "remove" and result is not None:
        assert world.run(recovery.names(G, U)) == []


@settings(FUZZ, max_examples=60)
@given(owner=SNOWFLAKES, name=st.one_of(st.none(), NAMES))
def test_recovery_show_someone_else_reveals_nothing(world: ServiceWorld, owner: int, name: str | None) -> None:
    with_counter(world)  # U's counter is private
    result, error = attempt(world, lambda: world.services.recovery.show(G, OTHER, owner, name), name)
    if owner == OTHER:
        return  # their own counters (they have none): a kind "start one" refusal
    assert error is None and result is not None and not result.own and result.counters == ()


# -- the milestone ladder (moderators) ---------------------------------------------------------

DESCRIPTIONS = st.one_of(st.none(), hostile_text("Three months!", "d" * 100, " " + "e" * 100 + " ", "@everyone",
                                                 max_size=130))


def clean_description(text: str | None) -> str | None:
    if text is None:
        return None
    return " ".join("".join(c if c.isprintable() else " " for c in text).split()) or None


@settings(FUZZ, max_examples=150)
@given(days=st.one_of(NUMBERS, st.integers(1, 36500), st.sampled_from([36500, 36501])), description=DESCRIPTIONS)
def test_milestone_add(world: ServiceWorld, days: Any, description: str | None) -> None:
    known(world)
    ladder = world.run(world.services.recovery.ladder(G)).days
    result, error = attempt(world, lambda: world.services.recovery.add_milestone(G, days, description), description)
    cleaned = clean_description(description)
    # Descriptions go out in public posts: plain words, no formatting, mention or link.
    plain = cleaned is None or not (set(cleaned) & set("<>@*_~|`\\[]") or has_link(cleaned))
    expected_ok = (1 <= days <= 36500 and (cleaned is None or len(cleaned) <= 100) and plain
                   and (days in ladder or len(ladder) < MAX_RUNGS))
    assert (error is None) == expected_ok, (days, description, error)
    if result is not None:
        rung = next(r for r in result.rungs if r.days == days)
        assert rung.description == cleaned
        # The reply names the whole ladder: however long it grows, it must fit one message.
        assert len(ladder_text(result)) <= 1800


@FUZZ
@given(days=st.one_of(NUMBERS, st.sampled_from([1, 3, 7, 30, 365, 36500])))
def test_milestone_remove(world: ServiceWorld, days: Any) -> None:
    known(world)
    before = world.run(world.services.recovery.ladder(G))
    result, error = attempt(world, lambda: world.services.recovery.remove_milestone(G, days))
    expected_ok = not isinstance(days, bool) and days in before.days and len(before.days) > 1
    assert (error is None) == expected_ok, (days, error)
    if result is not None:
        assert days not in result.days
    if len(world.run(world.services.recovery.ladder(G)).days) < 3:
        world.run(world.services.recovery.reset_milestones(G))


def test_the_ladder_has_a_kind_limit(world: ServiceWorld) -> None:
    """Every reply that shows the ladder must fit one message, so the ladder cannot grow without end."""
    known(world)
    recovery = world.services.recovery
    days = 400
    while len(world.run(recovery.ladder(G)).days) < MAX_RUNGS:
        world.run(recovery.add_milestone(G, days, "d" * 100))
        days += 1
    _, error = attempt(world, lambda: recovery.add_milestone(G, 36500, "one more"))
    assert error is not None and "/config milestones remove" in error.message
    changed = world.run(recovery.add_milestone(G, 400, "a new description for an existing step"))
    assert len(changed.days) == MAX_RUNGS and len(ladder_text(changed)) <= 1800


# -- /config (moderators) ------------------------------------------------------------------------

@settings(FUZZ, max_examples=200)
@given(time=hostile_text(*TIMES, max_size=10), tz=hostile_text(*ZONES, max_size=70),
       enabled=st.one_of(st.none(), st.booleans()))
def test_config_checkins(world: ServiceWorld, time: str, tz: str, enabled: bool | None) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.guild_config.set_checkins(
        G, channel_id=CHANNEL, time=time, timezone=tz, enabled=enabled), time, tz)
    assert (error is None) == (is_time(time) and is_valid_zone(tz.strip())), (time, tz, error)
    if result is not None:
        assert result.timezone == tz.strip() and result.guild.checkin_time == parse_hhmm(time)
        assert result.guild.checkin_enabled == (enabled is not False)


@FUZZ
@given(hour=st.one_of(st.none(), NUMBERS))
def test_config_celebrations(world: ServiceWorld, hour: Any) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.guild_config.set_celebrations(G, channel_id=CHANNEL,
                                                                                        hour=hour))
    assert (error is None) == (hour is None or (not isinstance(hour, bool) and 0 <= hour <= 23)), (hour, error)
    if result is not None and hour is not None:
        assert result.celebration_hour == hour


@FUZZ
@given(region=st.one_of(st.none(), hostile_text(*COUNTRIES)), detection=st.booleans(),
       nudge=st.one_of(st.none(), st.booleans()))
def test_config_crisis_region(world: ServiceWorld, region: str | None, detection: bool, nudge: bool | None) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.guild_config.set_crisis(
        G, detection=detection, region=region, public_nudge=nudge), region)
    expected = None if region is None else find_country(region)
    assert (error is None) == (region is None or expected is not None), (region, error)
    if result is not None:
        assert result.guild.crisis_detection == detection
        if expected is not None:
            assert result.guild.region == expected.code


@FUZZ
@given(nudge_after=st.one_of(st.none(), NUMBERS), max_buddies=st.one_of(st.none(), NUMBERS),
       matching=st.one_of(st.none(), st.booleans()))
def test_config_buddies(world: ServiceWorld, nudge_after: Any, max_buddies: Any, matching: bool | None) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.guild_config.set_buddies(
        G, nudge_after_days=nudge_after, max_buddies=max_buddies, matching=matching))
    expected_ok = ((nudge_after is None or (not isinstance(nudge_after, bool) and 1 <= nudge_after <= 14))
                   and (max_buddies is None or (not isinstance(max_buddies, bool) and 1 <= max_buddies <= 5)))
    assert (error is None) == expected_ok, (nudge_after, max_buddies, error)
    if result is not None:
        assert nudge_after is None or result.buddy_nudge_after_days == nudge_after
        assert max_buddies is None or result.buddy_max == max_buddies


# -- buddies ---------------------------------------------------------------------------------------

@FUZZ
@given(days=NUMBERS)
def test_buddy_pause(world: ServiceWorld, days: Any) -> None:
    known(world)
    result, error = attempt(world, lambda: world.services.buddies.pause(G, U, days))
    assert (error is None) == (not isinstance(days, bool) and 1 <= days <= 30), (days, error)
    if result is not None:
        assert result == world.clock.now() + timedelta(days=days)


@settings(FUZZ, max_examples=80)
@given(other=SNOWFLAKES, action=st.sampled_from(["nudge", "end", "accept", "decline"]))
def test_buddy_actions_on_strangers(world: ServiceWorld, other: int, action: str) -> None:
    """Nobody is U's buddy and nobody asked: every action is a kind refusal that changes nothing."""
    known(world)
    buddies = world.services.buddies
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "nudge": lambda: buddies.nudge(G, U, other), "end": lambda: buddies.end(G, U, other),
        "accept": lambda: buddies.accept(G, U, other), "decline": lambda: buddies.decline(G, U, other),
    }
    _, error = attempt(world, calls[action])
    assert error is not None


# -- crisis resources ------------------------------------------------------------------------------

@settings(FUZZ, max_examples=100)
@given(country=st.one_of(st.none(), hostile_text("GB", "US", "au", "India", "Atlantis", "ZZ", "XK")))
def test_crisis_reply_never_fails(world: ServiceWorld, country: str | None) -> None:
    reply = world.run(world.services.crisis.crisis_reply(user_id=U, guild_id=G, country=country))
    for text in (reply.content, reply.embed_title or "", reply.embed_description or ""):
        assert_kind_message(text or "-", country)
    assert len(reply.content) <= 2000 and len(reply.embed_description or "") <= 4096


@settings(FUZZ, max_examples=120)
@given(country=hostile_text("GB", "US", "India", "Atlantis"),
       name=hostile_text("Our warmline", "n" * 80, "Samaritans", max_size=100),
       contact=hostile_text("0800 123 4567", "+44 800 123 4567", "https://example.org/help", "999", "12",
                            max_size=220))
def test_crisis_local_resource_add(world: ServiceWorld, country: str, name: str, contact: str) -> None:
    known(world)
    crisis = world.services.crisis
    result, error = attempt(world, lambda: crisis.add_local_resource(G, country, name, contact), country, name, contact)
    shown_name = " ".join(name.split())
    if find_country(country) is None or not 1 <= len(shown_name) <= 80 or not shown_name.isprintable():
        assert error is not None, (country, name, contact)
    if result is not None:
        assert find_country(country) is not None and result.country == find_country(country).code  # type: ignore[union-attr]
        assert result.name == shown_name and result.contact == " ".join(contact.split())
        world.run(crisis.remove_local_resource(G, str(result.resource_id)))


@settings(FUZZ, max_examples=60)
@given(which=hostile_text("Our warmline", "our warmline", "1", "0", "-1", max_size=100))
def test_crisis_local_resource_remove(world: ServiceWorld, which: str) -> None:
    known(world)
    crisis = world.services.crisis
    if not world.run(crisis.local_resources(G)):
        world.run(crisis.add_local_resource(G, "GB", "Our warmline", "0800 123 4567"))
    [row] = world.run(crisis.local_resources(G))
    result, error = attempt(world, lambda: crisis.remove_local_resource(G, which), which)
    matches = which.strip() == str(row.resource_id) or which.strip().casefold() == "our warmline"
    assert (error is None) == matches, (which, error)


# -- the local day every parser above relies on ----------------------------------------------------

def test_the_worlds_day_is_the_one_the_oracles_assume(world: ServiceWorld) -> None:
    assert local_date(world.clock.now(), zone("UTC")) == TODAY


def test_a_note_with_a_nul_character_is_kept_without_it(world: ServiceWorld) -> None:
    # Found by the fuzz test on PostgreSQL, which cannot store NUL ("invalid byte sequence").
    known(world)
    result = world.run(world.services.checkins.check_in(G, U, mood=3, craving=None, note="ok\x00 day", day=None))
    assert result.local_date == TODAY
    assert stored_checkin(world, TODAY)["note"] == "ok day"
