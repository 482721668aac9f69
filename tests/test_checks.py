"""The http and websocket checks, against small local servers on 127.0.0.1."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus

import pytest
from websockets.sync.server import serve

from runbook.checks import CheckResult, check_http, check_websocket


@pytest.fixture(scope="module")
def ws_url() -> Iterator[str]:
    """A WebSocket server: /cable upgrades (subprotocol actioncable-v1-json), anything else 404."""

    def process_request(conn, request):
        if request.path != "/cable":
            return conn.respond(HTTPStatus.NOT_FOUND, "Page not found")
        return None

    def handler(conn):
        conn.send('{"type":"welcome"}')

    def select_subprotocol(conn, offered):  # like ActionCable: none offered is fine too
        return "actioncable-v1-json" if "actioncable-v1-json" in offered else None

    server = serve(
        handler, "127.0.0.1", 0, process_request=process_request,
        subprotocols=["actioncable-v1-json"], select_subprotocol=select_subprotocol,
    )  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.socket.getsockname()
    yield f"ws://{host}:{port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/":
                self.send_response(200)
                self.send_header("X-App", "actioncable 7.1")
            elif self.path == "/old":
                self.send_response(301)
                self.send_header("Location", "/")
            else:
                self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()


def raw_server(answer: bytes | None) -> tuple[socket.socket, int]:
    """A listening socket that sends `answer` to each request, or never answers (None)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve_raw():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(answer or b"")
            # keep the connection open: the client decides

    if answer is not None:
        threading.Thread(target=serve_raw, daemon=True).start()
    return listener, listener.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- websocket --------------------------------------------------------------------------------


def test_websocket_101_with_a_valid_accept_is_ok(ws_url):
    result = check_websocket(f"{ws_url}/cable")
    assert result == CheckResult(
        True, "101 Switching Protocols, Sec-WebSocket-Accept valid", result.detail
    )
    assert result.detail.startswith("HTTP/1.1 101 Switching Protocols\n")
    assert "sec-websocket-accept:" in result.detail.lower()


def test_websocket_subprotocol_agreed_is_ok_and_refused_is_not(ws_url):
    agreed = check_websocket(f"{ws_url}/cable", subprotocol="actioncable-v1-json")
    assert agreed.ok and agreed.summary.endswith("subprotocol actioncable-v1-json")

    refused = check_websocket(f"{ws_url}/cable", subprotocol="graphql-ws")
    assert not refused.ok
    assert "graphql-ws" in refused.summary


def test_websocket_404_fails_with_the_status_in_the_summary(ws_url):
    result = check_websocket(f"{ws_url}/nope")
    assert not result.ok
    assert result.summary == "got 404 Not Found, expected 101"
    assert result.detail.startswith("HTTP/1.1 404 Not Found")
    assert "body: Page not found" in result.detail


def test_websocket_wrong_accept_header_fails():
    listener, port = raw_server(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: bm90LXRoZS1yaWdodC1hY2NlcHQ=\r\n\r\n"
    )
    with listener:
        result = check_websocket(f"ws://127.0.0.1:{port}/cable", timeout=2)
    assert not result.ok
    assert "Sec-WebSocket-Accept" in result.summary


def test_websocket_refused_port_fails_at_once():
    port = closed_port()
    started = time.monotonic()
    result = check_websocket(f"ws://127.0.0.1:{port}/cable")
    assert not result.ok
    assert result.summary == f"connection refused by ws://127.0.0.1:{port}/cable"
    assert time.monotonic() - started < 1


def test_websocket_silent_server_times_out_quickly():
    listener, port = raw_server(None)
    with listener:
        started = time.monotonic()
        result = check_websocket(f"ws://127.0.0.1:{port}/cable", timeout=0.3)
    assert not result.ok
    assert "within 0.3 s" in result.summary
    assert time.monotonic() - started < 1.5


def test_websocket_unresolvable_host_fails(monkeypatch):
    """No DNS query leaves the machine: the resolver is made to fail."""

    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    result = check_websocket("ws://cable.example.invalid/cable")
    assert not result.ok
    assert result.summary.startswith("cannot resolve the host of ws://cable.example.invalid/cable")


def test_websocket_http_url_is_refused_as_a_check_result():
    result = check_websocket("http://127.0.0.1:1/cable")
    assert not result.ok and "not a WebSocket URL" in result.summary


# -- http -------------------------------------------------------------------------------------


def test_http_status_and_header_regex_match(http_url):
    result = check_http(f"{http_url}/", headers={"X-App": r"^actioncable \d"})
    assert result.ok
    assert result.summary == "200 OK, X-App matches"
    assert result.detail == "HTTP/1.1 200 OK\nX-App: actioncable 7.1"


def test_http_wrong_status_fails(http_url):
    result = check_http(f"{http_url}/missing")
    assert not result.ok
    assert result.summary == "got 404 Not Found, expected 200"


def test_http_expected_404_is_ok(http_url):
    assert check_http(f"{http_url}/missing", status=404).ok


def test_http_header_mismatch_and_missing_header_fail(http_url):
    result = check_http(f"{http_url}/", headers={"X-App": "^rails", "X-Frame-Options": "DENY"})
    assert not result.ok
    assert "X-App: 'actioncable 7.1' does not match /^rails/" in result.summary
    assert "no X-Frame-Options header" in result.summary


def test_http_redirects_are_not_followed(http_url):
    result = check_http(f"{http_url}/old")
    assert not result.ok
    assert result.summary.startswith("got 301")
    assert "Location: /" in result.detail
    assert check_http(f"{http_url}/old", status=301, headers={"Location": "^/$"}).ok


def test_http_refused_and_timeout_fail():
    port = closed_port()
    assert check_http(f"http://127.0.0.1:{port}/").summary.startswith("connection refused")

    listener, silent = raw_server(None)
    with listener:
        started = time.monotonic()
        result = check_http(f"http://127.0.0.1:{silent}/", timeout=0.3)
    assert not result.ok and "within 0.3 s" in result.summary
    assert time.monotonic() - started < 1.5


def test_http_bad_regex_is_a_failed_check_not_an_exception(http_url):
    result = check_http(f"{http_url}/", headers={"X-App": "("})
    assert not result.ok and result.summary.startswith("bad header regex")


def test_importing_checks_opens_no_network_library():
    code = (
        "import sys, runbook.checks\n"
        "net = ('websockets', 'urllib.request', 'http.client', 'socket')\n"
        "loaded = [m for m in net if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
