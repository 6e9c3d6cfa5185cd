"""`python -m bot demo` in this process: its page's API as a visitor's browser calls it, and what else can reach it.

The browser level (tests/browser) drives the page itself; here the sandbox is started with
`running_demo(0)` (free ports, its throw-away folder under the test's TMPDIR) so a test can also
look at the loopback Discord and the bot behind the page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.demo import RunningDemo, running_demo
from bot.fakediscord import FakeDiscord, Message, User

EVIL = "http://evil.example"
TIER3 = "I have the pills ready and I'm going to do it tonight"


@dataclass
class Page:
    """The demo page's JSON API, called as its script calls it."""

    demo: RunningDemo
    http: aiohttp.ClientSession

    @property
    def fake(self) -> FakeDiscord:
        return self.demo.sandbox.fake

    def user(self, name: str) -> User:
        return next(p.user for p in self.demo.sandbox.world.people if p.user.name == name)

    def channel(self, name: str) -> str:
        return str(self.demo.sandbox.world.guild.channel(name).id)

    async def get(self, path: str, **query: str) -> tuple[int, Any]:
        async with self.http.get(self.demo.url.rstrip("/") + path, params=query) as resp:
            return resp.status, await resp.json(content_type=None)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.http.post(self.demo.url.rstrip("/") + path, json=body) as resp:
            return resp.status, await resp.json(content_type=None)

    async def command(self, who: str, text: str, channel: str = "general") -> Any:
        status, body = await self.post("/api/command", {"as": str(self.user(who).id), "channel": self.channel(channel),
                                                        "text": text})
        assert status == 200, body
        return body

    async def state(self, who: str, channel: str = "general") -> dict[str, Any]:
        status, body = await self.get("/api/state", **{"as": str(self.user(who).id), "channel": self.channel(channel)})
        assert status == 200, body
        return body

    async def reply_to(self, who: str, command: str) -> Message:
        """The bot's finished reply to `who`'s newest `command`."""
        def done() -> Message | None:
            handles = [h for h in self.fake.interactions if h.user is self.user(who) and h.label == command]
            replies = [m for m in self.fake.world.messages.values()
                       if handles and m.interaction_id == handles[-1].id and not m.loading]
            return replies[-1] if replies else None
        return await self.fake.wait_for(done, what=f"the reply to {who}'s {command}")


@pytest.fixture
async def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Page]:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the demo's folder is made in the test's folder
    async with running_demo(0) as demo, aiohttp.ClientSession() as http:
        yield Page(demo, http)


# -- what else is in the visitor's browser ------------------------------------------------------


async def test_a_web_page_cannot_attach_to_the_sandboxs_gateway_or_post_as_kindred(page: Page) -> None:
    fake = page.fake
    async with aiohttp.ClientSession() as evil:
        # Even knowing the run's token, a page's socket carries an Origin and is refused.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await evil.ws_connect(fake.gateway_url, origin=EVIL)
        assert refused.value.status == 403
        # Without an Origin (not a browser), the token FakeDiscord once always used is wrong.
        ws = await evil.ws_connect(fake.gateway_url)
        assert (await ws.receive_json())["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": "fake-bot-token", "intents": (1 << 25) - 1, "properties": {}}})
        closed = await ws.receive()
        assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4004

        await page.command("Alex", "/crisis country:GB")
        await page.reply_to("Alex", "/crisis")
        leaked = next(h for h in fake.interactions if h.label == "/crisis")  # as if the page had learnt it
        followup = f"{fake.api_base}/webhooks/{fake.application_id}/{leaked.token}"
        forged = json.dumps({"content": "Call 0900 123 456 now"})
        async with evil.post(followup, data=forged, headers={"Content-Type": "text/plain", "Origin": EVIL}) as resp:
            assert resp.status == 403
        async with evil.post(followup, data=forged, headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 415
    assert "0900 123 456" not in json.dumps((await page.state("Alex"))["messages"])


# -- the page's API -----------------------------------------------------------------------------


async def test_a_note_may_say_word_colon(page: Page) -> None:
    # "day" is an option of /checkin; "day: " inside the note is the member's words.
    await page.command("Alex", "/checkin mood:3 note:what a day: exhausting but sober")
    reply = await page.reply_to("Alex", "/checkin")
    assert "Checked in" in reply.content, reply.content
    notes = await page.demo.sandbox.bot.services.db.fetch_all("SELECT note FROM checkins")
    assert [r["note"] for r in notes] == ["what a day: exhausting but sober"]


async def test_a_member_cannot_close_another_members_open_form(page: Page) -> None:
    await page.command("Robin", "/config checkins channel:#check-ins time:09:00 timezone:Europe/London")
    await page.reply_to("Robin", "/config checkins")
    status, body = await page.post("/api/clock", {"skip": "next"})
    assert status == 200 and body["jumped"], body
    checkins = page.demo.sandbox.world.guild.channel("check-ins")
    [prompt] = await page.fake.wait_for(lambda: page.fake.messages_in(checkins), what="the daily prompt")
    button = next(c for c in prompt.walk_components() if "Check in" in (c.get("label") or ""))
    alex = str(page.user("Alex").id)
    status, body = await page.post("/api/click", {"as": alex, "message": str(prompt.id), "custom_id": button["custom_id"]})
    assert status == 200, body
    await page.fake.wait_for(lambda: any(h.modal_data for h in page.fake.interactions), what="Alex's form")
    form = (await page.state("Alex", "check-ins"))["modal"]
    assert form is not None

    status, body = await page.post("/api/modal/dismiss", {"as": str(page.user("Jordan").id), "handle": form["handle"]})
    assert status == 400 and "no longer open" in body["error"], body
    assert (await page.state("Alex", "check-ins"))["modal"] == form, "Jordan closed Alex's form"
    status, body = await page.post("/api/modal/dismiss", {"as": alex, "handle": form["handle"]})
    assert status == 200, body
    assert (await page.state("Alex", "check-ins"))["modal"] is None


async def test_a_moderator_can_turn_crisis_detection_on_and_see_it_work(page: Page) -> None:
    await page.command("Robin", "/config alerts channel:#mod-alerts")
    await page.reply_to("Robin", "/config alerts")
    await page.command("Robin", "/config crisis detection:on region:GB")
    turned_on = await page.reply_to("Robin", "/config crisis")
    assert "detection_intent" not in turned_on.content, turned_on.content
    status, body = await page.post("/api/say", {"as": str(page.user("Alex").id), "channel": page.channel("general"),
                                                "text": TIER3})
    assert status == 200, body
    alerts = page.demo.sandbox.world.guild.channel("mod-alerts")
    [alert] = await page.fake.wait_for(lambda: page.fake.messages_in(alerts), what="the moderators' alert")
    assert "Tier 3" in alert.content
    shown = json.dumps((await page.state("Robin", "mod-alerts"))["messages"])
    assert "Tier 3" in shown


# -- its folder ---------------------------------------------------------------------------------


def _gone_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_a_demo_killed_before_it_could_clean_up_is_cleaned_up_by_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SIGKILL (or a power cut) skips the `finally` that deletes the folder, and its notes with it.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / "kindred-demo-stale"
    stale.mkdir()
    (stale / "pid").write_text(str(_gone_pid()))
    (stale / "kindred.sqlite3").write_text("a note")
    alive = tmp_path / "kindred-demo-alive"
    alive.mkdir()
    (alive / "pid").write_text(str(os.getpid()))  # another demo still running
    unrelated = tmp_path / "kindred-demo-notes"  # no pid recorded: not a folder this code made
    unrelated.mkdir()
    async with running_demo(0) as demo:
        assert not stale.exists()
        assert alive.exists() and unrelated.exists()
        assert (demo.folder / "pid").read_text() == str(os.getpid())
    assert not demo.folder.exists()
