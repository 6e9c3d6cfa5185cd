"""A member's own actions leave no line naming them in the operator's log at its default level.

Logs carry ids only, but an id beside "slip recorded" or "urge recorded" is itself a record of
a member's health, and an operator's journal keeps it for weeks where `/privacy delete` cannot
reach. So what a member does is logged at DEBUG (an operator debugging turns it on); INFO
and above are for what the operator must know.
"""

from __future__ import annotations

import logging

import pytest

from bot.services.container import Services

G, ALICE = 100000000000000001, 200000000000000001


async def test_member_actions_log_nothing_naming_the_member_at_info(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    await services.checkins.check_in(G, ALICE, mood=2, craving=7)
    await services.checkins.check_in(G, ALICE, mood=3)  # updated
    await services.checkins.pledge(G, ALICE)
    await services.checkins.set_reminder(G, ALICE, "20:00")
    await services.checkins.reminder_off(G, ALICE)
    await services.recovery.start(G, ALICE, "2026-10-21", name="steady")
    await services.recovery.slip(G, ALICE, name="steady")
    await services.recovery.remove(G, ALICE, "steady")
    await services.coping.save_plan(G, ALICE, {"coping": "Call Sam"})
    start = await services.coping.start_urge(G, ALICE, strength=8, minutes=5)
    assert start.urge is not None
    await services.coping.record_after(start.urge.urge_id, ALICE, 3)
    await services.coping.save_plan(G, ALICE, {"coping": ""})
    member = await services.members.get(G, ALICE)
    assert member is not None
    ours = [r for r in caplog.records if r.name.startswith("bot")]
    naming = [r for r in ours if member.member_id in (r.args or ()) or ALICE in (r.args or ())]
    assert len(naming) >= 10, "the actions were logged at DEBUG (or the test proves nothing)"
    assert [r.getMessage() for r in naming if r.levelno >= logging.INFO] == []


async def test_export_and_deletion_log_the_server_not_the_member(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    await services.checkins.check_in(G, ALICE, mood=4)
    caplog.set_level(logging.INFO, logger="bot")
    await services.privacy.export(G, ALICE)
    await services.privacy.request_delete(G, ALICE)
    await services.privacy.confirm_delete(G, ALICE)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.services.privacy"]
    assert any("export built" in line for line in lines) and any("deleted all data" in line for line in lines)
    assert not any(str(ALICE) in line for line in lines), lines
