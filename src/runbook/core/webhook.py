"""A webhook URL (`notify: [{webhook: URL}]`): checked when the inventory loads, and shown
without what it may carry as its credential."""

from __future__ import annotations

from urllib.parse import urlsplit


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook (only http and https, with a host), or None."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "has a space or a control character"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "is not an http:// or https:// URL with a host"
    return None


def shown_url(url: str) -> str:
    """`url` as the console, the review and the report show it: scheme and host only. Webhook
    URLs often carry their credential in the path (a chat's incoming webhook) or before the
    host (user:password@)."""
    parts = urlsplit(url)
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{rest}"
