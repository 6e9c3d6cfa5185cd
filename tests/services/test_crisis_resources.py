"""`/crisis` replies, server-local resources and the rendering of every country's resources."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.config import Config
from bot.domain.clock import FakeClock
from bot.domain.crisis.resources import Need
from bot.domain.crisis.templates import Language, TemplateKey
from bot.errors import InvalidInputError, NotFoundError
from bot.services import crisis as crisis_module
from bot.services.container import Services
from bot.services.crisis import MAX_LOCAL_RESOURCES, load_crisis_data, resources_message

G, ALICE = 800, 8001
DATA = load_crisis_data(Config())
NEEDS = {
    TemplateKey.DM_IMMINENT: Need.IMMINENT, TemplateKey.DM_OVERDOSE: Need.OVERDOSE,
    TemplateKey.DM_IDEATION: Need.GENERAL, TemplateKey.DM_DISTRESS: Need.GENERAL,
    TemplateKey.DM_RELAPSE: Need.RELAPSE, TemplateKey.DM_WORRIED_OTHER: Need.GENERAL,
    TemplateKey.CRISIS_COMMAND: Need.GENERAL,
}


def resource_lines(content: str) -> list[str]:
    return [line for line in content.splitlines() if line.startswith("**")]


@pytest.mark.parametrize("lang", list(Language))
@pytest.mark.parametrize("key", list(NEEDS))
def test_every_country_renders_within_discord_limits_in_the_guidance_order(key: TemplateKey, lang: Language) -> None:
    for country in (*DATA.directory.countries, None):
        selection = DATA.directory.select(country.code if country else None, need=NEEDS[key])
        message = resources_message(selection, DATA.templates, key, lang, server="A Server With A Long Name " * 3)
        where = country.code if country else "worldwide"
        assert len(message.content) <= 2000, (where, len(message.content))
        assert len(message.embed_description or "") <= 4096
        lines = resource_lines(message.content)
        assert 2 <= len(lines) <= 3, (where, message.content)
        if country is None:
            assert "findahelpline.com" in message.content
            continue
        emergency = next(i for i, line in enumerate(lines) if f"**{country.emergency.dial}**" in line)
        if NEEDS[key] in (Need.IMMINENT, Need.OVERDOSE):
            assert emergency == 0, (where, key)
        else:
            assert emergency > 0, (where, key)  # emergency first only for imminent risk and overdose
        hidden = [line for line in country.lines if not line.verified_for_members]
        for line in hidden:
            assert line.name not in message.content + (message.embed_description or ""), (where, line.name)


async def test_crisis_reply_follows_option_member_server_then_config(services: Services, config: Config) -> None:
    crisis = services.crisis
    worldwide = await crisis.crisis_reply(user_id=ALICE, guild_id=G)
    assert "findahelpline.com" in worldwide.content and "your local emergency number" in worldwide.content
    await services.guild_config.set_crisis(G, detection=False, region="AU")
    assert "13 11 14" in (await crisis.crisis_reply(user_id=ALICE, guild_id=G)).content
    await services.settings.set_region(G, ALICE, "United States")
    assert "988" in (await crisis.crisis_reply(user_id=ALICE, guild_id=G)).content
    gb = await crisis.crisis_reply(user_id=ALICE, guild_id=G, country="gb")
    assert "116 123" in gb.content and "999" in gb.content
    in_dm = await crisis.crisis_reply(user_id=ALICE, guild_id=None)
    assert "988" in in_dm.content  # the region the member set where they were last active
    spanish = await crisis.crisis_reply(user_id=ALICE, guild_id=None, country="ES", lang=Language.ES)
    assert spanish.content.startswith("Aquí tienes") and "112" in spanish.content


async def test_unknown_and_uncovered_countries_get_the_worldwide_directory(services: Services) -> None:
    for typed, note in (("Atlantis", "couldn't find that country"), ("KE", "don't have checked numbers")):
        reply = await services.crisis.crisis_reply(user_id=ALICE, guild_id=G, country=typed)
        assert reply.content.startswith("I ") and note in reply.content
        assert "findahelpline.com" in reply.content and "befrienders.org" in (reply.embed_description or "")


async def test_crisis_reply_without_the_database(services: Services, config: Config) -> None:
    services.crisis.config = dataclasses.replace(
        config, defaults=dataclasses.replace(config.defaults, region="GB"))
    await services.settings.set_region(G, ALICE, "US")
    await services.crisis.add_local_resource(G, "GB", "Circle warmline", "0800 123 4567")
    await services.db.close()
    reply = await services.crisis.crisis_reply(user_id=ALICE, guild_id=G)
    assert "999" in reply.content and "116 123" in reply.content  # the configured default, not US
    assert "Circle warmline" not in (reply.embed_description or "")


async def test_crisis_reply_does_not_wait_for_a_stalled_database(services: Services,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crisis_module, "DB_LOOKUP_TIMEOUT", 0.05)
    await services.settings.set_region(G, ALICE, "US")
    gate = threading.Event()
    for conn in (services.db.conn, services.db.reader):  # a stalled disk stalls both database threads
        await conn.create_function("stall", 0, lambda: gate.wait(10))
    stuck = asyncio.gather(services.db.fetch_value("SELECT stall()"), services.db.conn.execute("SELECT stall()"))
    try:
        reply = await asyncio.wait_for(services.crisis.crisis_reply(user_id=ALICE, guild_id=G), 1.0)
        assert "findahelpline.com" in reply.content  # no default configured: the worldwide directory
    finally:
        gate.set()
        await stuck


async def test_server_resources_are_validated_listed_and_shown(services: Services) -> None:
    crisis = services.crisis
    added = await crisis.add_local_resource(G, "United Kingdom", "  Circle   warmline ", "0800 123 4567")
    assert (added.country, added.name) == ("GB", "Circle warmline")
    await crisis.add_local_resource(G, "US", "Circle web", "https://example.org/help")
    updated = await crisis.add_local_resource(G, "gb", "Circle warmline", "+44 800 123 4568")
    assert updated.resource_id == added.resource_id and updated.contact == "+44 800 123 4568"
    for country, name, contact, message in (
            ("GB", "Old", "08457 90 90 90", "no longer works"),
            ("US", "Old lifeline", "1-800-273-8255", "no longer works"),
            ("GB", "Call 08457 90 90 90", "0800 123 4567", "not in the name"),
            ("GB", "Nothing", "ring us", "phone number"),
            ("GB", "Tiny", "12", "phone number"),
            ("Narnia", "X", "0800 123 4567", "couldn't find a country"),
            ("GB", "x" * 81, "0800 123 4567", "1 to 80"),
            ("GB", "warm\u200bline\U000e0262", "0800 123 4567", "can't show"),
            ("GB", "Web", "https://example.org/\x00", "can't show")):
        with pytest.raises(InvalidInputError, match=message):
            await crisis.add_local_resource(G, country, name, contact)
    gb = await crisis.crisis_reply(user_id=ALICE, guild_id=G, country="GB")
    assert "Circle warmline" in (gb.embed_description or "") and "Circle web" not in (gb.embed_description or "")
    everywhere = await crisis.crisis_reply(user_id=ALICE, guild_id=G, country="Atlantis")
    assert "Circle warmline" in (everywhere.embed_description or "") and "Circle web" in (everywhere.embed_description or "")
    assert "Circle warmline" not in (await crisis.crisis_reply(user_id=ALICE, guild_id=G + 1, country="GB")).embed_description or ""

    removed = await crisis.remove_local_resource(G, "CIRCLE WARMLINE")
    assert removed.name == "Circle warmline"
    with pytest.raises(NotFoundError, match="Circle web"):
        await crisis.remove_local_resource(G, "Circle warmline")
    web = (await crisis.local_resources(G))[0]
    await crisis.remove_local_resource(G, str(web.resource_id))
    assert await crisis.local_resources(G) == []


async def test_a_server_keeps_its_own_list_short(services: Services) -> None:
    for i in range(MAX_LOCAL_RESOURCES):
        await services.crisis.add_local_resource(G, "GB", f"Line {i}", f"0800 000 00{i:02d}")
    with pytest.raises(InvalidInputError, match="already has"):
        await services.crisis.add_local_resource(G, "GB", "One more", "0800 999 9999")
    await services.crisis.add_local_resource(G, "GB", "Line 3", "0800 111 1111")  # updating one still works


@pytest.mark.parametrize(
    ("contact", "says"),
    [
        ("+44 12", "+44 12` isn't a complete phone number in the United Kingdom"),
        ("1 1 1", "1 1 1` isn't a complete phone number in the United Kingdom"),
        ("+1 800 662 4357", "a number in the United States, not the United Kingdom"),
        ("http://example.org/help", "https://example.org/help"),
        ("javascript:alert(1)", "only web addresses starting with `https://`"),
        ("https://example.org/[help](https://evil.example)", "just the address"),
        ("https://trusted.org@evil.example/", "just the address"),
        ("www.example.org", "https://www.example.org"),
        ("https://samaritаns.org/help", "https://xn--samaritns-6yh.org/help"),  # a Cyrillic "а": a look-alike
        ("https://bit.ly/3abc", "full address"),                                  # hides where it leads
        ("https://www.tinyurl.com/help", "full address"),
        ("https://example.org/#@everyone", "just the address"),
    ],
)
async def test_a_contact_that_is_not_a_real_number_or_https_link_is_refused_kindly(
        services: Services, contact: str, says: str) -> None:
    assert says in await refusal(services, "Circle warmline", contact)


async def refusal(services: Services, name: str, contact: str) -> str:
    """Add a resource that must be refused; return the refusal, having checked that nothing changed."""
    crisis = services.crisis
    await crisis.add_local_resource(G, "GB", "Circle warmline", "0800 123 4567")
    before = await crisis.local_resources(G)
    with pytest.raises(InvalidInputError) as caught:
        await crisis.add_local_resource(G, "GB", name, contact)
    assert "nothing" in caught.value.message.casefold()  # says that nothing changed
    assert await crisis.local_resources(G) == before
    return caught.value.message


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("[Samaritans](https://evil.example)", "web address"),  # a masked link under a trusted name
        ("[Samaritans](evil)", "formatting"),
        ("<@&123456789012345678> @everyone", "formatting"),    # mentions
        ("**URGENT** ring us", "formatting"),
        ("`x` ||y||", "formatting"),
        ("Helpline https://evil.example", "web address"),
        ("Helpline www.evil.example", "web address"),
        ("Chat on discord.gg/abcdef", "web address"),
        ("Call 07700 900123 now", "not in the name"),          # a number nobody checked
        ("Samaritans 116 123", "not in the name"),
    ],
)
async def test_a_name_that_could_pass_for_something_else_is_refused_kindly(
        services: Services, name: str, says: str) -> None:
    assert says in await refusal(services, name, "0800 123 4567")


@pytest.mark.parametrize("name", ["Mind (England & Wales)", "NHS 111 mental health", "Shout 85258",
                                  "Samaritans - 24/7", "St. John's warmline", "Line 3"])
async def test_ordinary_names_are_kept_as_typed(services: Services, name: str) -> None:
    assert (await services.crisis.add_local_resource(G, "GB", name, "0800 123 4567")).name == name


async def test_server_resources_show_as_typed_and_their_links_do_not_embed(services: Services) -> None:
    crisis = services.crisis
    await crisis.add_local_resource(G, "GB", "Circle web", "https://example.org/help_me")
    await crisis.add_local_resource(G, "GB", "Circle warmline", "0800 123 4567")
    # A name stored before names were checked shows as typed: no formatting, mention or masked link.
    await services.db.execute("INSERT INTO crisis_local_resources (guild_id, country, name, contact, created_at) "
                              "VALUES (?, 'GB', '[Old](https://evil.example) **now** <@&1>', '116 123', ?)",
                              (G, "2026-01-01T00:00:00+00:00"))
    text = (await crisis.crisis_reply(user_id=ALICE, guild_id=G, country="GB")).embed_description or ""
    assert "• Circle web — <https://example.org/help_me>" in text
    assert "• Circle warmline — 0800 123 4567" in text
    assert "• \\[Old\\](https://evil.example) \\*\\*now\\*\\* \\<\\@&1\\> — 116 123" in text


async def test_data_freshness_follows_the_clock_not_the_calendar(services: Services, clock: FakeClock) -> None:
    checked = services.crisis.directory.last_checked
    clock.set(datetime.combine(checked + timedelta(days=90), time(23, 0), UTC))
    assert not services.crisis.data_freshness().stale
    clock.set(datetime.combine(checked + timedelta(days=91), time(1, 0), UTC))
    fresh = services.crisis.data_freshness()
    assert fresh.stale and fresh.age == timedelta(days=91) and "older than 90 days" in fresh.describe()
