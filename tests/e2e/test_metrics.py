"""Prometheus metrics (SPEC §1 `KINDRED_METRICS_ADDR`): what an operator scrapes, and nothing about members.

The real `python -m bot run` serves metrics on a loopback port; members use text-bearing
commands with canary strings, a moderator acts on a crisis alert, Discord answers a 429 and a
5xx, and the scrape (over HTTP, as Prometheus does it) must show all of that as counts —
and hold no member id, name, note, counter name or message text anywhere.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.fakediscord import FakeDiscord
from tests.e2e.helpers import BotProcess, Community, bot_env, eventually, run_cli

CANARY_NOTE = "zqxnote8 my private note"
CANARY_COUNTER = "zqxcounter8"
CANARY_CHAT = "zqxchat8 I want to die tonight"
CANARY_ALERT = "zqxalert8 please check on me"
CANARIES = ("zqxnote8", "zqxcounter8", "zqxchat8", "zqxalert8")
SERVING = re.compile(r"serving Prometheus metrics at http://127\.0\.0\.1:(\d+)/metrics")


async def scrape(port: int) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample by (name, labels)."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= ls)


@pytest.mark.slow
async def test_metrics_count_the_work_and_name_no_member(fake_discord: FakeDiscord, community: Community,
                                                         bot_process: object, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[crisis]\ndetection_intent = true\n")
    env = {"KINDRED_CONFIG": str(config), "KINDRED_METRICS_ADDR": "127.0.0.1:0"}
    code, output = await run_cli("sync", env=bot_env(fake_discord, tmp_path / "kindred.sqlite3", **env))
    assert code == 0, output
    proc: BotProcess = await bot_process(**env)  # type: ignore[operator]
    served = SERVING.search(proc.output)
    assert served, proc.output
    port = int(served.group(1))
    alice, mod, guild = community.alice, community.mod, community.guild

    async def run(command: str, user: object = alice, **options: object) -> None:
        handle = await fake_discord.slash(command, user=user, guild=guild, options=options)  # type: ignore[arg-type]
        await handle.reply()

    await run("/config alerts", mod, channel=community.alerts)
    await run("/config crisis", mod, detection="on", region="GB")
    await run("/checkin", mood=2, craving=7, note=CANARY_NOTE)
    fake_discord.faults.rate_limit("*", times=1)  # the next request (the callback) is refused once
    await run("/recovery start", date="2026-01-01", name=CANARY_COUNTER, visibility="private")
    fake_discord.faults.server_error("*", times=1, status=502)
    await run("/recovery show", name=CANARY_COUNTER)
    await run("/alertmods", message=CANARY_ALERT)
    await fake_discord.say(community.general, CANARY_CHAT, user=alice)
    await fake_discord.wait_for(
        lambda: [m for m in fake_discord.messages_in(community.alerts) if any(
            c.startswith("kindred:alert:ack:") for c in m.custom_ids) and "zqxalert8" not in m.text],
        what="the detection alert")
    alert = next(m for m in fake_discord.messages_in(community.alerts)
                 if any(c.startswith("kindred:alert:ack:") for c in m.custom_ids) and "zqxalert8" not in m.text)
    ack = next(c for c in alert.custom_ids if c.startswith("kindred:alert:ack:"))
    await (await fake_discord.click(alert, user=mod, custom_id=ack)).acknowledged()

    def recorded(text: str) -> bool:
        # The alert's delivery outcome and the acknowledgement are recorded a moment after Discord saw them.
        found = samples(text)
        return (value(found, "kindred_outbox_messages_total", kind="crisis.alert", outcome="sent") >= 1
                and value(found, "kindred_crisis_alerts_acknowledged_total") >= 1)

    text = await eventually(lambda: scrape(port), recorded)
    found = samples(text)
    (tmp_path / "scrape.txt").write_text(text)

    assert value(found, "kindred_gateway_connected") == 1
    assert value(found, "kindred_database_up") == 1
    assert value(found, "kindred_checkins_total") == 1
    assert value(found, "kindred_interactions_total", command="checkin", type="command") == 1
    assert value(found, "kindred_interactions_total", command="recovery start", type="command") == 1
    assert value(found, "kindred_interactions_total", command="kindred:alert:ack", type="component") == 1
    assert value(found, "kindred_interaction_response_seconds_count", command="checkin") == 1
    assert value(found, "kindred_interaction_response_seconds_count", command="recovery start") == 1
    assert value(found, "kindred_crisis_alerts_total", source="detection") == 1
    assert value(found, "kindred_crisis_alerts_total", source="request") == 1
    assert value(found, "kindred_crisis_alert_first_response_seconds_count", source="detection") == 1
    assert value(found, "kindred_discord_rate_limited_total", scope="user") == 1
    assert value(found, "kindred_discord_server_errors_total", status="502") == 1
    assert value(found, "kindred_sweep_runs_total", sweep="checkin-prompts", outcome="ok") >= 1
    assert value(found, "kindred_sweep_duration_seconds_count", sweep="recovery-milestones") >= 1
    assert ("kindred_sweep_lag_seconds", frozenset({("sweep", "checkin-reminders")})) in found
    assert ("kindred_outbox_pending", frozenset()) in found
    assert ("kindred_outbox_oldest_pending_age_seconds", frozenset()) in found

    # Nothing about a member: no text they wrote, no name, no id (members', the server's, channels').
    ids = [u.id for u in (community.alice, community.bob, community.mod)] + [guild.id] + \
        [c.id for c in (community.general, community.checkins, community.alerts)]
    leaked = [c for c in CANARIES if c in text] + [n for n in ("alice", "bob", "Recovery Circle") if n in text] + \
        [str(i) for i in ids if str(i) in text]
    assert leaked == [], f"member data reached the metrics: {leaked}"
    assert await proc.stop() == 0


async def test_an_unusable_metrics_address_is_one_line(fake_discord: FakeDiscord, community: Community,
                                                       tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = bot_env(fake_discord, tmp_path / "kindred.sqlite3", KINDRED_METRICS_ADDR=f"127.0.0.1:{port}")
        code, output = await run_cli("run", env=env)
    assert code == 2
    [line] = [line for line in output.splitlines() if line.strip()]
    assert f"cannot serve metrics on 127.0.0.1:{port}" in line and "KINDRED_METRICS_ADDR" in line
    assert not fake_discord.gateway.received(2), "it must not connect to Discord first"
