"""A session channel opened ahead of the next command, so its round trip is not waited for.

Opening an SSH channel is one round trip (open, confirmation) before the command can be
asked for. On a link of 50 ms that is 50 ms per step; asked for while the command before runs,
it costs nothing. `ChannelAhead` keeps at most one such channel per connection: `take()` hands
it over (nothing has been asked on it: no exec, no data); `open_next()`, called once the
command runs on it, opens the next in a thread of its own (paramiko's `open_session` waits for
the confirmation).

What can go wrong costs only the round trip saved: a host that allows one session at a time
refuses the open made while a command runs (then no more are opened ahead on that
connection); a host that closes idle channels (OpenSSH's `ChannelTimeout`) may have closed it
(`take()` passes on a closed one; the caller opens a new channel if the command cannot start
on it); one older than `MAX_AGE` (a gate the operator took time over) is closed unused.
"""

from __future__ import annotations

import contextlib
import threading
import time

import paramiko

__all__ = ["MAX_AGE", "ChannelAhead"]

MAX_AGE = 10.0  # seconds an unused channel is trusted to be open on the host
TAKE_TIMEOUT = 30.0  # the open in its thread, and by default the wait for it


class _Opening:
    """One `open_session` in flight in a daemon thread; `channel` once it is done (or None)."""

    def __init__(self, transport: paramiko.Transport) -> None:
        self.done = threading.Event()
        self.channel: paramiko.Channel | None = None
        self.opened_at = 0.0
        self.abandoned = False  # nobody will take it: close it when it comes
        self._lock = threading.Lock()
        threading.Thread(
            target=self._open, args=(transport,), name="ssh-channel-ahead", daemon=True
        ).start()

    def _open(self, transport: paramiko.Transport) -> None:
        try:
            channel = transport.open_session(timeout=TAKE_TIMEOUT)
        except (paramiko.SSHException, OSError, EOFError):
            channel = None
        with self._lock:
            self.channel, self.opened_at = channel, time.monotonic()
            if self.abandoned and channel is not None:
                channel.close()
                self.channel = None
        self.done.set()

    def abandon(self) -> None:
        with self._lock:
            self.abandoned = True
            if self.channel is not None:
                self.channel.close()
                self.channel = None


class ChannelAhead:
    """At most one session channel opened ahead on `transport` (see the module's docstring).

    Thread-safe: `cancel()` takes one from another thread while a step runs.
    """

    def __init__(self, transport: paramiko.Transport) -> None:
        self._transport = transport
        self._opening: _Opening | None = None
        self._enabled = True
        self._lock = threading.Lock()

    def take(self, timeout: float = TAKE_TIMEOUT) -> paramiko.Channel | None:
        """The channel opened ahead (open, unused), or None; waits at most `timeout` seconds
        for one on its way (as long as opening a new one may take)."""
        with self._lock:
            opening, self._opening = self._opening, None
        return self._ready(opening, timeout) if opening is not None else None

    def open_next(self) -> None:
        """Start opening the next channel, unless one is on its way (or none may be).

        Called once a command runs on its own channel, never before: on a host that allows
        one session at a time, this open is the one refused, not the command's.
        """
        with self._lock:
            if self._enabled and self._opening is None and self._transport.is_active():
                self._opening = _Opening(self._transport)

    def close(self) -> None:
        """Close the channel opened ahead, if any, and open no more."""
        with self._lock:
            opening, self._opening = self._opening, None
            self._enabled = False
        if opening is not None:
            opening.abandon()

    def _ready(self, opening: _Opening, timeout: float) -> paramiko.Channel | None:
        if not opening.done.wait(timeout):
            opening.abandon()
            return None
        channel = opening.channel
        if channel is None:  # refused (one session at a time?) or the link is gone
            self._enabled = False
            return None
        if channel.closed or time.monotonic() - opening.opened_at > MAX_AGE:
            with contextlib.suppress(Exception):
                channel.close()
            return None
        return channel
