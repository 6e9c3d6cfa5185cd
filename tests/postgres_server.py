"""A throw-away PostgreSQL server for the test suite, from Debian's `postgresql` package.

`initdb` and `pg_ctl` refuse to run as root, so as root the server runs as the `postgres` user
(the package creates it), or as a user made for it. It listens on a unix socket only, in a
private temporary folder (no port is taken from anyone), with durability off (fsync, full
page writes: a test server that loses everything on a crash loses nothing of value). Each
test gets a database of its own: a clone of a template migrated once per session, or, since
cloning takes the better part of a second, one an earlier test used and that was emptied since
(every row deleted, identities restarted; one whose schema a test changed is dropped instead).

Admin statements (CREATE DATABASE, DROP DATABASE) go through one connection kept on a
thread of its own with its own event loop, so sync fixtures can use them whatever loop a test runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")
SUPERUSER = "kindred"
TEMPLATE = "kindred_template"
PORT = 5432  # only names the socket file, inside our own folder
SERVER_OPTIONS = "-c listen_addresses='' -c max_connections=300 -c max_locks_per_transaction=128"
# Tests lose nothing of value if the server crashes; benchmarks keep PostgreSQL's defaults.
FAST_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB"


class PostgresMissing(Exception):
    """The PostgreSQL server binaries are not installed."""


class LoopThread:
    """An event loop on a thread of its own, for asyncpg calls from sync code whatever loop runs there."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the thread's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=timeout)

    def stop(self) -> None:
        """Stop the loop and its thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


class SyncReader:
    """One connection to a PostgreSQL database, queried from sync code in the shared SQL (`?` placeholders)."""

    def __init__(self, url: str) -> None:
        self._thread = LoopThread("kindred-pg-reader")
        try:
            self._conn: asyncpg.Connection = self._thread.call(asyncpg.connect(url))
        except BaseException:
            self._thread.stop()
            raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        from bot.db.postgres import postgres_sql

        text, _ = postgres_sql(sql)
        return [tuple(r) for r in self._thread.call(self._conn.fetch(text, *params), timeout=10)]

    def close(self) -> None:
        """Close the connection and stop the thread."""
        with contextlib.suppress(Exception):
            self._thread.call(self._conn.close(), timeout=10)
        self._thread.stop()


def find_bindir() -> Path | None:
    """Return the folder holding `initdb` and `pg_ctl`: KINDRED_POSTGRES_BINDIR if set, else on PATH,
    else Debian's newest /usr/lib/postgresql/N/bin."""
    chosen = os.environ.get("KINDRED_POSTGRES_BINDIR")
    if chosen:
        folder = Path(chosen)
        return folder if (folder / "pg_ctl").is_file() and (folder / "initdb").is_file() else None
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        match = re.fullmatch(r"\d+", candidate.parent.name)
        if match and (candidate / "pg_ctl").is_file() and (candidate / "initdb").is_file():
            versions.append((int(candidate.parent.name), candidate))
    return max(versions)[1] if versions else None


def _server_user() -> str | None:
    """The user to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "kindred-postgres"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "kindred-postgres"],
                   check=True, capture_output=True)
    return "kindred-postgres"


class PostgresServer:
    """One PostgreSQL server in a temporary folder, and the databases made on it."""

    def __init__(self, bindir: Path, *, durable: bool = False, options: str = "") -> None:
        self.bindir = bindir
        self.options = " ".join(filter(None, (SERVER_OPTIONS, "" if durable else FAST_OPTIONS, options)))
        self.user = _server_user()
        self.folder = Path(tempfile.mkdtemp(prefix="kindred-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self._names = itertools.count(1)
        self._thread: LoopThread | None = None
        self._admin: asyncpg.Connection | None = None
        self._clean: list[str] = []  # emptied databases waiting for their next test
        self._template_shape: str | None = None

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr}{result.stdout}{log}")

    def start(self) -> None:
        """Create the cluster, start the server, and make the migrated template database."""
        self.folder.chmod(0o700)
        if self.user:
            shutil.chown(self.folder, self.user, self.user)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "--no-locale", "--encoding=UTF8", "--no-sync")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", f"-k {self.folder} -p {PORT} {self.options}", "start")
        self._thread = LoopThread("kindred-pg-admin")
        self._admin = self._call(asyncpg.connect(self.url("postgres")))
        self._call(self._admin.execute(f'CREATE DATABASE "{TEMPLATE}"'))
        from bot.db.postgres import PostgresDatabase

        async def migrate() -> None:
            async with PostgresDatabase(self.url(TEMPLATE)) as database:
                await database.migrate()

        self._call(migrate())
        self._template_shape = self._call(self._shape(TEMPLATE))

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._call(self._admin.close())
        if self._thread is not None:
            self._thread.stop()
        with contextlib.suppress(RuntimeError):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        """The connection URL of a database on this server (over the unix socket)."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.folder}&port={PORT}"

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self._thread is not None
        return self._thread.call(coroutine)

    def create_database(self, *, migrated: bool = True, name: str | None = None) -> str:
        """Return a database of its own for a test: migrated to the latest version (or empty, or named)."""
        if migrated and name is None and self._clean:
            return self._clean.pop()
        name = name or f"test_{next(self._names)}"
        template = TEMPLATE if migrated else "template0"
        assert self._admin is not None
        self._call(self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return name

    def drop_database(self, name: str) -> None:
        """Be done with a test's database: emptied for the next test if its schema is the template's, else dropped."""
        assert self._admin is not None
        if name.startswith("test_") and self._call(self._emptied(name)):
            self._clean.append(name)
            return
        self._call(self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    async def _shape(self, name: str, conn: asyncpg.Connection | None = None) -> str:
        """A digest of a database's relations and columns (a test that changed the schema changes it)."""
        own = conn is None
        conn = conn or await asyncpg.connect(self.url(name))
        try:
            return str(await conn.fetchval(
                "SELECT md5(string_agg(c.relname || ':' || c.relkind::text || ':' || coalesce(a.attname::text, ''), ',' "
                "ORDER BY c.relname, a.attnum)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
                "WHERE n.nspname = 'public'"))
        finally:
            if own:
                await conn.close()

    async def _emptied(self, name: str) -> bool:
        """Close the test's sessions and delete every row; False if the schema is not the template's."""
        assert self._admin is not None
        await self._admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        conn = await asyncpg.connect(self.url(name))
        try:
            if await self._shape(name, conn) != self._template_shape:
                return False
            await conn.execute("""
                DO $$ DECLARE t record; BEGIN
                  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname != 'schema_migrations' LOOP
                    EXECUTE format('DELETE FROM %I', t.relname);
                  END LOOP;
                  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.relkind = 'S' AND n.nspname = 'public' LOOP
                    PERFORM setval(format('%I', t.relname), 1, false);
                  END LOOP;
                END $$""")
            return True
        finally:
            await conn.close()
