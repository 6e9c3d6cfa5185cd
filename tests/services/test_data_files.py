"""A server's own data files win over the shipped ones, file by file (`[bot] data_dir`)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

from bot.config import SHIPPED_DATA, Config
from bot.db.database import Database
from bot.domain.clock import FakeClock
from bot.domain.coping import Halt
from bot.services.container import build_services
from tests.support import RecordingNotifier


async def test_services_read_the_data_folder_before_the_shipped_files(
        config: Config, db: Database, clock: FakeClock, notifier: RecordingNotifier, tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "prompts.toml").write_text('prompts = ["What is one kind thing you did for yourself today?"]\n',
                                      encoding="utf-8")
    (own / "data_statement.md").write_text("**Our own words about your data.**\n", encoding="utf-8")
    shipped = (SHIPPED_DATA / "coping.toml").read_text(encoding="utf-8")
    (own / "coping.toml").write_text(shipped.replace("Eat something simple now", "Have a snack our cook made"),
                                     encoding="utf-8")
    services = build_services(dataclasses.replace(config, data_dir=own), db, clock, notifier)
    assert "one kind thing you did for yourself" in services.checkins.prompt_message(date(2026, 11, 22)).content
    assert services.privacy.data_statement() == "**Our own words about your data.**\n"
    assert "Have a snack our cook made" in services.coping.halt_advice(Halt.HUNGRY).suggestions[0]
    # Files the folder does not have still come from the package.
    reply = await services.crisis.crisis_reply(user_id=1, guild_id=None, country="GB")
    assert "116 123" in reply.content
