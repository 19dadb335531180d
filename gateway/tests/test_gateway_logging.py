"""The gateway's logs leave out callers' addresses."""

from __future__ import annotations

import logging

from shanzhi_gateway.__main__ import WithoutClientAddresses


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, args, None)


def test_websocket_connection_lines_with_client_addresses_are_dropped() -> None:
    keep = WithoutClientAddresses()
    assert not keep.filter(record('%s - "WebSocket %s" [accepted]', "10.1.2.3:5555", "/graphql"))
    assert keep.filter(record("connection open"))
    assert keep.filter(record("Started server process [%d]", 42))
