"""The bundled chat app end to end, written with wsgw's own pytest plugin (the same
fixtures users get): the README's two-terminal demo and the app's table upkeep."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from emulator.core.ids import is_aws_id


def _table(wsgw_gateway: Any) -> str:
    """The connections table's local name, as the synthesized template defines it."""
    (table,) = wsgw_gateway.model.tables
    return str(table.table_name)


def _has_row(wsgw_aws: Any, wsgw_gateway: Any, connection_id: str) -> bool:
    item = wsgw_aws("dynamodb").get_item(TableName=_table(wsgw_gateway), Key={"connectionId": {"S": connection_id}})
    return "Item" in item


def test_two_terminal_demo(wsgw_connect: Any) -> None:
    terminal1, terminal2 = wsgw_connect(), wsgw_connect()
    terminal1.send_text('{"action": "whoAmI"}')
    alice = terminal1.recv_text(timeout=10)
    assert is_aws_id(alice)
    terminal2.send_json({"action": "sendMessage", "connectionId": alice, "message": "Hi! :)"})
    assert terminal1.recv_text(timeout=10) == "Hi! :)"


def test_connect_and_disconnect_keep_the_table(
    wsgw_connect: Any, wsgw_aws: Any, wsgw_gateway: Any, wsgw_invocations: Any,
) -> None:
    client = wsgw_connect()
    client.send_json({"action": "whoAmI"})
    connection_id = client.recv_text(timeout=10)
    # $connect finished before the 101, so its row exists before any message.
    item = wsgw_aws("dynamodb").get_item(TableName=_table(wsgw_gateway), Key={"connectionId": {"S": connection_id}})
    assert int(item["Item"]["ttl"]["N"]) > time.time() + 2 * 3600
    client.close()
    wsgw_invocations.wait_for(route_key="$disconnect", connection_id=connection_id)
    assert not _has_row(wsgw_aws, wsgw_gateway, connection_id)


def test_delete_connection_closes_client_and_removes_row(
    wsgw_connect: Any, wsgw_management: Any, wsgw_aws: Any, wsgw_gateway: Any, wsgw_invocations: Any,
) -> None:
    client = wsgw_connect()
    connection_id = client.connection_id
    assert _has_row(wsgw_aws, wsgw_gateway, connection_id)
    wsgw_management.delete_connection(ConnectionId=connection_id)
    assert client.expect_close(code=1000).code == 1000
    wsgw_invocations.wait_for(route_key="$disconnect", connection_id=connection_id)
    assert not _has_row(wsgw_aws, wsgw_gateway, connection_id)


def test_send_to_gone_connection_reports_error_and_prunes_row(
    wsgw_connect: Any, wsgw_aws: Any, wsgw_gateway: Any,
) -> None:
    stale = "GoneGoneGoneGoA="
    wsgw_aws("dynamodb").put_item(TableName=_table(wsgw_gateway), Item={"connectionId": {"S": stale}})
    client = wsgw_connect()
    client.send_json({"action": "sendMessage", "connectionId": stale, "message": "hello?"})
    error = client.recv_json(timeout=10)["error"]
    assert error["code"] == "Gone" and error["connectionId"] == stale
    assert not _has_row(wsgw_aws, wsgw_gateway, stale)


def test_send_message_missing_field_names_it(wsgw_connect: Any) -> None:
    client = wsgw_connect()
    client.send_json({"action": "sendMessage", "message": "to nobody"})
    error = client.recv_json(timeout=10)["error"]
    assert error["code"] == "MissingField" and error["field"] == "connectionId"
    client.send_json({"action": "sendMessage", "connectionId": "x"})
    assert client.recv_json(timeout=10)["error"]["field"] == "message"


@pytest.mark.parametrize("message", ['{"action": "dance"}', "hello", '{"no": "action"}'])
def test_default_route_answers_with_a_hint(wsgw_connect: Any, message: str) -> None:
    client = wsgw_connect()
    client.send_text(message)
    hint = json.loads(client.recv_text(timeout=10))
    assert hint["error"]["code"] == "UnknownAction"
    assert set(hint["actions"]) == {"whoAmI", "sendMessage"}
