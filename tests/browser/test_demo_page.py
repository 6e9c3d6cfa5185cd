"""`python -m bot demo` in headless Chromium: a member, a moderator and the clock, through the page only.

Each step saves a screenshot under tests/artifacts/<test name>/ (not committed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.browser.conftest import Demo

T = TypeVar("T")
WAIT = 30.0  # seconds for the bot's reply to show (the page asks for the state twice a second)


class Page:
    """The demo page as a person uses it: mostly the keyboard."""

    def __init__(self, driver: Any, url: str, artifacts: Path) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        self.driver, self.By, self.Keys, self.artifacts = driver, By, Keys, artifacts
        self.shots = 0
        driver.get(url)
        self.wait(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true", "the page to start")

    def wait(self, condition: Callable[[Any], T], what: str, timeout: float = WAIT) -> T:
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            self.screenshot(f"timeout-{what[:40]}")
            status = self.driver.find_element(self.By.ID, "status").text
            raise AssertionError(f"timed out waiting for {what}; status line: {status!r}; "
                                 f"messages: {self.messages_text()[-3:]}") from None

    def screenshot(self, name: str) -> Path:
        self.shots += 1
        path = self.artifacts / f"{self.shots:02d}-{name.replace(' ', '-').replace('/', '')}.png"
        self.driver.save_screenshot(str(path))
        return path

    def be(self, label: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.driver.find_element(self.By.ID, "who")).select_by_visible_text(label)
        self.wait(lambda d: d.find_element(self.By.ID, "channel-title").text == "# general", f"{label}'s view")

    def open_channel(self, name: str) -> None:
        button = self.driver.find_element(self.By.XPATH, f"//nav//button[normalize-space()='{name}']")
        button.send_keys(self.Keys.ENTER)
        self.wait(lambda d: d.find_element(self.By.ID, "channel-title").text == name, f"channel {name}")

    @property
    def box(self) -> Any:
        return self.driver.find_element(self.By.ID, "composer-input")

    def type(self, text: str) -> None:
        self.box.send_keys(text)

    def suggestions(self) -> list[str]:
        items = self.driver.find_elements(self.By.CSS_SELECTOR, "#suggestions li span:first-child")
        return [item.text for item in items]

    def take_suggestion(self, label: str) -> None:
        """Wait for `label` among the suggestions, choose it with the arrow keys, take it with Tab."""
        self.wait(lambda d: label in self.suggestions(), f"the suggestion {label!r}")
        for _ in range(self.suggestions().index(label)):
            self.box.send_keys(self.Keys.ARROW_DOWN)
        self.box.send_keys(self.Keys.TAB)

    def send(self) -> None:
        self.box.send_keys(self.Keys.ENTER)
        self.wait(lambda d: self.box.get_attribute("value") == "", "the message box to be sent")

    def messages(self) -> list[Any]:
        return self.driver.find_elements(self.By.CSS_SELECTOR, "#messages li.msg")

    def messages_text(self) -> list[str]:
        try:
            return [m.text for m in self.messages()]
        except Exception:  # the list was re-rendered while read
            return []

    def newest_with(self, *needles: str) -> Any:
        """The newest message containing every needle, or None (the list is redrawn as it changes: re-find)."""
        matching = [m for m in self.messages() if all(n in m.text for n in needles)]
        return matching[-1] if matching else None

    def message_with(self, *needles: str) -> Any:
        """Wait for the newest message containing every needle."""
        return self.wait(lambda d: self.newest_with(*needles), f"a message with {needles}")


def test_a_member_a_moderator_and_the_clock_in_a_real_browser(demo: Demo, browser: Any, artifacts: Path) -> None:
    page = Page(browser, demo.url, artifacts)
    By, Keys = page.By, page.Keys
    assert "Alex (member)" in browser.find_element(By.ID, "who").text

    # A member checks in with a mood (the command chosen from the suggestions) and sees the streak.
    page.type("/chec")
    page.take_suggestion("/checkin")
    assert page.box.get_attribute("value") == "/checkin mood:", "taking a command starts its required option"
    page.type("4")
    page.send()
    reply = page.message_with("Checked in", "mood 4/5", "day 1")
    assert "Only you can see this" in reply.text and "replying to Alex's /checkin" in reply.text
    page.screenshot("member checks in")

    # Ephemeral: another member does not see it.
    page.be("Jordan (member)")
    page.wait(lambda d: not any("Checked in" in t for t in page.messages_text()), "Alex's reply to be hidden from Jordan")
    assert "No messages yet." in browser.find_element(By.ID, "messages").text

    # A moderator configures the daily prompt, with the time zone from the bot's autocomplete.
    page.be("Robin (moderator)")
    page.type("/config checkins channel:#check-ins time:09:00 timezone:Europe/Lond")
    page.take_suggestion("Europe/London")
    assert page.box.get_attribute("value").endswith("timezone:Europe/London ")
    page.send()
    page.message_with("09:00", "check-ins")
    page.screenshot("moderator sets the daily prompt")

    # Fast-forward: the running bot's own scheduler posts the prompt.
    skip = browser.find_element(By.ID, "skip-next")
    page.wait(lambda d: "daily check-in prompt" in d.find_element(By.ID, "clock-next").text, "the next event to be named")
    skip.send_keys(Keys.ENTER)
    page.wait(lambda d: "daily check-in prompt" in d.find_element(By.ID, "status").text, "the clock to move")
    page.open_channel("# check-ins")
    page.message_with("Daily check-in", "Check in")
    page.screenshot("the daily prompt after fast-forward")

    # A member clicks Check in on the prompt and fills in the form with the keyboard.
    page.be("Alex (member)")
    page.open_channel("# check-ins")
    button = page.wait(lambda d: d.find_element(By.XPATH, "//li[contains(@class,'msg')]//button[contains(., 'Check in')]"),
                       "the Check in button")
    button.send_keys(Keys.ENTER)
    dialog = page.wait(lambda d: d.find_element(By.ID, "modal") if d.find_element(By.ID, "modal").is_displayed() else None,
                       "the check-in form")
    assert dialog.find_element(By.ID, "modal-title").text == "Daily check-in"
    assert browser.switch_to.active_element.get_attribute("name") == "mood", "the form's first field has the focus"
    browser.switch_to.active_element.send_keys("3")
    browser.switch_to.active_element.send_keys(Keys.TAB, "2")
    page.screenshot("the check-in form")
    browser.find_element(By.ID, "modal-submit").send_keys(Keys.ENTER)
    page.wait(lambda d: not d.find_element(By.ID, "modal").is_displayed(), "the form to close")
    reply = page.message_with("mood 3/5", "craving 2/10")  # "Checked in", or "Updated" on the same local day
    assert "Only you can see this" in reply.text
    page.screenshot("member checked in from the prompt")

    # /crisis with the country picked from the bot's autocomplete: the GB numbers.
    page.open_channel("# general")
    page.type("/crisis country:United King")
    page.take_suggestion("United Kingdom (GB)")
    page.send()
    crisis = page.message_with("116 123", "999")
    assert "Samaritans" in crisis.text
    page.screenshot("crisis numbers for GB")

    # /mystats: the chart is an image the browser could load.
    page.type("/mystats")
    page.send()
    def chart_width(driver: Any) -> int:
        stats = page.newest_with("replying to Alex's /mystats", "streak")
        images = stats.find_elements(By.TAG_NAME, "img") if stats else []
        return images and driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", images[0])
    assert page.wait(chart_width, "the chart image to load") > 100
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    page.screenshot("mystats chart")
    browser.set_window_size(1280, 1560)  # the whole page, for the README's picture (docs/demo.png)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(artifacts / "demo-page.png"))
    browser.set_window_size(1280, 1000)

    # "What is stored about me" is /privacy export: the JSON shows in the page, privately.
    browser.find_element(By.ID, "export").send_keys(Keys.ENTER)
    export = page.message_with("replying to Alex's /privacy export", ".json")
    assert "Only you can see this" in export.text
    assert "mood" in page.newest_with(".json").find_element(By.TAG_NAME, "pre").get_attribute("textContent")
    page.screenshot("privacy export")

    # 200 % zoom: the layout reflows into half the width with nothing cut off sideways.
    browser.set_window_size(640, 1000)
    overflow = browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px at 200 % zoom"
    page.screenshot("narrow like 200 percent zoom")


def test_the_demo_binds_loopback_and_deletes_its_database_on_exit(demo: Demo) -> None:
    import urllib.request

    folders = list(demo.temp.glob("kindred-demo-*"))
    assert len(folders) == 1 and (folders[0] / "kindred.sqlite3").is_file(), "a throw-away database while it runs"
    with urllib.request.urlopen(demo.url + "api/world", timeout=10) as answer:  # noqa: S310 - loopback
        assert b"Recovery Circle" in answer.read()
    assert demo.stop() == 0, "".join(demo.lines)
    assert not list(demo.temp.glob("kindred-demo-*")), "the temporary database is deleted on exit"
    assert "nothing is sent anywhere" in "".join(demo.lines)


def test_one_members_odd_message_does_not_stop_the_channel_showing(demo: Demo, browser: Any, artifacts: Path) -> None:
    # <t:…> beyond the dates a browser can show once blanked #general for everyone and said the
    # demo server was gone. It shows as typed; the messages around it show too.
    import json
    import urllib.request

    def call(path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(demo.url.rstrip("/") + path, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read())

    people = {p["name"]: p["id"] for p in call("/api/world")["people"]}
    general = next(c["id"] for c in call(f"/api/state?as={people['Sam']}")["channels"] if c["name"] == "general")
    for who, text in (("Sam", "welcome everyone"), ("Alex", "see you <t:99999999999999999> or <t:-99999999999999999:R>"),
                      ("Sam", "are you ok Alex?")):
        call("/api/say", {"as": people[who], "channel": general, "text": text})

    page = Page(browser, demo.url, artifacts)
    page.be("Jordan (member)")
    page.message_with("are you ok Alex?")
    page.screenshot("odd timestamps")
    shown = page.messages_text()
    assert any("welcome everyone" in m for m in shown), shown
    assert any("see you <t:99999999999999999> or <t:-99999999999999999:R>" in m for m in shown), shown
    assert "Lost touch" not in browser.find_element(page.By.ID, "status").text
