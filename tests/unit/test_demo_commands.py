"""The demo's message box: `/command sub option:value` read against the synced schemas; the page's guard."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.demo.commands import CommandError, convert, parse, values_for
from bot.demo.page import DemoPage
from bot.fakediscord import FakeDiscord

COMMANDS: list[dict[str, Any]] = [
    {"name": "checkin", "type": 1, "options": [
        {"name": "mood", "type": 4, "required": True, "min_value": 1, "max_value": 5},
        {"name": "craving", "type": 4},
        {"name": "note", "type": 3},
        {"name": "day", "type": 3}]},
    {"name": "config", "type": 1, "options": [
        {"name": "checkins", "type": 1, "options": [
            {"name": "channel", "type": 7, "required": True},
            {"name": "time", "type": 3, "required": True},
            {"name": "timezone", "type": 3, "required": True, "autocomplete": True},
            {"name": "enabled", "type": 5}]},
        {"name": "crisis", "type": 1, "options": [
            {"name": "detection", "type": 3, "required": True,
             "choices": [{"name": "on", "value": "on"}, {"name": "off", "value": "off"}]}]}]},
    {"name": "mystats", "type": 1},
]


def test_options_run_to_the_next_option_name_so_text_may_have_spaces() -> None:
    typed = parse("/checkin mood:4 note:a good day, time:09:00 craving:2", COMMANDS)
    assert typed.path == "/checkin"
    assert typed.values == {"mood": "4", "note": "a good day, time:09:00", "craving": "2"}


@pytest.mark.parametrize(("text", "values"), [
    # "day" is an option of /checkin: in free text, "day: " (a space after the colon) is words.
    ("/checkin mood:3 note:what a day: exhausting but sober",
     {"mood": "3", "note": "what a day: exhausting but sober"}),
    ("/checkin mood:3 note:a long day:", {"mood": "3", "note": "a long day:"}),
    # an option already given cannot come again, so in free text it is words too
    ("/checkin mood:3 note:my mood:2 this morning", {"mood": "3", "note": "my mood:2 this morning"}),
    # a new option's value follows its colon: that starts the option, also after free text
    ("/checkin mood:3 note:tired day:2027-01-02", {"mood": "3", "note": "tired", "day": "2027-01-02"}),
    # after a value that is not free text, a space after the colon is the visitor's spacing
    ("/checkin mood:3 note: tired", {"mood": "3", "note": "tired"}),
    ("/checkin mood: 3 craving: 2", {"mood": "3", "craving": "2"}),
])
def test_free_text_may_contain_an_option_name_and_a_colon(text: str, values: dict[str, str]) -> None:
    assert parse(text, COMMANDS).values == values


def test_subcommands_are_part_of_the_path() -> None:
    typed = parse("/config checkins channel:#check-ins time:09:00 timezone:Europe/London", COMMANDS)
    assert typed.path == "/config checkins"
    assert typed.values == {"channel": "#check-ins", "time": "09:00", "timezone": "Europe/London"}
    assert parse("/mystats", COMMANDS).values == {}


@pytest.mark.parametrize(("text", "says"), [
    ("checkin mood:4", "starts with /"),
    ("/chekin mood:4", "no command"),
    ("/config mood:4", "no command"),  # a group needs its subcommand
    ("/checkin 4", "name:value"),
    ("/mystats days:7", "takes no options"),
    ("/checkin mood:4 mood:5", "mood is given twice"),
])
def test_what_cannot_be_a_command_is_said_plainly(text: str, says: str) -> None:
    with pytest.raises(CommandError, match=says):
        parse(text, COMMANDS)


async def test_values_become_what_discord_sends() -> None:
    fake = FakeDiscord()
    guild = fake.add_guild("Circle", channels=["general", "check-ins"])
    alex = fake.add_user("Alex")
    fake.add_member(guild, alex)
    typed = parse("/config checkins channel:#check-ins time:09:00 timezone:Europe/London enabled:no", COMMANDS)
    values = values_for(fake.world, guild, typed)
    assert values["channel"] is guild.channel("check-ins") and values["enabled"] is False
    detection = COMMANDS[1]["options"][1]["options"][0]
    assert convert(fake.world, guild, detection, "ON") == "on"
    with pytest.raises(CommandError, match="one of: on, off"):
        convert(fake.world, guild, detection, "maybe")
    mood = COMMANDS[0]["options"][0]
    with pytest.raises(CommandError, match="whole number"):
        values_for(fake.world, guild, parse("/checkin mood:four", COMMANDS))
    assert convert(fake.world, guild, mood, "4") == 4
    assert values_for(fake.world, guild, parse("/checkin mood:four note:x", COMMANDS), lenient=True) == {"note": "x"}
    user_option = {"name": "with", "type": 6}
    assert convert(fake.world, guild, user_option, "@alex") is alex
    with pytest.raises(CommandError, match="nobody called"):
        convert(fake.world, guild, user_option, "@nobody")


async def test_the_page_answers_only_its_own_address_and_json_posts() -> None:
    page = DemoPage(SimpleNamespace(fake=None), port=0)  # type: ignore[arg-type] - the guard needs no sandbox
    async with TestClient(TestServer(page.app(), host="127.0.0.1")) as client:
        page.port = client.port
        index = await client.get("/")
        assert index.status == 200 and "Kindred demo" in await index.text()
        assert "default-src 'self'" in index.headers["Content-Security-Policy"]
        rebound = await client.get("/", headers={"Host": f"kindred.example:{client.port}"})
        assert rebound.status == 403, "a name that resolves to 127.0.0.1 (DNS rebinding) is refused"
        form = await client.post("/api/clock", data="skip=next", headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert form.status == 415, "a cross-site form post cannot drive the sandbox"
        assert (await client.get("/static/..%2Fpage.py")).status == 404


async def test_the_page_cannot_be_framed_by_another_site() -> None:
    page = DemoPage(SimpleNamespace(fake=None), port=0)  # type: ignore[arg-type] - the guard needs no sandbox
    async with TestClient(TestServer(page.app(), host="127.0.0.1")) as client:
        page.port = client.port
        for response in (await client.get("/"), await client.get("/", headers={"Host": "kindred.example"})):
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], response.status
            assert response.headers["X-Frame-Options"] == "DENY", response.status


@pytest.mark.parametrize("body", ["[1]", "null", "3", '"skip"'])
async def test_a_body_that_is_not_a_json_object_is_a_clear_400(body: str) -> None:
    page = DemoPage(SimpleNamespace(fake=None), port=0)  # type: ignore[arg-type] - refused before the sandbox is used
    async with TestClient(TestServer(page.app(), host="127.0.0.1")) as client:
        page.port = client.port
        for path in ("/api/clock", "/api/say", "/api/command", "/api/autocomplete", "/api/click", "/api/select",
                     "/api/modal", "/api/modal/dismiss"):
            response = await client.post(path, data=body, headers={"Content-Type": "application/json"})
            assert response.status == 400, f"{path}: {response.status} {await response.text()}"
            assert (await response.json())["error"] == "the request body is a JSON object", path


async def test_a_field_of_the_wrong_type_is_a_clear_400() -> None:
    nobody = SimpleNamespace(fake=None, world=SimpleNamespace(person=lambda user_id: None))
    page = DemoPage(nobody, port=0)  # type: ignore[arg-type] - refused before anyone is looked up
    async with TestClient(TestServer(page.app(), host="127.0.0.1")) as client:
        page.port = client.port
        response = await client.post("/api/say", json={"as": [1], "channel": "1", "text": "hi"})
        assert response.status == 400, await response.text()
        assert (await response.json())["error"] == "a field of the request has the wrong type"
