"""Real WebSocket clients for tests: what ``wsgw_connect`` and ``wsgw_connect_async``
hand out (see :mod:`emulator.testing.plugin`).

Every client runs on one :class:`ClientLoop` in its own thread, so the same client
works from sync tests and from any async test's event loop (pytest-asyncio strict or
auto, any loop scope), and teardown can close it even after a failure.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from typing import Any, Callable, Coroutine, Generator, Mapping, NamedTuple, Protocol, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 5.0


class ConnectionLookup(Protocol):
    """Finds the gateway's connection id for a client's local (host, port)."""

    def connection_id_of(self, peer: tuple[str, int]) -> str | None: ...


class ClientLoop:
    """The event loop every test client runs on, in its own thread: clients then work
    the same from sync tests and from any async test's loop, and close cleanly."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="wsgw-clients", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def run_async(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


PRESIGNED_EXPIRES_S = 300


def sign_upgrade(url: str, headers: Mapping[str, str], *, access_key: str, secret_key: str, region: str,
                 presigned: bool = False) -> tuple[str, dict[str, str]]:
    """``(url, headers)`` of a WebSocket upgrade request SigV4-signed for ``execute-api``
    by botocore, as a real client signs for an ``AWS_IAM`` ``$connect`` (DOCS-iam): in
    the headers (``Authorization``, ``X-Amz-Date``), or with ``presigned`` in the URL's
    query string, the only way a browser can. ``headers`` are signed too."""
    # botocore only here (~40 ms to import): most sessions never sign a client.
    from botocore.auth import SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    http_url = "http" + url[len("ws"):]  # ws:// → http://, wss:// → https://: same canonical request
    request = AWSRequest(method="GET", url=http_url, headers=dict(headers))
    credentials = Credentials(access_key, secret_key)
    if presigned:
        SigV4QueryAuth(credentials, "execute-api", region, expires=PRESIGNED_EXPIRES_S).add_auth(request)
    else:
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
    signed = {name: value for name, value in request.headers.items() if name.lower() != "host"}
    return "ws" + str(request.url)[len("http"):], signed


class HandshakeRefused(Exception):
    """The gateway answered the upgrade with ``status`` instead of 101 (e.g. the
    ``$connect`` handler returned 401, or failed: 502)."""

    def __init__(self, status: int, body: str, headers: Mapping[str, str]) -> None:
        super().__init__(f"handshake refused with HTTP {status}: {body[:200]}")
        self.status, self.body, self.headers = status, body, dict(headers)


class Closed(NamedTuple):
    """How a connection closed (1006: the TCP connection ended without a close frame)."""

    code: int
    reason: str


class ClientConnectionHandle:
    """One client connection; its coroutines run on the client loop."""

    def __init__(self, ws: ClientConnection, running: ConnectionLookup) -> None:
        self.ws = ws
        host, port = ws.transport.get_extra_info("sockname")[:2]
        self.peer = (str(host), int(port))
        self._running = running
        self._connection_id: str | None = None

    @property
    def connection_id(self) -> str:
        if self._connection_id is None:
            self._connection_id = self._running.connection_id_of(self.peer)
            if self._connection_id is None:
                raise LookupError("the connection is not open on the gateway (any more)")
        return self._connection_id

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def recv(self, timeout: float) -> str | bytes:
        try:
            return await asyncio.wait_for(self.ws.recv(), timeout)
        except TimeoutError:
            raise TimeoutError(f"no message within {timeout} s") from None

    async def recv_text(self, timeout: float) -> str:
        message = await self.recv(timeout)
        if not isinstance(message, str):
            raise AssertionError(f"expected a text message, got a binary one: {message[:200]!r}")
        return message

    async def recv_json(self, timeout: float) -> Any:
        return json.loads(await self.recv_text(timeout))

    async def expect_close(self, code: int | None, timeout: float) -> Closed:
        try:
            async with asyncio.timeout(timeout):
                message = await self.ws.recv()
            raise AssertionError(f"expected the connection to close, got a message: {message!r}")
        except ConnectionClosed as exc:
            closed = Closed(exc.rcvd.code, exc.rcvd.reason) if exc.rcvd is not None else Closed(1006, "")
        except TimeoutError:
            raise AssertionError(f"the connection is still open after {timeout} s") from None
        if code is not None and closed.code != code:
            raise AssertionError(f"expected close code {code}, got {closed.code} {closed.reason!r}")
        return closed

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)


class WsgwClient:
    """A real WebSocket client connected to the gateway, with blocking methods and
    timeouts (``recv_*`` raise ``TimeoutError``; a closed connection raises
    ``websockets.exceptions.ConnectionClosed``). Closed at the test's end if still open."""

    def __init__(self, connection: ClientConnectionHandle, clients: ClientLoop) -> None:
        self._c, self._clients = connection, clients

    @property
    def connection_id(self) -> str:
        """This connection's id on the gateway (looked up, then cached)."""
        return self._c.connection_id

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the ``$connect`` handler chose, if any."""
        return self._c.ws.subprotocol

    def send_text(self, text: str) -> None:
        self._clients.run(self._c.send(text))

    def send_json(self, value: Any) -> None:
        self.send_text(json.dumps(value))

    def recv(self, timeout: float = DEFAULT_TIMEOUT_S) -> str | bytes:
        """The next message: ``str`` for text, ``bytes`` for binary."""
        return self._clients.run(self._c.recv(timeout))

    def recv_text(self, timeout: float = DEFAULT_TIMEOUT_S) -> str:
        return self._clients.run(self._c.recv_text(timeout))

    def recv_json(self, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
        return self._clients.run(self._c.recv_json(timeout))

    def expect_close(self, code: int | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> Closed:
        """Wait for the gateway to close the connection; AssertionError if a message
        comes first, the close code is not ``code``, or nothing happens in time."""
        return self._clients.run(self._c.expect_close(code, timeout))

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._clients.run(self._c.close(code, reason))

    def __enter__(self) -> WsgwClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncWsgwClient:
    """:class:`WsgwClient` for ``async def`` tests: the same methods, as coroutines."""

    def __init__(self, connection: ClientConnectionHandle, clients: ClientLoop) -> None:
        self._c, self._clients = connection, clients

    @property
    def connection_id(self) -> str:
        return self._c.connection_id

    @property
    def subprotocol(self) -> str | None:
        return self._c.ws.subprotocol

    async def send_text(self, text: str) -> None:
        await self._clients.run_async(self._c.send(text))

    async def send_json(self, value: Any) -> None:
        await self.send_text(json.dumps(value))

    async def recv(self, timeout: float = DEFAULT_TIMEOUT_S) -> str | bytes:
        return await self._clients.run_async(self._c.recv(timeout))

    async def recv_text(self, timeout: float = DEFAULT_TIMEOUT_S) -> str:
        return await self._clients.run_async(self._c.recv_text(timeout))

    async def recv_json(self, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
        return await self._clients.run_async(self._c.recv_json(timeout))

    async def expect_close(self, code: int | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> Closed:
        return await self._clients.run_async(self._c.expect_close(code, timeout))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._clients.run_async(self._c.close(code, reason))


class AsyncConnect:
    """What ``wsgw_connect_async(...)`` returns: ``await`` it for a client, or use
    ``async with`` to have the client closed at the block's end."""

    def __init__(self, opening: Callable[[], Coroutine[Any, Any, AsyncWsgwClient]]) -> None:
        self._opening = opening
        self._client: AsyncWsgwClient | None = None

    def __await__(self) -> Generator[Any, None, AsyncWsgwClient]:
        return self._opening().__await__()

    async def __aenter__(self) -> AsyncWsgwClient:
        self._client = await self._opening()
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()


# Older websockets (14) have no proxy support to switch off.
NO_PROXY: dict[str, Any] = {"proxy": None} if "proxy" in inspect.signature(connect.__init__).parameters else {}
