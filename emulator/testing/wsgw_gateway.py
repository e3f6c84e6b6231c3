"""The value of the ``wsgw_gateway`` fixture, and the configuration a test asks for.

:func:`config_for` reads the command line, the ini options and the test's
``@pytest.mark.wsgw`` marker into a :class:`~emulator.testing.gateway_pool.GatewayConfig`;
:class:`WsgwGateway` is what a test holds: addresses, the model, and ``connect``.
Imported by the plugin's fixtures when a test first needs a gateway, not when pytest
loads the plugin (:mod:`emulator.testing.plugin`).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Literal, Mapping, Sequence
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from ..core.errors import WsgwError
from ..core.model import ApiModel
from ..net.tls import client_ssl_context
from ..runtime.provisioning import DepsMode
from ..template.discovery import find_app
from .clients import (
    NO_PROXY, AsyncConnect, AsyncWsgwClient, ClientConnectionHandle, ClientLoop, HandshakeRefused, WsgwClient,
    sign_upgrade,
)
from .faults import InvocationView
from .gateway_pool import GatewayConfig, RunningGateway, iam_setup

__all__ = ["WsgwGateway", "config_for"]


def config_for(request: pytest.FixtureRequest, env: Mapping[str, str]) -> tuple[GatewayConfig, bool]:
    """The gateway configuration ``request``'s test asks for, and whether it wants a
    gateway of its own (``isolated``); usage errors as :class:`pytest.UsageError`."""
    config = request.config
    template: Path | None = None
    if config.getoption("wsgw_template"):
        template = config.invocation_params.dir / config.getoption("wsgw_template")
    elif config.getini("wsgw_template"):
        template = config.rootpath / config.getini("wsgw_template")
    else:
        try:
            template = find_app(config.rootpath).path  # the app in the project, else the bundled one
        except WsgwError as exc:
            raise pytest.UsageError(f"wsgw: {exc}") from None
    stage = config.getoption("wsgw_stage") or config.getini("wsgw_stage") or None
    marker = request.node.get_closest_marker("wsgw")
    options = dict(marker.kwargs) if marker is not None else {}
    unknown = set(options) - {"isolated", "template", "stage", "env"}
    if unknown or (marker is not None and marker.args):
        pytest.fail(f"@pytest.mark.wsgw takes only isolated=, template=, stage=, env=; got {marker}", pytrace=False)
    if options.get("template"):
        template = config.rootpath / str(options["template"])
    stage = options.get("stage") or stage
    merged = {**env, **{str(k): str(v) for k, v in (options.get("env") or {}).items()}}
    try:
        credentials, identities = iam_setup(config.getini("wsgw_iam_credentials"),
                                            config.rootpath / config.getini("wsgw_iam_identities")
                                            if config.getini("wsgw_iam_identities") else None)
    except WsgwError as exc:
        raise pytest.UsageError(f"wsgw: {exc}") from None
    chosen = config.getoption("wsgw_deps") or config.getini("wsgw_deps") or "declared"
    if chosen not in ("declared", "inherit"):
        raise pytest.UsageError(f"wsgw_deps: expected declared or inherit, got {chosen!r}")
    deps: DepsMode = "inherit" if chosen == "inherit" else "declared"
    pythons = _pythons([*config.getini("wsgw_python"), *config.getoption("wsgw_python")])
    return (GatewayConfig(template, stage, tuple(sorted(merged.items())), credentials, identities,
                          deps=deps, pythons=pythons,
                          throttle=not (config.getoption("wsgw_no_throttle") or config.getini("wsgw_no_throttle"))),
            bool(options.get("isolated")))


def _pythons(lines: Sequence[str]) -> tuple[tuple[str, Path], ...]:
    """``VERSION=PATH`` lines (``--wsgw-python``, ini ``wsgw_python``) as pairs; later ones win."""
    pythons: dict[str, Path] = {}
    for line in (raw.strip() for raw in lines):
        version, sep, path = line.partition("=")
        version = version.strip().removeprefix("python")
        if not sep or not path.strip() or not re.fullmatch(r"3\.\d+", version):
            raise pytest.UsageError(f"wsgw_python: expected VERSION=PATH (3.12=/usr/bin/python3.12), got {line!r}")
        pythons[version] = Path(path.strip()).expanduser()
    return tuple(sorted(pythons.items()))


class WsgwGateway:
    """The gateway a test talks to (the value of ``wsgw_gateway``).

    Use it for addresses (``url``, ``wss_url``, ``management_url`` for boto3's
    ``apigatewaymanagementapi``, ``http_management_url``, ``ca_path``), the served
    ``model`` and ``stage``; :meth:`connect`/:meth:`connect_async` are the
    ``wsgw_connect``/``wsgw_connect_async`` fixtures.
    """

    def __init__(self, running: RunningGateway, clients: ClientLoop) -> None:
        self._running, self._clients = running, clients
        self._connections: list[ClientConnectionHandle] = []
        self.invocations: InvocationView = running.log.view()
        local = running.local
        assert local.tls is not None
        self.url, self.wss_url = local.ws_url, local.wss_url
        self.management_url, self.http_management_url = local.management_url, local.http_management_url
        self.ca_path: Path = local.tls.ca_cert
        self.model: ApiModel = local.model
        self.stage = local.model.stage
        self.aws_endpoint_url = local.aws_endpoint_url

    def connect(self, *, headers: Mapping[str, str] | None = None,
                query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
                subprotocols: Sequence[str] | None = None, secure: bool = False,
                timeout: float = 10.0, sign: bool | Literal["query"] = False,
                credentials: tuple[str, str] | None = None) -> WsgwClient:
        """Open a client (``secure``: wss:// trusting the local CA); the handshake
        waits for ``$connect``. A refusal raises :class:`HandshakeRefused`.

        ``sign`` SigV4-signs the upgrade request for an ``AWS_IAM`` ``$connect`` with
        botocore, as a real client does: ``True`` in the headers, ``"query"`` as a
        presigned URL (a browser's only way); with ``credentials`` (access key,
        secret), by default the gateway's first accepted one (``testing:testing``
        unless ``wsgw_iam_credentials`` says otherwise)."""
        url, sent = self._request(headers, query, secure, sign, credentials)
        return WsgwClient(self._clients.run(self._open(url, sent, subprotocols, secure, timeout)), self._clients)

    def connect_async(self, *, headers: Mapping[str, str] | None = None,
                      query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
                      subprotocols: Sequence[str] | None = None, secure: bool = False,
                      timeout: float = 10.0, sign: bool | Literal["query"] = False,
                      credentials: tuple[str, str] | None = None) -> AsyncConnect:
        """:meth:`connect` for async tests: ``client = await ...`` or ``async with ... as client``."""
        url, sent = self._request(headers, query, secure, sign, credentials)

        async def opening() -> AsyncWsgwClient:
            connection = await self._clients.run_async(self._open(url, sent, subprotocols, secure, timeout))
            return AsyncWsgwClient(connection, self._clients)
        return AsyncConnect(opening)

    def _request(self, headers: Mapping[str, str] | None,
                 query: Mapping[str, str] | Sequence[tuple[str, str]] | None, secure: bool,
                 sign: bool | Literal["query"], credentials: tuple[str, str] | None) -> tuple[str, dict[str, str]]:
        """The upgrade request's URL and extra headers, signed if asked."""
        url = self.wss_url if secure else self.url
        if query:
            url += "?" + urlencode(query)
        if not sign:
            return url, dict(headers or {})
        access_key, secret = credentials or next(iter(self._running.local.options.iam_credentials.items()))
        return sign_upgrade(url, headers or {}, access_key=access_key, secret_key=secret,
                            region=self.model.region, presigned=sign == "query")

    async def _open(self, url: str, headers: dict[str, str], subprotocols: Sequence[str] | None,
                    secure: bool, timeout: float) -> ClientConnectionHandle:
        assert self._running.local.tls is not None
        try:
            ws = await connect(
                url, additional_headers=headers, open_timeout=timeout,
                subprotocols=[Subprotocol(p) for p in subprotocols] if subprotocols else None,
                ssl=client_ssl_context(self._running.local.tls) if secure else None,
                compression=None, ping_interval=None, close_timeout=2, max_size=None, **NO_PROXY,
            )
        except InvalidStatus as exc:
            response = exc.response
            raise HandshakeRefused(response.status_code, response.body.decode("utf-8", "replace") if response.body
                                   else "", dict(response.headers.raw_items())) from None
        connection = ClientConnectionHandle(ws, self._running)
        self._connections.append(connection)
        return connection

    def open_connection_ids(self) -> set[str]:
        """Ids of the connections open on the gateway right now."""
        listener = self._running.local.listener
        return self._running.background.call(lambda: listener.connections.ids() if listener is not None else set())

    def worker_pids(self) -> dict[str, list[int]]:
        """PIDs of each function's live worker processes."""
        invoker = self._running.local.invoker
        return self._running.background.call(lambda: invoker.worker_pids() if invoker is not None else {})

    def _finish(self) -> None:
        """End of the test: close its clients, let the gateway go quiet, disarm."""
        async def close_all() -> None:
            for connection in self._connections:
                try:
                    await asyncio.wait_for(connection.ws.close(), 3)
                except Exception:
                    connection.ws.transport.abort()
        try:
            self._clients.run(close_all(), 10)
            self._running.settle({c.peer for c in self._connections})
        finally:
            self._running.faults.clear()
            self._running.clock.release()
            self._running.log.forget()
