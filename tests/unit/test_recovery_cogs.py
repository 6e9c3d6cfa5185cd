"""The recovery cogs: command shapes, the nested `/config milestones` group, and reply wording."""

from __future__ import annotations

import re
from datetime import date

import pytest
from discord import app_commands

from bot.db.recovery import CounterRecord, PeriodRecord
from bot.domain.recovery import DEFAULT_LADDER, Celebrate, Delivery, Ladder, Rung, Visibility
from bot.services.recovery import SettingsResult, SlipResult, StartResult, counter_view
from cogs.config._cog import ConfigCog
from cogs.recovery import _messages as text
from cogs.recovery._cog import RecoveryCog

D = date.fromisoformat
BANNED = re.compile(r"\b(failed|fail|lost|reset|zero)\b", re.IGNORECASE)
LADDER = Ladder.of(DEFAULT_LADDER)


def record(*periods: tuple[str, str | None], visibility: Visibility = Visibility.PRIVATE,
           celebrate: Celebrate = Celebrate.DM) -> CounterRecord:
    return CounterRecord(1, 1, 1, "alcohol", visibility, celebrate, None, tuple(
        PeriodRecord(i, D(s), D(e) if e else None, None) for i, (s, e) in enumerate(periods)))


def test_recovery_commands_and_options_match_the_spec() -> None:
    group = RecoveryCog(None).app_command  # type: ignore[arg-type]
    assert group is not None and group.name == "recovery"
    shape = {c.name: [p.name for p in c.parameters] for c in group.commands}
    assert shape == {
        "start": ["date", "name", "visibility"], "show": ["member", "name"], "slip": ["name", "date"],
        "settings": ["name", "visibility", "celebrate"], "remove": ["name"], "history": ["name"],
    }
    for command in group.commands:
        assert isinstance(command, app_commands.Command)
        name = next(p for p in command.parameters if p.name == "name")
        assert name.autocomplete and name.max_value == 40
    start = group.get_command("start")
    assert isinstance(start, app_commands.Command)
    assert [c.value for c in next(p for p in start.parameters if p.name == "visibility").choices] == \
        ["private", "buddies", "server"]
    settings = group.get_command("settings")
    assert isinstance(settings, app_commands.Command)
    assert [c.value for c in next(p for p in settings.parameters if p.name == "celebrate").choices] == \
        ["channel", "dm", "off"]
    assert next(p for p in settings.parameters if p.name == "name").required


def test_milestones_group_declared_on_a_mixin_is_a_bound_subgroup_of_config() -> None:
    cog = ConfigCog(None)  # type: ignore[arg-type]
    config = cog.app_command
    assert config is not None
    milestones = config.get_command("milestones")
    assert isinstance(milestones, app_commands.Group) and milestones.parent is config
    assert sorted(c.name for c in milestones.commands) == ["add", "remove", "reset"]
    for command in milestones.commands:
        # bound to the cog, so ConfigCog.interaction_check (Manage Server) runs for them
        assert command.binding is cog
        assert command.qualified_name.startswith("config milestones ")
    add = milestones.get_command("add")
    assert isinstance(add, app_commands.Command)
    assert [(p.name, p.required) for p in add.parameters] == [("days", True), ("description", False)]


# -- wording ---------------------------------------------------------------------------

def test_slip_reply_is_warm_and_says_what_survives() -> None:
    view = counter_view(record(("2026-01-01", "2026-06-01"), ("2026-06-01", None)), LADDER, D("2026-06-01"))
    reply = text.slipped(SlipResult(view, True, D("2026-06-01"), 151))
    assert "151 days" in reply and "longest" in reply and "/crisis" in reply
    assert not BANNED.search(reply)
    already = text.slipped(SlipResult(view, False, D("2026-06-01"), 0))
    assert "nothing to change" in already and not BANNED.search(already)


@pytest.mark.parametrize(("created", "previous"), [(True, None), (False, "2026-11-01"), (False, "2026-10-01")])
def test_start_replies(created: bool, previous: str | None) -> None:
    view = counter_view(record(("2026-10-01", None)), LADDER, D("2026-11-21"))
    reply = text.started(StartResult(view, created, D(previous) if previous else None, Delivery.DM))
    assert "alcohol" in reply and "Next milestone: **60 days** in 9 days" in reply
    assert "(1 month, 20 days)" in reply
    assert ("No slip was recorded" in reply) == (previous == "2026-11-01")
    assert not BANNED.search(reply)


def test_show_own_and_shared() -> None:
    view = counter_view(record(("2026-01-01", "2026-02-01"), ("2026-02-01", None), visibility=Visibility.SERVER),
                        LADDER, D("2026-03-03"))
    own = text.show_own((view,))
    assert "**30 days** (1 month, 2 days) since 1 Feb 2026" in own and "🎉 Today is **30 days**!" in own
    assert "Longest streak: **31 days**" in own and "Total days in recovery: **61 days**" in own
    shared = text.show_shared("<@7>", (view,))
    assert "30 days" in shared and "Longest" not in shared and "Total" not in shared
    assert text.show_shared("<@7>", ()) == text.NOTHING_SHARED.format(member="<@7>")


def test_history_lists_periods_and_caps_long_ones() -> None:
    periods = [(f"2025-01-{d:02d}", f"2025-01-{d + 1:02d}") for d in range(1, 20)] + [("2025-01-20", None)]
    view = counter_view(record(*periods), LADDER, D("2025-02-01"))
    reply = text.history([view])
    assert "…and 8 earlier stretches" in reply and "20 Jan 2025 → today: 12 days" in reply
    assert "19 slips recorded" in reply and len(reply) < 1900
    assert not BANNED.search(reply)


@pytest.mark.parametrize(("visibility", "delivery", "needle"), [
    (Visibility.PRIVATE, Delivery.DM, "visibility: server"),
    (Visibility.SERVER, Delivery.DM, "/config celebrations"),
    (Visibility.SERVER, Delivery.CHANNEL, "with a 🎉"),
])
def test_settings_reply_explains_where_celebrations_go(visibility: Visibility, delivery: Delivery,
                                                       needle: str) -> None:
    view = counter_view(record(("2026-10-01", None), visibility=visibility, celebrate=Celebrate.CHANNEL),
                        LADDER, D("2026-11-21"))
    reply = text.settings_changed(SettingsResult(view, delivery, delivery is Delivery.CHANNEL))
    assert needle in reply


def test_ladder_text() -> None:
    assert text.ladder_text(LADDER) == "1, 3, 7, 14, 30, 60, 90, 180, 270, 365 days, then every year (the default ladder)"
    custom = Ladder((Rung(2, "Two!"), Rung(10)), custom=True)
    assert text.ladder_text(custom) == "2 (“Two!”), 10 days, then every year (this server's own ladder)"
