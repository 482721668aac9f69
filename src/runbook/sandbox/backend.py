"""A WebSocket backend that behaves like Rails ActionCable behind nginx (the sandbox's app).

    python -m runbook.sandbox.backend --listen 127.0.0.1:18081 --log backend.log

For every request it logs, as ActionCable does, the headers it received:

    Failed to upgrade to WebSocket (REQUEST_METHOD: GET, HTTP_CONNECTION: close, HTTP_UPGRADE: )

and answers 404 when the request is not a WebSocket upgrade (what nginx sends upstream without
`proxy_http_version 1.1` and the Upgrade/Connection headers), or

    Successfully upgraded to WebSocket (REQUEST_METHOD: GET, HTTP_CONNECTION: upgrade, HTTP_UPGRADE: websocket)

and 101 when it is; then it sends ActionCable's welcome message and echoes what it receives.
Each log line is appended and flushed at once.
"""  # noqa: E501

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import signal
import sys
from collections.abc import Sequence
from http import HTTPStatus
from pathlib import Path
from typing import TextIO

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

SUBPROTOCOLS = [Subprotocol("actioncable-v1-json"), Subprotocol("actioncable-unsupported")]


def is_upgrade(connection: str, upgrade: str) -> bool:
    """What ActionCable checks: the request asks to upgrade to websocket."""
    tokens = {t.strip().lower() for t in connection.split(",")}
    return "upgrade" in tokens and upgrade.strip().lower() == "websocket"


def log_line(method: str, connection: str, upgrade: str) -> str:
    """The line ActionCable logs for this request (without the newline)."""
    headers = f"REQUEST_METHOD: {method}, HTTP_CONNECTION: {connection}, HTTP_UPGRADE: {upgrade}"
    if is_upgrade(connection, upgrade):
        return f"Successfully upgraded to WebSocket ({headers})"
    return f"Failed to upgrade to WebSocket ({headers})"


class Backend:
    """The server's state: where it logs."""

    def __init__(self, log: TextIO) -> None:
        self.log = log

    def write(self, line: str) -> None:
        self.log.write(line + "\n")
        self.log.flush()

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        connection = request.headers.get("Connection", "")
        upgrade = request.headers.get("Upgrade", "")
        peer = conn.remote_address[0] if conn.remote_address else "-"
        now = dt.datetime.now(dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
        kind = " [WebSocket]" if is_upgrade(connection, upgrade) else ""
        self.write(f'Started GET "{request.path}"{kind} for {peer} at {now}')
        self.write(log_line("GET", connection, upgrade))
        if not is_upgrade(connection, upgrade):
            response = conn.respond(HTTPStatus.NOT_FOUND, "Page not found")
            return response
        return None  # let websockets complete the handshake (101, Sec-WebSocket-Accept)

    async def handler(self, conn: ServerConnection) -> None:
        await conn.send(json.dumps({"type": "welcome"}))
        try:
            async for message in conn:
                await conn.send(message)
        except ConnectionClosed:
            pass


async def serve_forever(host: str, port: int, log_path: Path) -> None:
    with open(log_path, "a", buffering=1, encoding="utf-8") as log:
        backend = Backend(log)
        async with serve(
            backend.handler,
            host,
            port,
            process_request=backend.process_request,
            subprotocols=SUBPROTOCOLS,
            select_subprotocol=_select_subprotocol,
        ) as server:
            stop = asyncio.get_running_loop().create_future()
            for sig in (signal.SIGTERM, signal.SIGINT):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
            await stop
            server.close()


def _select_subprotocol(
    conn: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """Accept ActionCable's subprotocols when offered; a client offering none still connects."""
    for proto in offered or ():
        if proto in SUBPROTOCOLS:
            return proto
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbook.sandbox.backend", description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:18081", help="ADDRESS:PORT")
    parser.add_argument("--log", required=True, type=Path, help="the log file (appended)")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    try:
        asyncio.run(serve_forever(host or "127.0.0.1", int(port), args.log))
    except OSError as exc:
        print(f"backend: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
