"""Whether a check's URL answers from this machine: a TCP connection, nothing judged."""

from __future__ import annotations

import socket
import urllib.parse

URL_TIMEOUT = 3.0  # seconds to open a TCP connection to a check's URL


def reachable(url: str, timeout: float = URL_TIMEOUT) -> str | None:
    """None when a TCP connection to the URL's host and port opens; else why not."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError as exc:
        return f"not a URL: {exc}"
    if not parts.hostname:
        return "the URL names no host"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer from {parts.hostname}:{port} within {timeout:g} s"
    except OSError as exc:
        return f"cannot connect to {parts.hostname}:{port}: {exc.strerror or exc}"
