"""Admin operations on a WebSocket API's open connections, local or deployed alike.

What ``wsgw connections``/``post``/``broadcast``/``disconnect`` run. The same code talks
to the local gateway and to a deployed API: boto3's ``apigatewaymanagementapi`` client
on the API's callback URL, and its ``dynamodb`` client on the connections table (the
app's own record of who is connected; the management API cannot list connections).

Pick a :class:`Target` first — :func:`local_target` (the running ``wsgw run-local``,
from :mod:`emulator.tools.local_state`: its CA, dummy credentials for the embedded moto),
:func:`endpoint_target` (any callback URL, credentials from the usual AWS chain) or
:func:`deployed_target` (the deployed stack's ``CallbackUrl``/``ConnectionsTableName``
outputs) — then call the methods of :class:`Admin`. Every failure is an
:class:`AdminError` whose message is one line for the user; :class:`GoneError` says
the connection is gone (410).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import boto3
import botocore.config
import botocore.exceptions
import botocore.session

from ..core.clock import iso8601_ms
from ..core.credentials import DUMMY_CREDENTIALS
from ..core.loopback import is_loopback_url
from ..template.cdk_cli import DEFAULT_STACK_NAME
from ..core.errors import WsgwError
from .local_state import LocalState, default_state_path, live_state

T = TypeVar("T")
NO_CREDENTIALS = "no AWS credentials: set AWS_PROFILE or run aws configure"
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")
_CONFIG: dict[str, Any] = dict(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"})


class AdminError(WsgwError):
    """An admin command failed; the message is one line meant for the user."""


class GoneError(AdminError):
    """The connection is gone (410 GoneException): closed, or never existed."""


@dataclass(frozen=True)
class Target:
    """Where the admin commands go: the callback URL and the connections table(s)."""

    endpoint_url: str  # https://{api}.execute-api.{region}.amazonaws.com/{stage}, or local
    tables: tuple[str, ...]
    region: str
    verify: str | None = None  # a CA file to trust (the local gateway's), else the defaults
    aws_endpoint_url: str | None = None  # where the table lives, when not on AWS
    dummy_credentials: bool = False  # the embedded moto and local gateway accept any
    profile: str | None = None


@dataclass(frozen=True)
class Row:
    """One row of a connections table: its table, full key and connection id."""

    table: str
    key: Mapping[str, Any]  # DynamoDB AttributeValues, as delete_item wants them
    connection_id: str


@dataclass(frozen=True)
class Connection:
    """GetConnection's answer for an open connection."""

    connection_id: str
    connected_at: datetime
    last_active_at: datetime
    source_ip: str | None


@dataclass(frozen=True)
class BroadcastResult:
    """Counts of one broadcast, and why each failed connection failed."""

    delivered: int
    gone: int
    failures: tuple[tuple[str, str], ...]  # (connection id, one-line reason)


def local_target(state: LocalState) -> Target:
    """The running local gateway: https callback URL trusting its CA, dummy
    credentials (its signatures are not verified), its model's connection tables."""
    endpoint = state.aws_endpoint_url
    return Target(
        endpoint_url=state.management_url, tables=state.connection_tables, region=state.region,
        verify=state.ca_path, aws_endpoint_url=endpoint,
        # run-local --aws-endpoint-url may point at real AWS: then the user's credentials.
        dummy_credentials=endpoint is None or is_loopback_url(endpoint),
    )


def endpoint_target(endpoint_url: str, tables: tuple[str, ...], *, region: str | None = None,
                    profile: str | None = None, ca: str | None = None,
                    aws_endpoint_url: str | None = None) -> Target:
    """Any API by its callback URL (``--endpoint-url``), with the usual credentials."""
    if not endpoint_url.startswith(("https://", "http://")):
        raise AdminError(f"--endpoint-url {endpoint_url!r}: expected an https:// callback URL")
    match = _REGION_IN_HOST.search(endpoint_url)
    region = region or (match.group(1) if match else None) or _session(profile).region_name or "us-east-1"
    return Target(endpoint_url=endpoint_url.rstrip("/"), tables=tables, region=region, verify=ca,
                  aws_endpoint_url=aws_endpoint_url, profile=profile)


@dataclass(frozen=True)
class StackOutputs:
    """The outputs of the deployed stack the admin commands need."""

    callback_url: str
    connections_table: str | None  # None: deployed before the output existed


def parse_stack_outputs(response: Mapping[str, Any], stack_name: str) -> StackOutputs:
    """``CallbackUrl`` and ``ConnectionsTableName`` from a ``describe_stacks`` response."""
    stacks = response.get("Stacks") or []
    if not stacks:
        raise AdminError(f"stack {stack_name} not found: deploy it with `wsgw deploy`")
    outputs = {item.get("OutputKey"): item.get("OutputValue") for item in stacks[0].get("Outputs") or []}
    callback = outputs.get("CallbackUrl")
    if not callback:
        raise AdminError(f"stack {stack_name} has no CallbackUrl output "
                         f"(status {stacks[0].get('StackStatus', 'unknown')}): run `wsgw deploy`")
    return StackOutputs(str(callback).rstrip("/"), outputs.get("ConnectionsTableName") or None)


def deployed_target(stack_name: str, *, profile: str | None = None, region: str | None = None) -> Target:
    """The deployed stack, from its CloudFormation outputs (needs AWS credentials)."""
    session = _session(profile, credentials=True)
    region = region or session.region_name
    if not region:
        raise AdminError("no AWS region: pass --region or set AWS_REGION")
    cloudformation: Any = session.client("cloudformation", region_name=region,
                                         config=botocore.config.Config(**_CONFIG))
    try:
        response = _aws(lambda: cloudformation.describe_stacks(StackName=stack_name), "describe_stacks")
    except AdminError as exc:
        if "does not exist" in str(exc):
            raise AdminError(f"stack {stack_name} not found in {region}: deploy it with `wsgw deploy`") from None
        raise
    outputs = parse_stack_outputs(response, stack_name)
    tables = (outputs.connections_table,) if outputs.connections_table else ()
    return Target(endpoint_url=outputs.callback_url, tables=tables, region=region, profile=profile)


def pick_target(*, endpoint_url: str | None = None, tables: tuple[str, ...] = (), aws_endpoint_url: str | None = None,
                ca: str | None = None, deployed: bool = False, stack_name: str = DEFAULT_STACK_NAME,
                profile: str | None = None, region: str | None = None,
                state_file: Path | None = None) -> Target:
    """The target the admin commands' flags name: ``--deployed``, else ``--endpoint-url``,
    else the running ``wsgw run-local`` (its state file); ``--table`` overrides the tables."""
    if deployed and endpoint_url:
        raise AdminError("--deployed and --endpoint-url: pick one")
    if deployed:
        target = deployed_target(stack_name, profile=profile, region=region)
    elif endpoint_url:
        target = endpoint_target(endpoint_url, tables, region=region, profile=profile, ca=ca,
                                 aws_endpoint_url=aws_endpoint_url)
    else:
        state = live_state(state_file)
        if state is None:
            raise AdminError(f"no running wsgw run-local found ({state_file or default_state_path()}): "
                             "start one here, or pass --endpoint-url URL or --deployed")
        target = local_target(state)
    return replace(target, tables=tables) if tables else target


def iso_utc(moment: datetime) -> str:
    """``2026-01-31T12:00:00.123Z``, as the management API sends times."""
    return iso8601_ms(int(moment.timestamp() * 1000))


class Admin:
    """The admin operations against one :class:`Target`. Use from one thread; the
    boto3 clients it makes are shared by broadcast's pool (clients are thread-safe)."""

    def __init__(self, target: Target, *, max_workers: int = 16) -> None:
        self.target = target
        self.max_workers = max_workers
        session = (_dummy_session(target.region) if target.dummy_credentials
                   else _session(target.profile, credentials=True))
        config = botocore.config.Config(max_pool_connections=max_workers, **_CONFIG)
        self._management: Any = session.client(
            "apigatewaymanagementapi", endpoint_url=target.endpoint_url, region_name=target.region,
            verify=target.verify, config=config)
        self._session = session
        self._config = config
        self._dynamodb: Any = None

    # -- management API ----------------------------------------------------------

    def post(self, connection_id: str, data: bytes) -> None:
        """PostToConnection; GoneError when the connection is gone."""
        _aws(lambda: self._management.post_to_connection(ConnectionId=connection_id, Data=data), connection_id)

    def disconnect(self, connection_id: str) -> None:
        """DeleteConnection: the server closes it (1000 locally) and runs ``$disconnect``."""
        _aws(lambda: self._management.delete_connection(ConnectionId=connection_id), connection_id)

    def describe(self, connection_id: str) -> Connection:
        """GetConnection: when it connected, when it was last active, from where."""
        answer = _aws(lambda: self._management.get_connection(ConnectionId=connection_id), connection_id)
        return Connection(connection_id, answer["ConnectedAt"], answer["LastActiveAt"],
                          (answer.get("Identity") or {}).get("SourceIp"))

    # -- the connections table ---------------------------------------------------

    def rows(self) -> list[Row]:
        """Every row of the connections table(s) (a Scan of their keys)."""
        if not self.target.tables:
            raise AdminError("no connections table known: pass --table NAME")
        found: list[Row] = []
        for table in self.target.tables:
            found += self._rows_of(table)
        return found

    def prune(self, rows: list[Row]) -> None:
        """Delete these rows (of gone connections)."""
        for row in rows:
            _aws(lambda: self._table_client().delete_item(TableName=row.table, Key=dict(row.key)), row.table)

    def connections(self) -> tuple[list[Connection], list[Row]]:
        """The table's open connections (GetConnection, concurrently) and its gone rows."""
        rows = self.rows()
        ids = sorted({row.connection_id for row in rows})
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            answers = list(pool.map(lambda cid: _outcome(lambda: self.describe(cid)), ids))
        open_: list[Connection] = []
        gone: set[str] = set()
        for cid, answer in zip(ids, answers):
            if isinstance(answer, Connection):
                open_.append(answer)
            elif isinstance(answer, GoneError):
                gone.add(cid)
            else:
                raise answer  # the same failure would repeat for every connection
        open_.sort(key=lambda connection: connection.connected_at)
        return open_, [row for row in rows if row.connection_id in gone]

    def broadcast(self, data: bytes) -> BroadcastResult:
        """Post ``data`` to every connection in the table concurrently; delete the rows
        of gone connections."""
        rows = self.rows()
        ids = sorted({row.connection_id for row in rows})
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            answers = list(pool.map(lambda cid: _outcome(lambda: self.post(cid, data)), ids))
        gone = {cid for cid, answer in zip(ids, answers) if isinstance(answer, GoneError)}
        failures = tuple((cid, str(answer)) for cid, answer in zip(ids, answers)
                         if isinstance(answer, AdminError) and cid not in gone)
        self.prune([row for row in rows if row.connection_id in gone])
        return BroadcastResult(len(ids) - len(gone) - len(failures), len(gone), failures)

    def _table_client(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = self._session.client("dynamodb", region_name=self.target.region,
                                                  endpoint_url=self.target.aws_endpoint_url, config=self._config)
        return self._dynamodb

    def _rows_of(self, table: str) -> list[Row]:
        client = self._table_client()
        schema = _aws(lambda: client.describe_table(TableName=table), table)["Table"]["KeySchema"]
        names = [item["AttributeName"] for item in sorted(schema, key=lambda item: item["KeyType"] != "HASH")]
        aliases = {f"#k{i}": name for i, name in enumerate(names)}
        pages = client.get_paginator("scan").paginate(
            TableName=table, ProjectionExpression=", ".join(aliases), ExpressionAttributeNames=aliases)
        items: list[dict[str, Any]] = _aws(lambda: [item for page in pages for item in page.get("Items", [])], table)
        return [Row(table, item, item[names[0]]["S"]) for item in items if "S" in item.get(names[0], {})]


def _session(profile: str | None, *, credentials: bool = False) -> boto3.Session:
    """A session of the usual AWS chain (``credentials``: AdminError when it has none)."""
    try:
        session = boto3.Session(profile_name=profile)
        if credentials and session.get_credentials() is None:
            raise AdminError(NO_CREDENTIALS)
        session.region_name  # noqa: B018 - reads the profile: a missing one fails here
    except botocore.exceptions.BotoCoreError as exc:
        raise AdminError(f"AWS profile problem: {exc}") from None
    return session


def _dummy_session(region: str) -> boto3.Session:
    """Dummy credentials for the local gateway and embedded moto; the user's
    AWS_PROFILE (which may name a profile that does not exist) has no say."""
    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})  # no AWS_PROFILE
    keys = DUMMY_CREDENTIALS
    return boto3.Session(botocore_session=core, region_name=region, aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
                         aws_session_token=keys["AWS_SESSION_TOKEN"])


def _outcome(call: Callable[[], T]) -> T | AdminError:
    try:
        return call()
    except AdminError as exc:
        return exc


def _aws(call: Callable[[], T], subject: str) -> T:
    """Run one AWS call; translate its failures into one-line AdminErrors."""
    try:
        return call()
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code") or "Error"
        if code in ("GoneException", "410"):
            raise GoneError(f"connection {subject} is gone (410 GoneException)") from None
        if code == "ResourceNotFoundException":
            raise AdminError(f"table {subject} not found: {error.get('Message', code)}") from None
        raise AdminError(f"{code}: {error.get('Message') or exc}") from None
    except botocore.exceptions.NoCredentialsError:
        raise AdminError(NO_CREDENTIALS) from None
    except botocore.exceptions.SSLError as exc:
        raise AdminError(f"TLS verification failed ({exc.kwargs.get('endpoint_url', '')}): "
                         "pass --ca PATH for a local CA") from None
    except botocore.exceptions.EndpointConnectionError as exc:
        raise AdminError(f"cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}: is it running?") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise AdminError(str(exc)) from None
