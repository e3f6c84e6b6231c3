"""The bundled chat app end to end: the README's two-terminal demo, over real sockets."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from emulator.ids import is_aws_id

from conftest import RunningGateway

def _table(chat_gateway: RunningGateway) -> str:
    """The connections table's local name, as the template defines it."""
    (table,) = chat_gateway.gateway.model.tables
    return table.table_name


def _rows(chat_gateway: RunningGateway) -> set[str]:
    items = chat_gateway.dynamodb().scan(TableName=_table(chat_gateway))["Items"]
    return {item["connectionId"]["S"] for item in items}


def _wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_two_terminal_demo(chat_gateway: RunningGateway) -> None:
    with connect(chat_gateway.ws_url) as terminal1, connect(chat_gateway.ws_url) as terminal2:
        terminal1.send('{"action": "whoAmI"}')
        alice = terminal1.recv(timeout=10)
        assert is_aws_id(alice)
        terminal2.send(json.dumps({"action": "sendMessage", "connectionId": alice, "message": "Hi! :)"}))
        assert terminal1.recv(timeout=10) == "Hi! :)"


def test_connect_and_disconnect_keep_the_table(chat_gateway: RunningGateway) -> None:
    with connect(chat_gateway.ws_url) as ws:
        ws.send('{"action": "whoAmI"}')
        connection_id = ws.recv(timeout=10)
        # $connect finished before the 101, so its row exists before any message.
        item = chat_gateway.dynamodb().get_item(TableName=_table(chat_gateway), Key={"connectionId": {"S": connection_id}})["Item"]
        assert int(item["ttl"]["N"]) > time.time() + 2 * 3600
        ws.close()
        _wait_until(lambda: connection_id not in _rows(chat_gateway))


def test_delete_connection_closes_client_and_removes_row(chat_gateway: RunningGateway) -> None:
    with connect(chat_gateway.ws_url) as ws:
        ws.send('{"action": "whoAmI"}')
        connection_id = ws.recv(timeout=10)
        assert connection_id in _rows(chat_gateway)
        chat_gateway.management().delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        _wait_until(lambda: connection_id not in _rows(chat_gateway))


def test_send_to_gone_connection_reports_error_and_prunes_row(chat_gateway: RunningGateway) -> None:
    stale = "GoneGoneGoneGoA="
    chat_gateway.dynamodb().put_item(TableName=_table(chat_gateway), Item={"connectionId": {"S": stale}})
    with connect(chat_gateway.ws_url) as ws:
        ws.send(json.dumps({"action": "sendMessage", "connectionId": stale, "message": "hello?"}))
        error = json.loads(ws.recv(timeout=10))["error"]
    assert error["code"] == "Gone" and error["connectionId"] == stale
    assert stale not in _rows(chat_gateway)


def test_send_message_missing_field_names_it(chat_gateway: RunningGateway) -> None:
    with connect(chat_gateway.ws_url) as ws:
        ws.send(json.dumps({"action": "sendMessage", "message": "to nobody"}))
        error = json.loads(ws.recv(timeout=10))["error"]
        assert error["code"] == "MissingField" and error["field"] == "connectionId"
        ws.send(json.dumps({"action": "sendMessage", "connectionId": "x"}))
        assert json.loads(ws.recv(timeout=10))["error"]["field"] == "message"


@pytest.mark.parametrize("message", ['{"action": "dance"}', "hello", '{"no": "action"}'])
def test_default_route_answers_with_a_hint(chat_gateway: RunningGateway, message: str) -> None:
    with connect(chat_gateway.ws_url) as ws:
        ws.send(message)
        hint = json.loads(ws.recv(timeout=10))
    assert hint["error"]["code"] == "UnknownAction"
    assert set(hint["actions"]) == {"whoAmI", "sendMessage"}
