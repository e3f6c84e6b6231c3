"""``wsgw connect``: a small interactive WebSocket client, for people without websocat/wscat.

Use it to talk to the local gateway (or any WebSocket API) by hand — type a line, it is
sent as a text message; every message received is printed as ``HH:MM:SS.mmm < text`` —
or from scripts with ``--execute MSG`` (repeatable) and ``--wait SECONDS``: send, print
the replies that arrive within that time, close with 1000 and exit 0.

:func:`run_client` does the work on websockets' asyncio client and returns the exit
status; status lines (connected, closed by the server, refused) go to ``err``, messages
to ``out``. For a loopback ``wss://`` URL the local gateway's CA is trusted
automatically (:func:`pick_ca`, from the local state file), and ``--ca PATH`` trusts any
other CA in addition to the system roots.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator, Callable, TextIO

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

from ..core.loopback import is_loopback_url
from .local_state import LocalState

Echo = Callable[[str], None]
_BINARY_PREVIEW = 64
# websockets 15+ honours HTTP(S)_PROXY; loopback must not go through a proxy. 14 has none.
_NO_PROXY: dict[str, Any] = {"proxy": None} if "proxy" in inspect.signature(connect.__init__).parameters else {}


@dataclass(frozen=True)
class ClientOptions:
    """What ``wsgw connect`` was asked to do."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    subprotocols: tuple[str, ...] = ()
    ca_path: str | None = None
    execute: tuple[str, ...] = ()  # non-empty: script mode, stdin is not read
    wait_s: float | None = None  # script mode (and after stdin's end): how long to wait for replies
    open_timeout_s: float = 10.0


def client_options(url: str | None, *, headers: tuple[str, ...] = (), subprotocols: tuple[str, ...] = (),
                   ca: str | None = None, execute: tuple[str, ...] = (), wait_s: float | None = None,
                   state: LocalState | None = None) -> ClientOptions:
    """``wsgw connect``'s flags as options: URL defaults to the running local gateway's
    ``ws://`` URL (``state``); ValueError names a flag that is wrong."""
    if url is None:
        if state is None:
            raise ValueError("no URL given and no running wsgw run-local found here")
        url = state.ws_url
    return ClientOptions(url=url, headers=tuple(parse_header(item) for item in headers),
                         subprotocols=subprotocols, ca_path=pick_ca(url, ca, state), execute=execute, wait_s=wait_s)


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` → ``("Name", "value")``; ValueError when there is no name."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise ValueError(f"--header {text!r}: expected NAME:VALUE")
    return name.strip(), value.strip()


def pick_ca(url: str, ca: str | None, state: LocalState | None) -> str | None:
    """``--ca`` if given; else the local gateway's CA for a loopback ``wss://`` URL."""
    if ca is not None:
        return ca
    if state is not None and url.startswith("wss://") and is_loopback_url(url):
        return state.ca_path
    return None


def timestamp(now: datetime | None = None) -> str:
    """Local wall-clock time as ``HH:MM:SS.mmm``."""
    return (now or datetime.now()).strftime("%H:%M:%S.%f")[:-3]


def describe_message(message: str | bytes) -> str:
    """A received message as one printable string (binary: its size and hex)."""
    if isinstance(message, str):
        return message
    more = "..." if len(message) > _BINARY_PREVIEW else ""
    return f"[binary, {len(message)} bytes] {message[:_BINARY_PREVIEW].hex()}{more}"


def client_ssl_context(url: str, ca_path: str | None) -> ssl.SSLContext | None:
    """For ``wss://``: the system roots plus ``ca_path``; None for ``ws://``."""
    if not url.startswith("wss://"):
        return None
    context = ssl.create_default_context()
    if ca_path is not None:
        context.load_verify_locations(cafile=ca_path)
    return context


async def stdin_lines(stream: TextIO = sys.stdin) -> AsyncIterator[str]:
    """Lines of ``stream`` without their line ending, read in a daemon thread (a blocked
    read must not keep the process alive after the connection closed)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in stream:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except (RuntimeError, OSError, ValueError):  # loop closed, or stdin went away
            pass

    threading.Thread(target=read, name="wsgw-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line.rstrip("\r\n")


async def run_client(options: ClientOptions, *, out: Echo, err: Echo,
                     lines: AsyncIterator[str] | None = None) -> int:
    """Connect, exchange messages, return the exit status (0: we closed, or the
    server closed with 1000; 1: refused, unreachable, or closed with another code)."""
    url = options.url
    if not url.startswith(("ws://", "wss://")):
        err(f"wsgw: error: {url!r} is not a ws:// or wss:// URL")
        return 1
    try:
        context = client_ssl_context(url, options.ca_path)
    except OSError as exc:
        err(f"wsgw: error: --ca {options.ca_path}: {exc.strerror or exc}")
        return 1
    extra = _NO_PROXY if is_loopback_url(url) else {}
    try:
        async with connect(url, additional_headers=list(options.headers), ssl=context,
                           subprotocols=[Subprotocol(p) for p in options.subprotocols] or None,
                           open_timeout=options.open_timeout_s, **extra) as websocket:
            chosen = f" (subprotocol {websocket.subprotocol})" if websocket.subprotocol else ""
            hint = "" if options.execute else "; type a message and press Enter, Ctrl-D to close"
            err(f"wsgw: connected to {url}{chosen}{hint}")
            return await _session(websocket, options, out, err, lines)
    except InvalidStatus as exc:
        response = exc.response
        body = response.body.decode("utf-8", "replace").strip().replace("\n", " ")[:200] if response.body else ""
        err(f"wsgw: error: the server refused the handshake: HTTP {response.status_code} "
            f"{response.reason_phrase}" + (f": {body}" if body else ""))
    except InvalidURI as exc:
        err(f"wsgw: error: {exc}")
    except ssl.SSLCertVerificationError as exc:
        err(f"wsgw: error: TLS verification failed for {url}: {exc.verify_message} "
            "(pass --ca PATH, or run `wsgw run-local` from this folder)")
    except (InvalidHandshake, ssl.SSLError) as exc:
        err(f"wsgw: error: the handshake with {url} failed: {exc}")
    except TimeoutError:
        err(f"wsgw: error: no handshake answer from {url} within {options.open_timeout_s:g} s")
    except OSError as exc:
        err(f"wsgw: error: cannot connect to {url}: {exc.strerror or exc}")
    return 1


async def _session(websocket: ClientConnection, options: ClientOptions, out: Echo, err: Echo,
                   lines: AsyncIterator[str] | None) -> int:
    receiver = asyncio.create_task(_receive(websocket, out))
    if options.execute or lines is None:
        sender = asyncio.create_task(_send_all(websocket, options.execute, out))
    else:
        sender = asyncio.create_task(_send_lines(websocket, lines))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if not receiver.done():
            # Everything is sent (script, or stdin's end): wait for replies that long.
            await asyncio.wait({receiver}, timeout=options.wait_s or 0)
    finally:
        sender.cancel()
    if not receiver.done():
        receiver.cancel()
        await websocket.close(1000)
        return 0
    code, reason = receiver.result()
    err(f"wsgw: the server closed the connection: {code}" + (f" {reason}" if reason else ""))
    return 0 if code == 1000 else 1


async def _receive(websocket: ClientConnection, out: Echo) -> tuple[int, str]:
    """Print messages until the server closes; return its close code and reason."""
    while True:
        try:
            message = await websocket.recv()
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                return 1006, "closed without a close frame"
            return closed.rcvd.code, closed.rcvd.reason
        out(f"{timestamp()} < {describe_message(message)}")


async def _send_all(websocket: ClientConnection, messages: tuple[str, ...], out: Echo) -> None:
    for message in messages:
        out(f"{timestamp()} > {message}")  # first: a fast reply prints after it
        try:
            await websocket.send(message)
        except ConnectionClosed:
            await asyncio.Event().wait()  # the receiver reports the close


async def _send_lines(websocket: ClientConnection, lines: AsyncIterator[str]) -> None:
    async for line in lines:
        if not line.strip():
            continue
        try:
            await websocket.send(line)
        except ConnectionClosed:
            await asyncio.Event().wait()  # the receiver reports the close
