"""Export completeness through the real features: every member table appears in an export.

The member tables are derived from the schema (foreign keys from `members`), so a feature
that adds a table holding member data fails here until this test creates a row in it
through that feature and the export shows it.
"""

from __future__ import annotations

import json
from datetime import timedelta

from bot.db.privacy import PrivacyRepository
from bot.domain.clock import FakeClock
from bot.services.container import Services
from bot.services.crisis import SeenMessage
from tests.support import names_in_text

G, ALICE, BOB, CAROL = 900, 9101, 9102, 9103


async def use_every_feature(services: Services, clock: FakeClock) -> None:
    """Create data about Alice in every feature, through the services members use."""
    await services.settings.set_timezone(G, ALICE, "Europe/London")
    await services.settings.touch(G, BOB)
    await services.settings.touch(G, CAROL)
    await services.checkins.check_in(G, ALICE, mood=3, craving=4, note="alice's note")
    await services.checkins.pledge(G, ALICE)
    await services.checkins.set_reminder(G, ALICE, "20:00")
    await services.recovery.start(G, ALICE, "2026-11-01", "alcohol")
    await services.recovery.slip(G, ALICE, "alcohol", "2026-11-10")
    await services.buddies.request(G, ALICE, BOB)
    await services.buddies.accept(G, BOB, ALICE)
    await services.buddies.request(G, ALICE, CAROL)
    await services.buddies.toggle_pool(G, ALICE)
    await services.buddies.nudge(G, ALICE, BOB)
    await services.buddies.pause(G, ALICE, 3)
    # Mentoring: Alice offers, Carol asks her (Carol's message lives while the request is open);
    # Alice asks Bob to mentor her, he says yes, she shares with him and, quiet, brings a nudge.
    await services.mentors.offer(G, ALICE, focus="alcohol, early recovery")
    await services.mentors.request(G, CAROL, ALICE, "would you guide me?")
    await services.mentors.offer(G, BOB)
    request = await services.mentors.request(G, ALICE, BOB, "hello")
    await services.mentors.answer_by_button(request.ref, BOB, accept=True)
    await services.mentors.share(G, ALICE, checkins=True, counters=True)
    # A weekly meeting (server data) with Alice's reminder, which goes out before it starts.
    await services.meetings.add(G, name="Circle", weekday="monday", time_text="19:00", timezone="Europe/London")
    await services.meetings.remind(G, ALICE, "Circle", 30)
    # Coping tools: a private plan, and an urge surfed with its check-back answered.
    await services.coping.save_plan(G, ALICE, {"coping": "alice's coping steps", "people": "my sponsor"})
    urge = await services.coping.start_urge(G, ALICE, strength=8, minutes=5)
    assert urge.urge is not None
    await services.coping.record_after(urge.urge.urge_id, ALICE, 3)
    # Passive detection in a server that turned it on: an alert about Alice (never the text).
    await services.guild_config.set_alerts(G, channel_id=4242, role_id=None)
    await services.guild_config.set_crisis(G, detection=True, region="GB")
    seen = SeenMessage(G, 4243, 4244, ALICE, "Recovery Circle")
    await services.crisis.handle_detection(seen, services.crisis.detect("i want to end my life tonight"))
    # Milestones come due: the sweep records a celebration (and queues its DM in the outbox).
    clock.advance(timedelta(days=3))
    await services.scheduler.run_all_once()
    clock.advance(timedelta(days=3))  # past Alice's pause, quiet since: Bob hears of it once
    await services.mentors.nudge_sweep(clock.now())
    await services.privacy.request_delete(G, ALICE)


async def test_every_member_table_appears_in_the_export(services: Services, clock: FakeClock) -> None:
    await use_every_feature(services, clock)
    member_tables = set(await PrivacyRepository(services.db).member_linked_tables()) | {"members"}
    exported = json.loads((await services.privacy.export(G, ALICE)).data)["tables"]
    missing = sorted(t for t in member_tables if not exported.get(t))
    assert missing == [], (
        f"no row about Alice in {missing}: either this test does not exercise that feature yet "
        "(extend use_every_feature) or the export does not reach the table")
    text = json.dumps(exported)
    assert "alice's note" in text and "alcohol" in text and "alice's coping steps" in text
    assert "end my life" not in text, "a crisis alert must never keep the message text"


async def test_delete_after_every_feature_leaves_no_row_naming_alice(services: Services, clock: FakeClock) -> None:
    await use_every_feature(services, clock)
    alice = await services.members.get(G, ALICE)
    assert alice is not None
    await services.privacy.forget(G, ALICE)
    repo = PrivacyRepository(services.db)
    for table in await repo.tables():
        for row in await services.db.fetch_all(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from the schema
            named = {k: row[k] for k in row.keys() if row[k] in (ALICE, alice.member_id)  # noqa: SIM118
                     and (k.endswith(("user_id", "member_id", "_by")) or k == "target_id")}
            assert not named, f"{table} still names Alice after deletion: {named}"
            # Any text: a message body kept for someone else (the request DM Bob got) is a trace too.
            in_text = {k: row[k] for k in row.keys() if names_in_text(row[k], ALICE)}  # noqa: SIM118
            assert not in_text, f"{table} still has Alice's id in its text after deletion: {in_text}"
    assert await services.buddies.are_buddies(G, BOB, ALICE) is False


async def test_retention_keeps_a_member_whose_counter_is_still_counting(services: Services, clock: FakeClock) -> None:
    await services.recovery.start(G, ALICE, "2026-11-01", "alcohol")
    await services.settings.touch(G, BOB)
    for n in range(1200):  # more held members than one purge batch: the purge must page past them
        await services.recovery.start(G, 20_000 + n, "2026-11-01", "gambling")
    clock.advance(timedelta(days=400))
    await services.privacy.purge(clock.now())
    assert await services.members.get(G, BOB) is None, "an inactive member without a counter is purged"
    assert await services.members.get(G, ALICE) is not None, "a running counter keeps its member"
    assert await services.members.get(G, 21_199) is not None
    await services.recovery.remove(G, ALICE, "alcohol")
    clock.advance(timedelta(days=400))
    await services.privacy.purge(clock.now())
    assert await services.members.get(G, ALICE) is None
