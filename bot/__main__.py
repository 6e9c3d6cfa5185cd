"""Command line: `python -m bot run|check-config|migrate|backup PATH|sync [--guild ID]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import Config, load_config
from bot.db.database import Database, MigrationError
from bot.errors import ConfigError
from bot.logging_setup import configure_logging

log = logging.getLogger("bot")


HOW_TO_SET_UP = (
    "DISCORD_TOKEN is not set: create a bot at https://discord.com/developers/applications "
    "(Bot → Reset Token), then run `export DISCORD_TOKEN=<your token>` and try again "
    "(see README, \"Create the Discord application\")."
)
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Kindred, a peer-support Discord bot.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="connect to Discord and serve")
    sub.add_parser("check-config", help="validate the configuration and print the effective settings")
    sub.add_parser("migrate", help="create or upgrade the database and print the schema version")
    backup = sub.add_parser("backup", help="online backup of the database, then an integrity check of the copy")
    backup.add_argument("path", type=Path)
    sync = sub.add_parser("sync", help="register the slash commands with Discord")
    sync.add_argument("--guild", type=int, default=None, help="sync to one server only (fast, for testing)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return an exit code."""
    args = _parser().parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(config.log_level)
    if args.command == "check-config":
        print("configuration OK")
        for line in config.describe():
            print(f"  {line}")
        return EXIT_OK
    if args.command == "migrate":
        return asyncio.run(_migrate(config))
    if args.command == "backup":
        if not config.database_path.exists():
            print(f"no database at {config.database_path}", file=sys.stderr)
            return EXIT_USAGE
        if args.path.exists():
            print(f"{args.path} already exists; choose a new path", file=sys.stderr)
            return EXIT_USAGE
        return asyncio.run(_backup(config, args.path))
    if not config.token:
        print(HOW_TO_SET_UP, file=sys.stderr)
        return EXIT_USAGE
    if args.command == "sync":
        return asyncio.run(_sync(config, args.guild))
    return asyncio.run(_run(config))


async def _migrate(config: Config) -> int:
    try:
        async with Database(config.database_path) as db:
            version = await db.migrate()
    except MigrationError as exc:
        print(f"migration failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"database {config.database_path} is at schema version {version}")
    return EXIT_OK


async def _backup(config: Config, target: Path) -> int:
    async with Database(config.database_path) as db:
        result = await db.backup_to(target)
    if result != "ok":
        print(f"backup written to {target} but its integrity check failed: {result}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"backup written to {target}; integrity_check: ok")
    return EXIT_OK


async def _sync(config: Config, guild_id: int | None) -> int:
    import discord

    from bot.app import KindredBot, apply_endpoints

    bot = KindredBot(config, start_scheduler=False)
    assert config.token is not None
    async with bot:
        apply_endpoints(config)
        await bot.login(config.token)  # runs setup_hook, which loads every cog's commands
        if guild_id is not None:
            guild = discord.Object(guild_id)
            bot.tree.copy_global_to(guild=guild)
            synced = await bot.tree.sync(guild=guild)
            print(f"synced {len(synced)} command(s) to guild {guild_id}")
        else:
            synced = await bot.tree.sync()
            print(f"synced {len(synced)} global command(s); Discord may take a while to show them")
    return EXIT_OK


async def _run(config: Config) -> int:
    from bot.app import KindredBot

    assert config.token is not None
    bot = KindredBot(config)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def request_stop(signame: str) -> None:
        if not stopping.is_set():
            log.info("received %s, shutting down", signame)
            stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop, sig.name)
    runner = asyncio.create_task(bot.start(config.token))
    stopper = asyncio.create_task(stopping.wait())
    done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
    await bot.close()
    stopper.cancel()
    if runner in done and runner.exception() is not None:
        exc = runner.exception()
        import discord

        if isinstance(exc, discord.LoginFailure):
            print("Discord rejected the token: check DISCORD_TOKEN (Developer Portal → Bot → Reset Token).",
                  file=sys.stderr)
            return EXIT_USAGE
        log.error("bot stopped with an error: %s", type(exc).__name__, exc_info=exc)
        return EXIT_FAILURE
    try:
        await asyncio.wait_for(runner, timeout=10)
    except (TimeoutError, asyncio.CancelledError):
        pass
    except Exception:  # noqa: S110 - the bot is already closed; its exit error is not news
        pass
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
