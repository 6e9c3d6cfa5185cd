"""What `python -m bot run` loads: only the database engine it is configured for."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from tests.e2e.helpers import BotProcess

IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.MULTILINE)


async def test_the_running_bot_imports_only_its_own_database_engine(
        bot_process: Callable[..., Awaitable[BotProcess]], database_url: str | None) -> None:
    # PYTHONPROFILEIMPORTTIME makes the interpreter name every module it imports on stderr.
    proc = await bot_process(PYTHONPROFILEIMPORTTIME="1")
    imported = set(IMPORTED.findall(proc.output))
    assert "bot.app" in imported  # the listing is there to read
    postgres = {name for name in imported if name.split(".")[0] == "asyncpg" or name == "bot.db.postgres"}
    if database_url is None:  # SQLite: the PostgreSQL half (asyncpg is ~40 modules) stays out of memory
        assert not postgres, sorted(postgres)
    else:
        assert {"asyncpg", "bot.db.postgres"} <= postgres
        assert "aiosqlite" not in imported
