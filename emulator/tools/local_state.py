"""The local state file: how ``wsgw`` commands find a running ``wsgw run-local``.

``wsgw run-local`` calls :func:`write_state` once it accepts connections and
:func:`remove_state` when it stops; the admin commands (``wsgw connections``, ``post``,
``broadcast``, ``disconnect``) and ``wsgw connect`` call :func:`live_state` to find the
gateway, its CA and its connections table without any flags. Use :func:`read_state`
only when a stale file (its process gone) should still be read, e.g. in tests.

The file is ``.wsgw/run-local.json`` in the current directory, or the path in
``$WSGW_STATE_FILE`` (both sides honour it). It is small, versioned JSON::

    {"version": 1, "pid": 4242, "ws_url": "ws://127.0.0.1:3001/dev",
     "wss_url": "wss://127.0.0.1:3001/dev", "management_url": "https://127.0.0.1:3001/dev",
     "http_management_url": "http://127.0.0.1:3001/dev",
     "ca_path": "/home/you/.local/share/wsgw/tls/ca.pem",
     "aws_endpoint_url": "http://127.0.0.1:40215", "region": "us-east-1",
     "connection_tables": ["ConnectionsTable"]}

It holds no secrets (the CA's *certificate* path only, never its key).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.model import ApiModel

if TYPE_CHECKING:
    from ..app import LocalGateway

STATE_FILE_ENV = "WSGW_STATE_FILE"
DEFAULT_STATE_FILE = Path(".wsgw") / "run-local.json"
FORMAT_VERSION = 1
_CONNECTION_KEY = "connectionId"


@dataclass(frozen=True)
class LocalState:
    """Where a running ``wsgw run-local`` listens (see the module docstring)."""

    pid: int
    ws_url: str
    wss_url: str
    management_url: str  # https; boto3 needs verify=ca_path
    http_management_url: str
    ca_path: str
    aws_endpoint_url: str | None  # the embedded moto, or run-local's --aws-endpoint-url
    region: str
    connection_tables: tuple[str, ...]


def default_state_path() -> Path:
    """``$WSGW_STATE_FILE`` if set, else ``.wsgw/run-local.json`` in the current directory."""
    return Path(os.environ.get(STATE_FILE_ENV) or DEFAULT_STATE_FILE)


def connection_tables(model: ApiModel) -> tuple[str, ...]:
    """The model's connection table names: those whose partition key is ``connectionId``,
    else the only table, else none (the admin commands then need ``--table``)."""
    keyed = tuple(t.table_name for t in model.tables if t.partition_key.name == _CONNECTION_KEY)
    if keyed:
        return keyed
    return (model.tables[0].table_name,) if len(model.tables) == 1 else ()


def state_for(gateway: LocalGateway, pid: int | None = None) -> LocalState:
    """The state of a started gateway (``pid``: the process serving it, default ours)."""
    assert gateway.tls is not None, "start() the gateway first"
    return LocalState(
        pid=os.getpid() if pid is None else pid,
        ws_url=gateway.ws_url,
        wss_url=gateway.wss_url,
        management_url=gateway.management_url,
        http_management_url=gateway.http_management_url,
        ca_path=str(gateway.tls.ca_cert.resolve()),
        aws_endpoint_url=gateway.aws_endpoint_url,
        region=gateway.model.region,
        connection_tables=connection_tables(gateway.model),
    )


def write_state(state: LocalState, path: Path | None = None) -> Path:
    """Write ``state`` atomically (readers never see half a file); returns the path.

    A ``.gitignore`` of ``*`` goes next to it when the folder is created here, so the
    file never shows up in the user's ``git status``. Raises OSError.
    """
    target = (path or default_state_path()).absolute()
    folder = target.parent
    if not folder.exists():
        folder.mkdir(parents=True)
        if folder.name == DEFAULT_STATE_FILE.parent.name:
            (folder / ".gitignore").write_text("*\n", encoding="utf-8")
    document: dict[str, Any] = {"version": FORMAT_VERSION, **asdict(state)}
    document["connection_tables"] = list(state.connection_tables)
    fd, temporary = tempfile.mkstemp(prefix=".run-local.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def read_state(path: Path | None = None) -> LocalState | None:
    """The state in the file, or None when it is missing, unreadable or not ours."""
    try:
        document = json.loads((path or default_state_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        return None
    try:
        return LocalState(
            pid=int(document["pid"]),
            ws_url=str(document["ws_url"]),
            wss_url=str(document["wss_url"]),
            management_url=str(document["management_url"]),
            http_management_url=str(document["http_management_url"]),
            ca_path=str(document["ca_path"]),
            aws_endpoint_url=None if document.get("aws_endpoint_url") is None else str(document["aws_endpoint_url"]),
            region=str(document["region"]),
            connection_tables=tuple(str(name) for name in document["connection_tables"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def live_state(path: Path | None = None) -> LocalState | None:
    """The state of a gateway that is still running: None when there is no file or
    its process has gone (a run-local killed with SIGKILL leaves a stale file)."""
    state = read_state(path)
    return state if state is not None and pid_alive(state.pid) else None


def remove_state(path: Path, pid: int | None = None) -> None:
    """Remove the file if it still describes process ``pid`` (default ours): a second
    run-local in the same folder may have replaced it, and then it stays."""
    state = read_state(path)
    if state is not None and state.pid == (os.getpid() if pid is None else pid):
        path.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without signalling)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        import ctypes
        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
        if handle:
            ctypes.windll.kernel32.CloseHandle(handle)
        return bool(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True
