"""Fixtures for the browser level: `python -m bot demo` as a person starts it, and headless Chromium.

The browser is Debian's `chromium` driven through its `chromium-driver` (/usr/bin/chromedriver):
nothing is downloaded. Without them the tests are skipped with a reason; in CI, where `.ci/run`
sets KINDRED_REQUIRE_BROWSER=1, they fail instead.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
URL = re.compile(r"http://127\.0\.0\.1:\d+/")
START_TIMEOUT = 60.0
BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVERS = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/browser with `browser` and `slow`."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


def _missing(message: str) -> None:
    if os.environ.get("KINDRED_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Demo:
    """A running `python -m bot demo --port 0`."""

    proc: subprocess.Popen[str]
    url: str
    temp: Path  # the TMPDIR it was given: its throw-away folder is made here
    lines: list[str] = field(default_factory=list)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C, as the page tells people to stop it
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stdout is not None
        self.lines += self.proc.stdout.readlines()
        return self.proc.returncode


def start_demo(temp: Path) -> Demo:
    """Start the demo on a free port with TMPDIR=`temp`; return once it printed its address."""
    temp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "KINDRED_"))}
    env.update(TMPDIR=str(temp), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "demo", "--port", "0"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            lines.append(line)
            if found := URL.search(line):
                return Demo(proc, found.group(0), temp, lines)
    proc.kill()
    rest = proc.stdout.read()
    raise AssertionError(f"the demo did not print its address within {START_TIMEOUT}s:\n{''.join(lines)}{rest}")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = start_demo(tmp_path / "tmp")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium at 1280×1000, through the system's chromedriver."""
    chromium = next((p for p in BROWSERS if Path(p).is_file()), None) or shutil.which("chromium")
    driver_path = next((p for p in DRIVERS if Path(p).is_file()), None) or shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        _missing("Chromium is not installed (Debian: apt-get install chromium chromium-driver); "
                 "the demo's browser test needs it")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed: pip install -e '.[dev]'")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--no-first-run", "--disable-extensions", "--disable-sync",
                     "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
                     "--lang=en-GB"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where this test's screenshots go (tests/artifacts/<test>/, not committed)."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
