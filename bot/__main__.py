"""Command line: `python -m bot run|check-config|migrate|backup PATH|sync [--guild ID]|status|demo [--port N]|db convert --to URL`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config, check_database_url, load_config, redact_url
from bot.db.database import Database, bundled_migrations, database_for
from bot.errors import ConfigError, DatabaseUnavailableError, MigrationError, OperatorError
from bot.logging_setup import asyncio_exception_handler, configure_logging, json_line
from bot.preflight import check_data_files, check_database_path, database_version

if TYPE_CHECKING:
    from bot.metrics import MetricsServer, PrometheusMetrics

log = logging.getLogger("bot")


HOW_TO_SET_UP = (
    "DISCORD_TOKEN is not set: create a bot at https://discord.com/developers/applications "
    "(Bot → Reset Token), then run `export DISCORD_TOKEN=<your token>` and try again "
    "(see README, \"Create the Discord application\"); or try Kindred locally first, with no Discord "
    "application: `{demo}`."
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
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    convert = db_sub.add_parser("convert", help="copy the SQLite database into an empty PostgreSQL database "
                                                "and check every table")
    convert.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/database")
    sub.add_parser("status", help="health of the running deployment, read from its database (exit 0 healthy, "
                                  "1 unhealthy, 2 configuration or database error)")
    demo = sub.add_parser("demo", help="try Kindred in your browser with no Discord application: a local "
                                       "sandbox server, the bot with a throw-away database, and a web page")
    demo.add_argument("--port", type=int, default=None,
                      help="port of the page on 127.0.0.1 (default 8765; 0 picks a free one)")
    return parser


# Whether problem lines are JSON (KINDRED_LOG_FORMAT=json): read from the environment at
# first, so a configuration error is reported in the format asked for, then from the config.
_json_lines = False


def fail(message: str) -> int:
    """Print one line naming an operator's problem on stderr and return exit code 2."""
    line = " ".join(message.split())
    print(json_line("ERROR", "bot", line) if _json_lines else line, file=sys.stderr)
    return EXIT_USAGE


def operator_errors(command: Callable[[], int]) -> int:
    """Run a CLI command; a bad configuration or an `OperatorError` becomes one line and exit 2."""
    try:
        return command()
    except ConfigError as exc:
        return fail(f"configuration error: {exc}")
    except OperatorError as exc:
        return fail(str(exc))


def demo_command() -> str:
    """How to start the demo with the interpreter running now, as the person would type it here."""
    # The README's first command runs `.venv/bin/python` without activating the venv, where a
    # bare `python` has none of Kindred's packages. sys.executable is not resolved (a venv's
    # python is a link to the system's), so it still names the venv.
    try:
        inside = Path(sys.executable).relative_to(Path.cwd() / ".venv")
    except ValueError:
        return "python -m bot demo"
    return f"{(Path('.venv') / inside).as_posix()} -m bot demo"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return an exit code."""
    global _json_lines
    args = _parser().parse_args(argv)
    _json_lines = os.environ.get("KINDRED_LOG_FORMAT", "").strip().lower() == "json"
    return operator_errors(lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    global _json_lines
    if args.command == "demo":  # Kindred's defaults, whatever config.toml says: nothing of it is used
        return _demo(args.port)
    config = load_config()
    _json_lines = config.log_format == "json"
    # A one-shot command prints its own result; its INFO logs ("logging in", "applied
    # migration …") would bury that line, or the one line naming a problem. DEBUG still shows all.
    quiet = args.command != "run" and config.log_level == "INFO"
    configure_logging("WARNING" if quiet else config.log_level, config.log_format)
    if args.command == "check-config":
        return _check_config(config)
    if args.command == "status":
        return asyncio.run(_status(config))
    if args.command == "migrate":
        if config.database_url is None:
            check_database_path(config.database_path)
        return asyncio.run(_migrate(config))
    if args.command == "db":
        return _db(config, args)
    if args.command == "backup":
        if config.database_url is not None:
            return fail("backup copies the SQLite file; with KINDRED_DATABASE_URL set, back up PostgreSQL "
                        "with its own tools (pg_dump)")
        if not config.database_path.exists():
            return fail(f"no database at {config.database_path}")
        check_database_path(config.database_path)
        if args.path.exists():
            return fail(f"{args.path} already exists; choose a new path")
        return asyncio.run(_backup(config, args.path))
    if not config.token:
        return fail(HOW_TO_SET_UP.format(demo=demo_command()))
    check_data_files(config, unused=False)
    if args.command == "sync":
        return asyncio.run(_sync(config, args.guild))
    # Crisis help is served even when the database is locked or not writable (it retries);
    # a path that can never work is a mistake to fix first.
    if config.database_url is None:
        check_database_path(config.database_path, permissions=False)
    return asyncio.run(_run(config))


def _check_config(config: Config) -> int:
    data = check_data_files(config)
    if config.database_url is not None:
        database = f"{redact_url(config.database_url)} (PostgreSQL; not contacted)"
    else:
        database = check_database_path(config.database_path)
        version = database_version(config.database_path)
        if version is not None:
            database = database.replace("(exists)", f"(exists, schema version {version})")
    print("configuration OK")
    for line in config.describe():
        print(f"  database = {database}" if line.startswith("database = ") else f"  {line}")
    for line in data:
        print(f"  {line}")
    return EXIT_OK


@contextlib.asynccontextmanager
async def _open_database(config: Config, *, read_only: bool = False) -> AsyncIterator[Database]:
    """Open the configured database; a failure to open it is the operator's to fix."""
    db = database_for(config, read_only=read_only)
    try:
        await db.open()
    except DatabaseUnavailableError as exc:
        raise OperatorError(f"cannot open the database at {db.location}: {exc}") from None
    try:
        yield db
    finally:
        await db.close()


async def _status(config: Config) -> int:
    from bot.domain.clock import SystemClock
    from bot.services.container import build_services
    from bot.services.health import health_report
    from bot.services.ports import NoSending

    check_data_files(config, unused=False)  # what status reads them for (the crisis data's age) must load
    if config.database_url is None:
        path = config.database_path
        check_database_path(path, permissions=False)
        if not path.is_file():
            raise OperatorError(f"no database at {path}: nothing has run with this configuration "
                                "(check KINDRED_DATABASE or [bot] database)")
    # Reading only: the phrase rules (compiled only for detection) are not needed here. The whole
    # deployment is judged, whichever shard variables this shell has: every process's records and
    # every server's due work.
    config = dataclasses.replace(config, shards=None,
                                 crisis=dataclasses.replace(config.crisis, detection_intent=False))
    async with _open_database(config, read_only=True) as db:
        try:
            version, latest = await db.schema_version(), bundled_migrations(db.dialect)[-1].version
            if version != latest:
                raise OperatorError(
                    f"database {db.location} is at schema version {version}, this Kindred expects {latest}: "
                    "run `python -m bot migrate` (or the matching Kindred)")
            report = await health_report(build_services(config, db, SystemClock(), NoSending()))
        except DatabaseUnavailableError as exc:
            raise OperatorError(f"cannot read the database at {db.location}: {exc}") from None
    print(f"Kindred status at {report.now:%Y-%m-%d %H:%M:%S} UTC: {'healthy' if report.healthy else 'UNHEALTHY'}")
    for finding in report.findings:
        print(f"  {'ok  ' if finding.healthy else 'FAIL'}  {finding.subject}: {finding.detail}")
    print(f"  {'WARN' if report.crisis_data.stale else 'ok  '}  crisis data: {report.crisis_data.describe()}")
    return EXIT_OK if report.healthy else EXIT_FAILURE


async def _migrate(config: Config) -> int:
    async with _open_database(config) as db:
        try:
            version = await db.migrate()
        except (MigrationError, DatabaseUnavailableError) as exc:
            print(f"migration failed: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        location = db.location
    print(f"database {location} is at schema version {version}")
    return EXIT_OK


def _db(config: Config, args: argparse.Namespace) -> int:
    try:
        url = check_database_url(args.to)
    except ValueError as exc:
        return fail(f"--to {exc}")
    if not config.database_path.is_file():
        return fail(f"no SQLite database at {config.database_path} to convert (set KINDRED_DATABASE to its path)")
    check_database_path(config.database_path, permissions=False)
    return asyncio.run(_convert(config, url))


async def _convert(config: Config, url: str) -> int:
    from bot.db.convert import convert
    from bot.db.postgres import PostgresDatabase
    from bot.db.sqlite import SqliteDatabase

    source_config = dataclasses.replace(config, database_url=None)
    target_config = dataclasses.replace(config, database_url=url)
    async with _open_database(source_config) as source, _open_database(target_config) as target:
        assert isinstance(source, SqliteDatabase) and isinstance(target, PostgresDatabase)
        try:
            result = await convert(source, target, progress=print)
        except DatabaseUnavailableError as exc:
            raise OperatorError(f"the conversion stopped, and the target was left empty: {exc}") from None
    for check in result.tables:
        print(f"  {check.table}: {check.source_rows} rows in SQLite, {check.target_rows} in PostgreSQL, "
              f"content {'the same' if check.same_content else 'DIFFERENT'}")
    if not result.ok:
        wrong = ", ".join(c.table for c in result.tables if not c.ok)
        print(f"the copy does not match the SQLite database in: {wrong}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"converted {source.location} (schema version {result.version}) to {target.location}: every table "
          "matches; set KINDRED_DATABASE_URL to use it")
    return EXIT_OK


async def _backup(config: Config, target: Path) -> int:
    from bot.db.sqlite import SqliteDatabase

    async with _open_database(config) as db:
        assert isinstance(db, SqliteDatabase)
        try:
            result = await db.backup_to(target)
        except (OSError, sqlite3.Error) as exc:
            raise OperatorError(f"cannot write the backup to {target}: {exc}") from None
    if result != "ok":
        print(f"backup written to {target} but its integrity check failed: {result}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"backup written to {target}; integrity_check: ok")
    return EXIT_OK


async def _sync(config: Config, guild_id: int | None) -> int:
    import discord

    from bot.app import KindredBot, apply_endpoints, operator_problem

    bot = KindredBot(config, start_scheduler=False)
    assert config.token is not None
    async with bot:
        apply_endpoints(config)
        try:
            await bot.login(config.token)  # runs setup_hook, which loads every cog's commands
            if guild_id is not None:
                guild = discord.Object(guild_id)
                bot.tree.copy_global_to(guild=guild)
                synced = await bot.tree.sync(guild=guild)
                print(f"synced {len(synced)} command(s) to guild {guild_id}")
            else:
                synced = await bot.tree.sync()
                print(f"synced {len(synced)} global command(s); Discord may take a while to show them")
        except Exception as exc:
            problem = operator_problem(exc, config)  # None: a fault, shown as one
            if problem is None:
                raise
            raise OperatorError(problem) from None
    return EXIT_OK


async def _serve_metrics(config: Config) -> tuple[PrometheusMetrics | None, MetricsServer | None]:
    """Start the metrics endpoint if KINDRED_METRICS_ADDR asks for one; an address that cannot be used is one line."""
    if config.metrics_address is None:
        return None, None
    from bot.metrics import MetricsServer, PrometheusMetrics

    host, port = config.metrics_address
    metrics = PrometheusMetrics()
    server = MetricsServer(metrics)
    try:
        bound_host, bound_port = await server.start(host, port)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise OperatorError(f"cannot serve metrics on {host}:{port} (KINDRED_METRICS_ADDR): {reason}") from None
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    log.info("serving Prometheus metrics at http://%s:%d/metrics", shown, bound_port)
    return metrics, server


def _demo(port: int | None) -> int:
    from bot.demo import DEFAULT_PORT, serve

    if port is not None and not 0 <= port <= 65535:
        return fail(f"--port {port} is not a port (0-65535; 0 picks a free one)")
    configure_logging(os.environ.get("KINDRED_LOG_LEVEL", "").strip().upper() or "WARNING", "text")

    def announce(url: str) -> None:
        print(f"Kindred demo: open {url} in your browser. Everything runs on this machine (127.0.0.1) "
              "and nothing is sent anywhere; Ctrl-C stops it and deletes its database.", flush=True)

    asyncio.run(serve(DEFAULT_PORT if port is None else port, announce))
    return EXIT_OK


async def _run(config: Config) -> int:
    from bot.app import make_bot, operator_problem

    assert config.token is not None
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(asyncio_exception_handler)
    metrics, server = await _serve_metrics(config)
    bot = make_bot(config, metrics=metrics)
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
    if server is not None:
        await server.stop()
    stopper.cancel()
    if bot.fatal is not None:
        raise bot.fatal
    if runner in done and runner.exception() is not None:
        exc = runner.exception()
        assert exc is not None
        problem = operator_problem(exc, config)
        if problem is not None:
            raise OperatorError(problem)
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
