"""The urge check-back DM, from a bot process on a live clock: on time, once, in quiet hours, across a restart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.fakediscord import FakeDiscord, Message
from tests.e2e.helpers import Community
from tests.live.conftest import LiveStarter
from tests.live.support import LiveKindred

# Monday 11 January 2027, 21:50 in London (GMT, so UTC): inside Alice's quiet hours from 21:00.
EVENING = datetime(2027, 1, 11, 21, 50, tzinfo=UTC)


async def surf(kindred: LiveKindred, minutes: int) -> tuple[int, datetime]:
    """Run `/urge` as Alice; return the urge's id and when its check-back is due (the bot's clock)."""
    alice = kindred.community.alice
    hellos = len(kindred.dms(alice, "I'll ask here"))
    reply = await kindred.run("/urge", user=alice, options={"strength": 7, "minutes": minutes})
    match = re.search(r"kindred:urge:halt:(\d+):h", " ".join(reply.custom_ids))
    assert match, reply.custom_ids
    urge_id = int(match.group(1))
    [(due_text,)] = kindred.query("SELECT checkback_due_at FROM urges WHERE urge_id = ?", (urge_id,))
    due = datetime.fromisoformat(due_text)
    assert f"<t:{int(due.timestamp())}:t>" in reply.text, "the reply names the minute the DM is due"
    # The DM saying when the check-back comes is sent while the command finishes: let it land first.
    await kindred.wait_for(lambda: len(kindred.dms(alice, "I'll ask here")) > hellos, what="the urge's first DM")
    return urge_id, due


def checkbacks(kindred: LiveKindred, urge_id: int) -> list[Message]:
    prefix = f"kindred:urge:after:{urge_id}:"
    return [m for m in kindred.fake.dms_to(kindred.community.alice) if any(c.startswith(prefix) for c in m.custom_ids)]


async def test_the_check_back_dm_comes_on_time_once_in_quiet_hours_and_once_across_a_restart(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    alice = community.alice
    kindred = await live(EVENING)
    await kindred.run("/settings timezone", user=alice, tz="Europe/London")
    await kindred.run("/settings quiet-hours", user=alice, start="21:00", end="08:00")

    # 1. Asked for 15 minutes from now, inside quiet hours: it comes at its minute anyway, once.
    first, due = await surf(kindred, 15)
    assert due - EVENING < timedelta(minutes=20)
    await kindred.approach(due)
    dm = await kindred.expect(lambda: checkbacks(kindred, first), 1, due, "the check-back")
    assert "how strong" in dm.content.lower() and "7/10" in dm.content
    await kindred.jump(due + timedelta(minutes=3))
    await kindred.ticks_past(due + timedelta(minutes=10))
    assert len(checkbacks(kindred, first)) == 1

    # 2. Two more urges; the bot stops while both check-backs are pending and comes back after the
    # first was due: that one goes out late, once, as the bot starts; the other on time; neither again.
    # (The clock slows down meanwhile, so the commands cannot run past the first one's minute; the
    # jump leaves the ticks above room to finish on a busy machine, where real seconds are minutes.)
    await kindred.jump(due + timedelta(minutes=30), rate=6)
    during, due_during = await surf(kindred, 5)
    after, due_after = await surf(kindred, 30)
    back = due_during + timedelta(minutes=3)
    await kindred.restart(at=back)
    late = await kindred.wait_for(lambda: checkbacks(kindred, during), what="the check-back due while the bot was down")
    sent = await kindred.sent_at(late[0])
    # With the sweeps the new process runs as it starts (its clock began at `back`), not a minute later.
    assert back <= sent < back + timedelta(minutes=1), f"sent at {sent:%H:%M:%S}, the bot came back at {back:%H:%M:%S}"
    await kindred.approach(due_after)
    await kindred.expect(lambda: checkbacks(kindred, after), 1, due_after, "the check-back after the restart")
    await kindred.jump(due_after + timedelta(minutes=3))
    await kindred.ticks_past(due_after + timedelta(minutes=10))
    assert [len(checkbacks(kindred, u)) for u in (first, during, after)] == [1, 1, 1]
    assert len(kindred.processes) == 2
