"""Whether a check's URL answers from this machine: a TCP connection, nothing judged."""

from __future__ import annotations

import socket
import urllib.parse

from ..words import EN

URL_TIMEOUT = 3.0  # seconds to open a TCP connection to a check's URL


def reachable(url: str, timeout: float = URL_TIMEOUT) -> str | None:
    """None when a TCP connection to the URL's host and port opens; else why not."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError as exc:
        return EN("error.url.not-a-url", error=exc)
    if not parts.hostname:
        return EN("error.url.no-host")
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except TimeoutError:
        address, seconds = f"{parts.hostname}:{port}", f"{timeout:g}"
        return EN("error.url.no-answer", address=address, seconds=seconds)
    except OSError as exc:
        address = f"{parts.hostname}:{port}"
        return EN("error.url.cannot-connect", address=address, error=exc.strerror or exc)
