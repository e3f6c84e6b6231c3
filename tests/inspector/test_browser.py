"""The inspector in real browsers: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven with Selenium) and headless Firefox ESR (Debian's
``firefox-esr``, driven over Marionette), each installed here when missing and we are
root, as in CI; next to real WebSocket clients from Python (see ``browsers.py``).

Screenshots of the main views go to ``test-artifacts/inspector/<browser>/`` (or
``$WSGW_TEST_ARTIFACTS``): look at them after a change to the page.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from emulator.app import GatewayThread, GatewayOptions, LocalGateway
from emulator.inspector.server import InspectorOptions
from emulator.template.loader import load_model

from browsers import BROWSERS, Browser, wait_for
from conftest import ROOT, RunningGateway

ARTIFACTS = Path(os.environ.get("WSGW_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "inspector"
PROBE_DIR = ROOT / "tests" / "apps" / "probe"
WAIT_S = 30.0


@pytest.fixture(scope="module", params=sorted(BROWSERS))
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    (ARTIFACTS / request.param).mkdir(parents=True, exist_ok=True)
    with BROWSERS[request.param]() as opened:
        yield opened


def wait(driver: Browser, condition: Callable[[], Any], what: str) -> Any:
    return wait_for(driver, condition, what, WAIT_S, lambda: shot(driver, "failure"))


def shot(driver: Browser, name: str) -> None:
    driver.screenshot(ARTIFACTS / driver.name / f"{name}.png")


def css(driver: Browser, selector: str) -> list[Any]:
    return driver.elements(selector)


def texts(driver: Browser, selector: str) -> list[str]:
    """The text of every element matching ``selector``, read in one go (no stale elements)."""
    return list(driver.script(
        "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent)", selector))


def text(driver: Browser, selector: str) -> str:
    """The text of the first element matching ``selector`` ('' when there is none)."""
    found = texts(driver, selector)
    return found[0] if found else ""


def click(driver: Browser, selector: str, containing: str = "", excluding: str = "\u0000") -> None:
    """Click the first element matching ``selector`` whose text has ``containing`` (and
    not ``excluding``), found and clicked in one go: the page may redraw in between."""
    def clicked() -> bool:
        return bool(driver.script(
            "const e = [...document.querySelectorAll(arguments[0])].find((e) => e.textContent.includes(arguments[1])"
            " && !e.textContent.includes(arguments[2])); if (e) e.click(); return !!e;",
            selector, containing, excluding))
    wait(driver, clicked, f"something to click: {selector} {containing}")


def tab(driver: Browser, name: str) -> None:
    css(driver, f"button[data-tab={name}]")[0].click()


def open_page(driver: Browser, url: str) -> None:
    driver.get(url)
    wait(driver, lambda: text(driver, "#live") == "live", "the live stream")


def test_a_conversation_its_invocations_a_replay_and_acting_from_the_page(
    browser: Browser, inspected_gateway: RunningGateway,
) -> None:
    local = inspected_gateway.local
    assert local.inspector_url is not None
    open_page(browser, local.inspector_url)
    with connect(local.ws_url, user_agent_header="alice-terminal/1.0") as alice, \
            connect(local.ws_url, user_agent_header="bob-terminal/1.0") as bob:
        alice.send('{"action": "whoAmI"}')
        alice_id = str(alice.recv(timeout=10))
        bob.send('{"action": "whoAmI"}')
        bob_id = str(bob.recv(timeout=10))
        bob.send(json.dumps({"action": "sendMessage", "connectionId": alice_id, "message": "Hi from bob"}))
        assert alice.recv(timeout=10) == "Hi from bob"

        # Both connections, their frames, routes and invocations.
        wait(browser, lambda: css(browser, f'#connections tr[data-cid="{alice_id}"]')
             and css(browser, f'#connections tr[data-cid="{bob_id}"]'), "both connections")

        def timeline() -> str:
            return " ".join(texts(browser, "#timeline tbody tr"))
        wait(browser, lambda: "Hi from bob" in timeline() and "SendMessageFunction" in timeline(), "bob's frame")
        rows = timeline()
        assert "WhoAmIFunction" in rows and "selection \"whoAmI\" → whoAmI" in rows
        assert alice_id in rows and bob_id in rows
        # The pictures: two open connections, and each function's latencies.
        wait(browser, lambda: texts(browser, "#chart-conn-now") == ["2"]
             and "WhoAmIFunction" in " ".join(texts(browser, "#latency .fn")), "the charts")
        shot(browser, "timeline")

        # An invocation's detail: its exact event; then a replay.
        click(browser, '#timeline tr[data-kind="invoke"]', "WhoAmIFunction")
        wait(browser, lambda: css(browser, "#replay-event"), "the invocation's detail")
        event = json.loads(browser.attribute(css(browser, "#replay-event")[0], "value"))
        assert event["requestContext"]["routeKey"] == "whoAmI" and event["body"] == '{"action": "whoAmI"}'
        logs = text(browser, "#detail-logs")
        assert "START RequestId:" in logs and "REPORT RequestId:" in logs
        shot(browser, "invocation-detail")
        css(browser, "#replay")[0].click()
        wait(browser, lambda: css(browser, ".replay-output")
             and event["requestContext"]["connectionId"] in text(browser, ".replay-output"), "the replay")
        shot(browser, "replay")
        css(browser, "#drawer-close")[0].click()

        # Post to alice and disconnect bob, from the page.
        tab(browser, "connections")
        click(browser, f'#connections tr[data-cid="{alice_id}"] button[data-action="post"]')
        wait(browser, lambda: css(browser, "#post-text"), "the post form")
        css(browser, "#post-text")[0].send_keys("posted from the inspector")
        css(browser, "#post-send")[0].click()
        assert alice.recv(timeout=10) == "posted from the inspector"
        wait(browser, lambda: "Posted (200)" in text(browser, "#post-result"), "the post's answer")
        css(browser, "#drawer-close")[0].click()
        shot(browser, "connections")
        click(browser, f'#connections tr[data-cid="{bob_id}"] button[data-action="disconnect"]')
        with pytest.raises(ConnectionClosed):
            bob.recv(timeout=10)
        assert bob.close_code == 1000
        wait(browser, lambda: "CLOSED" in " ".join(texts(browser, f'#connections tr[data-cid="{bob_id}"]')),
             "bob closed")
        tab(browser, "timeline")
        wait(browser, lambda: "from this page" in timeline() and "closed 1000" in timeline(), "the page's own calls")

    # A client opened from the page: the quickest manual test client.
    tab(browser, "client")
    css(browser, "#client-query")[0].send_keys("room=42")
    css(browser, "#client-connect")[0].click()
    wait(browser, lambda: text(browser, "#client-state") == "connected", "the page's client connected")
    css(browser, "#client-text")[0].send_keys('{"action": "whoAmI"}')
    css(browser, "#client-send-button")[0].click()
    wait(browser, lambda: css(browser, "#client-log li.recv"), "a reply to the page's client")
    page_id = text(browser, "#client-log li.recv").removeprefix("received")
    assert page_id in inspected_gateway.open_connection_ids()
    shot(browser, "client")
    css(browser, "#client-close")[0].click()
    wait(browser, lambda: text(browser, "#client-state") == "not connected", "the page's client closed")


# -- empty, long and many ----------------------------------------------------------------------


@pytest.fixture
def echo_gateway(tmp_path: Path, tls_dir: Path) -> Iterator[LocalGateway]:
    """An app with only ``$default`` (echo, two-way): connections cost no invocation."""
    app = tmp_path / "wsgw.json"
    app.write_text(json.dumps({
        "name": "echo", "stage": "dev", "routeSelectionExpression": "$request.body.action",
        "functions": {"AVeryLongFunctionNameThatKeepsGoingAndGoingEchoFunction": {
            "handler": "probe.echo", "codeUri": str(PROBE_DIR)}},
        "routes": {"$default": {"function": "AVeryLongFunctionNameThatKeepsGoingAndGoingEchoFunction", "twoWay": True}},
    }))
    local = LocalGateway(load_model(app), GatewayOptions(port=0, tls_dir=tls_dir, inspector=InspectorOptions()),
                         function_log=lambda function, line: None)
    background = GatewayThread(local)
    background.start()
    yield local
    background.stop()


def test_empty_states_long_messages_and_a_thousand_connections(browser: Browser, echo_gateway: LocalGateway) -> None:
    assert echo_gateway.inspector_url is not None
    open_page(browser, echo_gateway.inspector_url)
    assert css(browser, "#timeline-empty")[0].is_displayed()
    shot(browser, "empty-timeline")
    tab(browser, "connections")
    assert css(browser, "#connections-empty")[0].is_displayed()
    tab(browser, "timeline")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard or (soft < 4096 and hard == resource.RLIM_INFINITY):
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    count = 1000 if resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 4096 else 300
    long_text = "x" * 6000  # one word: must not widen the table
    stop = threading.Event()
    opened = threading.Event()

    async def crowd() -> None:
        clients = []
        for start in range(0, count, 100):
            clients += await asyncio.gather(*(connect_async(echo_gateway.ws_url) for _ in range(100 if start + 100 <= count else count - start)))
        await clients[0].send(long_text)
        assert await clients[0].recv() == long_text
        opened.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await asyncio.gather(*(client.close() for client in clients))

    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(crowd())
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
            opened.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert opened.wait(120) and not errors, errors
        wait(browser, lambda: text(browser, "#count-connections") == str(count), f"{count} connections")
        wait(browser, lambda: "…(+" in " ".join(texts(browser, '#timeline tr[data-kind="in"]')),
             "the long frame, cut")
        # The long frame stays within its row; the page still answers a filter at once.
        width = browser.script("return document.getElementById('timeline').scrollWidth")
        assert width <= browser.script("return document.querySelector('.table-wrap').clientWidth") + 1
        shot(browser, "long-message")
        tab(browser, "connections")
        assert len(texts(browser, "#connections tbody tr")) == count
        shot(browser, "many-connections")
        first = texts(browser, "#connections tbody tr td")[0]
        tab(browser, "timeline")
        css(browser, "#f-conn")[0].send_keys(first)
        wait(browser, lambda: all(first in row for row in texts(browser, "#timeline tbody tr")), "the filter")
    finally:
        stop.set()
        thread.join(60)
