"""The two browsers the inspector's page is tested in, behind one small interface.

Headless Chromium is driven by Selenium through Debian's ``chromium-driver``. Headless
Firefox (Debian's ``firefox-esr``) is driven over Marionette, Firefox's own remote
protocol, with Mozilla's ``marionette-driver`` client: geckodriver, which Selenium would
need, is not packaged by Debian nor on PyPI, and nothing else is reachable from here.

Both are wrapped as :class:`Browser`: the few calls the tests make, with the same
meaning in both (``attribute`` reads a DOM property first, as Selenium does).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_DRIVER = Path("/usr/bin/chromedriver")
FIREFOX = Path("/usr/bin/firefox-esr")
WINDOW = (1400, 900)
START_TIMEOUT_S = 60.0


class Element(Protocol):
    def click(self) -> None: ...
    def send_keys(self, *text: str) -> None: ...
    def is_displayed(self) -> bool: ...


class Browser(Protocol):
    """What the tests do with a browser."""

    name: str

    def get(self, url: str) -> None: ...
    def script(self, source: str, *args: Any) -> Any: ...
    def elements(self, selector: str) -> list[Any]: ...
    def attribute(self, element: Any, name: str) -> str: ...
    def screenshot(self, path: Path) -> None: ...


def _install_when_missing(paths: tuple[Path, ...], packages: tuple[str, ...]) -> None:
    """Install Debian packages when a path is missing (root only: CI); skip otherwise."""
    if all(path.exists() for path in paths):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{' and '.join(packages)} not installed (apt-get install {' '.join(packages)})")
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, capture_output=True, timeout=900)


class _Chromium:
    name = "chromium"

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def get(self, url: str) -> None:
        self.driver.get(url)

    def script(self, source: str, *args: Any) -> Any:
        return self.driver.execute_script(source, *args)

    def elements(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements("css selector", selector))

    def attribute(self, element: Any, name: str) -> str:
        return str(element.get_attribute(name))

    def screenshot(self, path: Path) -> None:
        self.driver.save_screenshot(str(path))


class _Firefox:
    name = "firefox"

    def __init__(self, marionette: Any) -> None:
        self.marionette = marionette

    def get(self, url: str) -> None:
        self.marionette.navigate(url)

    def script(self, source: str, *args: Any) -> Any:
        return self.marionette.execute_script(source, script_args=list(args))

    def elements(self, selector: str) -> list[Any]:
        return list(self.marionette.find_elements("css selector", selector))

    def attribute(self, element: Any, name: str) -> str:
        value = element.get_property(name)
        return str(element.get_attribute(name) if value is None else value)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(self.marionette.screenshot(format="binary", full=False))


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium, installed first when missing (as root)."""
    _install_when_missing((CHROMIUM, CHROMIUM_DRIVER), ("chromium", "chromium-driver"))
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMIUM_DRIVER)), options=options)
    try:
        yield _Chromium(driver)
    finally:
        driver.quit()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def firefox() -> Iterator[Browser]:
    """Headless Firefox ESR with Marionette on a free loopback port, in a throw-away
    profile; installed first when missing (as root)."""
    _install_when_missing((FIREFOX,), ("firefox-esr",))
    marionette_module = pytest.importorskip("marionette_driver.marionette",
                                            reason="marionette-driver is in the dev extra")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="wsgw-firefox-") as profile:
        Path(profile, "user.js").write_text(
            f'user_pref("marionette.port", {port});\n'
            'user_pref("browser.shell.checkDefaultBrowser", false);\n'
            'user_pref("datareporting.policy.dataSubmissionEnabled", false);\n')
        environment = {**os.environ, "MOZ_HEADLESS": "1", "HOME": profile}
        process = subprocess.Popen(
            [str(FIREFOX), "--headless", "--marionette", "--no-remote", "--profile", profile, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
        try:
            _wait_for_port(port, process)
            marionette = marionette_module.Marionette(host="127.0.0.1", port=port, startup_timeout=START_TIMEOUT_S)
            marionette.start_session(timeout=START_TIMEOUT_S)
            marionette.set_window_rect(width=WINDOW[0], height=WINDOW[1])
            try:
                yield _Firefox(marionette)
            finally:
                marionette.delete_session()
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until Marionette listens. (marionette-driver's own wait leaks a socket per
    refused attempt, which this suite's warnings-as-errors would report.)"""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"Firefox did not open Marionette on port {port} (exit status {process.poll()})")


BROWSERS: dict[str, Callable[[], Any]] = {"chromium": chromium, "firefox": firefox}


def wait_for(browser: Browser, condition: Callable[[], Any], what: str, timeout_s: float,
             on_failure: Callable[[], None]) -> Any:
    """Ask ``condition`` every 50 ms until it is truthy. The page redraws its tables as
    rows arrive, so an element found a moment ago may be gone: that is asked again."""
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # a stale element: both drivers name it so
            if "stale" not in type(exc).__name__.lower():
                raise
            last = exc
        time.sleep(0.05)
    on_failure()
    raise AssertionError(f"{browser.name}: the page did not show {what}") from last
