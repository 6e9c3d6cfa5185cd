"""`python -m bot demo`: try Kindred in a browser, with no Discord application and no token.

One process: the loopback Discord the tests use (`bot.fakediscord`) with a sandbox server,
the real `KindredBot` (unmodified discord.py, its scheduler running) against it with a
database in a temporary folder, and a web page where the visitor acts as its members. Every
socket is on 127.0.0.1; the folder is deleted on exit, and a folder left by a demo that was
killed (no exit to delete it) is deleted by the next demo's start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.demo.page import DemoPage
from bot.demo.sandbox import Sandbox, build_world, demo_config, running_kindred
from bot.domain.clock import ShiftedClock
from bot.errors import OperatorError
from bot.fakediscord import FakeDiscord

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
FOLDER_PREFIX = "kindred-demo-"
PID_FILE = "pid"  # in the folder: the process that owns it


@dataclass(frozen=True, slots=True)
class RunningDemo:
    """A started demo: its page's address and the sandbox behind it."""

    url: str
    sandbox: Sandbox
    folder: Path


@contextlib.asynccontextmanager
async def running_demo(port: int = DEFAULT_PORT) -> AsyncIterator[RunningDemo]:
    """Start the loopback Discord, the bot and the page; stop them and delete the database on exit."""
    remove_stale_folders(Path(tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(prefix=FOLDER_PREFIX) as folder:
        (Path(folder) / PID_FILE).write_text(str(os.getpid()))
        async with FakeDiscord() as fake:
            world = build_world(fake)
            clock = ShiftedClock()
            config = demo_config(fake, Path(folder) / "kindred.sqlite3")
            async with running_kindred(fake, config, clock=clock, start_scheduler=True) as bot:
                sandbox = Sandbox(fake, world, bot, clock)
                page = DemoPage(sandbox, port)
                runner = web.AppRunner(page.app(), access_log=None, handle_signals=False)
                await runner.setup()
                try:
                    site = web.TCPSite(runner, HOST, port)
                    try:
                        await site.start()
                    except OSError as exc:
                        raise OperatorError(f"cannot serve the demo on {HOST}:{port} ({exc.strerror or exc}): "
                                            "choose another port with --port N (0 picks a free one)") from None
                    bound = runner.addresses[0][1]
                    page.port = bound  # the page checks the Host header against the port it is served on
                    yield RunningDemo(f"http://{HOST}:{bound}/", sandbox, Path(folder))
                finally:
                    await runner.cleanup()


def remove_stale_folders(parent: Path) -> list[Path]:
    """Delete the folders (databases with members' notes) of demos whose process is gone; return them.

    A demo killed with SIGKILL, or by a power cut, never runs the code that deletes its folder.
    Only this user's folders that name their process are judged; anything else is left alone.
    """
    if os.name != "posix":  # os.kill(pid, 0) only asks whether the process exists on POSIX
        return []
    removed = []
    for folder in parent.glob(FOLDER_PREFIX + "*"):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            pid = int((folder / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            continue  # no pid yet (a demo starting now) or not a demo's folder
        if pid <= 0 or _running(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        log.info("deleted the folder of a demo that stopped without cleaning up (pid %d)", pid)
        removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process by that id
    return True


async def serve(port: int, announce: Callable[[str], None]) -> None:
    """Run the demo until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    async with running_demo(port) as demo:
        announce(demo.url)
        await stopping.wait()
