"""The `check` action: look at the site from the operator's machine, as a user's browser would.

Each check makes one attempt and never raises for a failed check: every failure (refused,
timeout, wrong status, bad handshake, unknown host) is a `CheckResult` with `ok=False` and a
one-line summary. Retries and delays belong to the executor.

The network libraries (websockets, urllib.request: together 50 ms or more of start-up) are
imported inside the functions that use them, so `inv check` and `inv show`, which import the
executor's modules but run no check, do not pay for them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from .words import Said


@dataclass(frozen=True)
class CheckResult:
    """What one check saw.

    Attributes:
        ok: the site behaved as expected.
        summary: one line, e.g. "101 Switching Protocols, Sec-WebSocket-Accept valid" or
            "got 404 Not Found, expected 101".
        detail: a few lines for the journal and the report: status line and relevant headers.
    """

    ok: bool
    summary: str
    detail: str


def check_websocket(
    url: str, *, subprotocol: str | None = None, timeout: float = 5.0
) -> CheckResult:
    """Open a WebSocket to `url` (ws:// or wss://): ok on 101 with a valid Sec-WebSocket-Accept.

    The handshake, including the Sec-WebSocket-Accept check, is the websockets library's.
    With `subprotocol`, the server must also agree to it. Connects directly: proxy environment
    variables are ignored, so a check of a loopback or internal URL never detours via a proxy.
    """
    from websockets.exceptions import (
        InvalidHandshake,
        InvalidHeader,
        InvalidHeaderValue,
        InvalidStatus,
        InvalidURI,
        NegotiationError,
    )
    from websockets.sync.client import connect

    try:
        with connect(
            url,
            subprotocols=[subprotocol] if subprotocol else None,  # type: ignore[list-item]
            open_timeout=timeout,
            close_timeout=min(timeout, 1.0),
            proxy=None,
        ) as ws:
            response = ws.response
            assert response is not None  # set once the handshake succeeded
            detail = _detail(
                f"HTTP/1.1 {response.status_code} {response.reason_phrase}", response.headers
            )
            if subprotocol and ws.subprotocol != subprotocol:
                said = Said("step.ws-no-subprotocol", {"subprotocol": repr(subprotocol)})
                return CheckResult(False, str(said), detail)
            status = f"{response.status_code} {response.reason_phrase}"
            summary = str(Said("step.ws-valid", {"status": status}))
            if subprotocol:
                said = Said("step.ws-valid-subprotocol", {"status": status, "sub": subprotocol})
                summary = str(said)
            return CheckResult(True, summary, detail)
    except InvalidStatus as exc:
        r = exc.response
        return CheckResult(
            False,
            str(
                Said(
                    "step.http-status",
                    {
                        "got": f"{r.status_code} {_reason(r.status_code, r.reason_phrase)}",
                        "status": 101,
                    },
                )
            ),
            _detail(f"HTTP/1.1 {r.status_code} {r.reason_phrase}", r.headers, bytes(r.body or b"")),
        )
    except InvalidURI as exc:
        return CheckResult(False, f"not a WebSocket URL: {url} ({exc})", str(exc))
    except (InvalidHeaderValue, InvalidHeader) as exc:
        # e.g. a wrong Sec-WebSocket-Accept: the upgrade reached something that is no WebSocket
        return CheckResult(False, f"invalid WebSocket handshake: {exc}", _name(exc))
    except NegotiationError as exc:
        return CheckResult(False, f"WebSocket negotiation failed: {exc}", str(exc))
    except InvalidHandshake as exc:
        return CheckResult(False, f"WebSocket handshake failed: {exc}", _name(exc))
    except Exception as exc:  # a check reports; it never raises
        return _network_failure(url, exc, timeout)


def check_http(
    url: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> CheckResult:
    """GET `url`: ok when the status is `status` and each header matches its regex (re.search).

    Redirects are not followed: a 301/302 is the answer being checked (expect it with
    `status: 301` and a `Location` header regex). A missing header is a mismatch. The request
    goes straight to the host: proxy environment variables are ignored (as for websockets).
    """
    import urllib.error
    import urllib.request

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    wanted = dict(headers or {})
    try:
        patterns = {name: re.compile(rx) for name, rx in wanted.items()}
    except re.error as exc:
        return CheckResult(False, f"bad header regex: {exc}", str(exc))
    if not url.lower().startswith(("http://", "https://")):
        return CheckResult(False, f"not an HTTP URL: {url}", "the URL must start with http(s)://")
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    agent = {"User-Agent": "release-runbook"}
    request = urllib.request.Request(url, method="GET", headers=agent)  # noqa: S310 (http(s) only)
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:  # 4xx/5xx and unfollowed redirects: still an answer
        response = exc
    except ValueError as exc:
        return CheckResult(False, f"not an HTTP URL: {url} ({exc})", str(exc))
    except Exception as exc:
        return _network_failure(url, exc, timeout)
    with response:
        code = int(response.status)
        reason = response.reason or _reason(code, "")
        got = response.headers
        relevant = {name: got.get(name) for name in wanted}
        if "Location" in got and "Location" not in relevant:
            relevant["Location"] = got["Location"]
        detail = _detail(f"HTTP/1.1 {code} {reason}", relevant)
    problems = []
    if code != status:
        said = {"got": f"{code} {reason}", "status": status}
        problems.append(str(Said("step.http-status", said)))
    for name, pattern in patterns.items():
        value = got.get(name)
        if value is None:
            said = {"name": name, "pattern": pattern.pattern}
            problems.append(str(Said("step.http-no-header", said)))
        elif not pattern.search(value):
            said = {"name": name, "value": repr(value), "pattern": pattern.pattern}
            problems.append(str(Said("step.http-header-differs", said)))
    if problems:
        return CheckResult(False, "; ".join(problems), detail)
    summary = f"{code} {reason}"
    if patterns:
        matched = ", ".join(str(Said("step.http-header-matches", {"name": n})) for n in patterns)
        summary = str(Said("step.http-ok-headers", {"status": summary, "headers": matched}))
    return CheckResult(True, summary, detail)


def _network_failure(url: str, exc: BaseException, timeout: float) -> CheckResult:
    """One clear line for a connection that never produced an HTTP answer."""
    import socket
    import urllib.error

    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, (TimeoutError, socket.timeout)):
        said = Said("step.no-answer", {"url": url, "seconds": f"{timeout:g}"})
    elif isinstance(exc, ConnectionRefusedError):
        said = Said("step.refused", {"url": url})
    elif isinstance(exc, socket.gaierror):
        said = Said("step.unresolved", {"url": url, "why": exc.strerror or exc})
    elif isinstance(exc, ConnectionError):
        said = Said("step.connection-failed", {"url": url, "why": exc.strerror or exc})
    elif isinstance(exc, OSError):
        said = Said("step.unreachable", {"url": url, "why": exc.strerror or exc})
    else:
        said = Said("step.check-failed", {"url": url, "why": exc})
    return CheckResult(False, str(said), _name(exc))


def _name(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _reason(code: int, phrase: str) -> str:
    if phrase:
        return phrase
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def _detail(status_line: str, headers: Mapping[str, Any], body: bytes | None = None) -> str:
    lines = [status_line]
    for name, value in headers.items():
        if value is not None:
            lines.append(f"{name}: {value}")
    if body:
        text = body[:200].decode("utf-8", "replace").strip()
        if text:
            lines.append(f"body: {text.splitlines()[0]}")
    return "\n".join(lines)
