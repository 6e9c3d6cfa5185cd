"""Only a client on this machine that knows the run's token reaches the fake: not a web page in a browser.

The demo serves the fake to a visitor's browser's machine. WebSockets are not covered by CORS, a
cross-site "simple" request (text/plain, no custom headers) is sent without a preflight, and a name
rebound to 127.0.0.1 (DNS rebinding) reaches the port with its own Host. discord.py sends no Origin
and its Host is the address it was given.
"""

from __future__ import annotations

import json

import aiohttp
import pytest

from bot.fakediscord import FakeDiscord, Guild, User
from tests.harness.minibot import MiniBot

EVIL = "http://evil.example"


def test_every_fake_has_its_own_unguessable_token() -> None:
    first, second = FakeDiscord(), FakeDiscord()
    assert first.token != second.token, "a constant token is known to every page on the web"
    assert len(first.token) >= 32


async def test_only_its_own_loopback_address_is_answered(fake: FakeDiscord) -> None:
    auth = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as http:
        for host in ("kindred.evil.example", f"kindred.evil.example:{fake.port}", "127.0.0.1:1"):
            async with http.get(f"{fake.api_base}/users/@me", headers={**auth, "Host": host}) as resp:
                assert resp.status == 403, f"Host {host!r} answered {resp.status}"
        for host in (f"127.0.0.1:{fake.port}", f"localhost:{fake.port}"):
            async with http.get(f"{fake.api_base}/users/@me", headers={**auth, "Host": host}) as resp:
                assert resp.status == 200, f"Host {host!r} refused"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(fake.gateway_url, headers={"Host": f"kindred.evil.example:{fake.port}"})
        assert refused.value.status == 403


async def test_a_request_from_a_web_page_is_refused(fake: FakeDiscord) -> None:
    # Browsers send Origin on every WebSocket and cross-origin request; discord.py never does.
    auth = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as http:
        for origin in (EVIL, f"http://127.0.0.1:{fake.port + 1}", "null"):
            async with http.get(f"{fake.api_base}/users/@me", headers={**auth, "Origin": origin}) as resp:
                assert resp.status == 403, f"Origin {origin!r} answered {resp.status}"
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(fake.gateway_url, origin=origin)
            assert refused.value.status == 403
        ws = await http.ws_connect(fake.gateway_url)  # a client without Origin, as discord.py
        assert (await ws.receive_json())["op"] == 10
        await ws.close()


async def test_a_body_is_json_only_when_it_says_so(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    # A cross-site no-cors fetch may send text/plain: the follow-up it forges must not post as the bot.
    handle = await fake.slash("/ping", user=alice, guild=guild)
    await handle.acknowledged()
    followup = f"{fake.api_base}/webhooks/{fake.application_id}/{handle.token}"
    forged = json.dumps({"content": "Call 0900 123 456 now"})
    before = len(fake.world.messages)
    async with aiohttp.ClientSession() as http:
        async with http.post(followup, data=forged, headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 415
        async with http.post(followup, data=forged, headers={"Content-Type": "application/x-www-form-urlencoded"}) as resp:
            assert resp.status == 415
        assert len(fake.world.messages) == before
        async with http.post(followup, data=json.dumps({"content": "a real follow-up"}),
                             headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 200, await resp.text()
    assert [m.content for m in fake.world.messages.values()][-1] == "a real follow-up"
