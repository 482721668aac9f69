"""Telling the team: a JSON event at a run's start, at a failure, at rollback and at its end.

A host's `notify: [{webhook: URL}]` names where. The executor never waits for a webhook:
`Webhooks.send` queues the event and returns at once; one background thread per run posts the
events in order, each attempt with a short timeout, with a couple of retries after a pause
(a webhook that has just failed an event is tried once for the next ones). At the end of the
run `close_all` waits a few seconds in all for what is still queued, and not at all once every
webhook still owed an event has failed in this run; then it gives up. Nothing here fails a run
or changes its exit code.

Every outcome is recorded in the run's journal: `notified` when a webhook took the event,
`notify_failed` with the whole payload and the reason when it did not (or the run ended
first). `inv report` lists the undelivered ones and sends them again (`resend`), recording the
outcome in the same journal. The payload's form is published beside the inventory's:
`schema/notification.schema.json`.

Posting: urllib from the standard library, TLS verified, no proxy from the environment (a
`https_proxy` set for something else must not see the events), no redirect followed (a POST
that is redirected is not delivered).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..console import Console
from ..core.model import Phase, PlannedStep, Result
from ..journal.events import Notified, NotifyFailed, now_iso
from ..journal.store import JournalWriter
from ..words import EN
from .state import Attempt, Run

PAYLOAD_VERSION = 1
ATTEMPT_TIMEOUT = 3.0  # seconds for one post: connecting, sending, the answer
PAUSES = (0.5, 1.5)  # before the second and the third attempt
WAIT_AT_END = 5.0  # seconds, in all, a run waits at its end for what is still queued

# (url, body, timeout) -> the HTTP status; raises when the event was not taken.
Post = Callable[[str, bytes, float], int]


class NotDelivered(Exception):
    """A webhook did not take an event; the message says why, for the journal and report."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


def post_json(url: str, body: bytes, timeout: float) -> int:
    """POST `body` as JSON to `url`; the status if 2xx, else NotDelivered with the reason."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise NotDelivered(EN("error.notify.not-http"))
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),  # never a proxy from the environment
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
        _NoRedirect(),
    )
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "release-runbook"},
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise NotDelivered(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise NotDelivered(_reason(exc.reason)) from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise NotDelivered(_reason(exc)) from exc
    if not 200 <= status < 300:
        raise NotDelivered(f"HTTP {status}")
    return status


def _reason(exc: object) -> str:
    if isinstance(exc, TimeoutError):
        return EN("error.notify.timed-out")
    if isinstance(exc, ConnectionRefusedError):
        return EN("error.notify.refused")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return EN("error.notify.untrusted", why=exc.verify_message)
    if isinstance(exc, BaseException):
        return f"{exc or 'no message'} ({type(exc).__name__})"
    return str(exc)


@dataclass
class _Delivery:
    id: str
    notice: str
    url: str
    payload: Mapping[str, Any]
    attempts: int = 0
    reason: str = ""


@dataclass
class Webhooks:
    """One run's notifications: `send` queues, one background thread posts, in order.

    Attributes:
        urls: the webhooks, each told every event.
        journal: where each outcome is recorded.
        base: the fields every event of the run carries (runbook, host, run, digest, ...).
        by: "run", or "report" when `inv report` sends undelivered events again.
        undelivered: how many deliveries failed or were left when the run ended.
    """

    urls: Sequence[str]
    journal: JournalWriter
    base: Mapping[str, Any] = field(default_factory=dict)
    post: Post = post_json
    timeout: float = ATTEMPT_TIMEOUT
    pauses: Sequence[float] = PAUSES
    by: str = "run"
    undelivered: int = 0
    delivered: int = 0
    _count: int = 0
    _queue: queue.SimpleQueue[_Delivery | None] = field(default_factory=queue.SimpleQueue)
    _pending: list[_Delivery] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _down: set[str] = field(default_factory=set)  # webhooks whose last attempt failed
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _closed: bool = False

    def send(self, notice: str, **fields: Any) -> None:
        """Queue the event `notice` (start, failure, rollback, end); returns at once."""
        self._count += 1
        payload = {
            "version": PAYLOAD_VERSION,
            "id": f"{self.base.get('run', 'run')}-{self._count}",
            "event": notice,
            "at": now_iso(),
            **self.base,
            "step": None,
            "result": None,
            "message": "",
            "next": None,
            **fields,
        }
        for url in self.urls:
            self._queue_delivery(_Delivery(str(payload["id"]), notice, url, payload))

    def resend(self, failed: NotifyFailed) -> None:
        """Queue an undelivered event again, as it was first made (its id too)."""
        self._queue_delivery(_Delivery(failed.id, failed.notice, failed.url, failed.payload))

    def close(self, deadline: float, left: str = "") -> int:
        """Wait until `deadline` (time.monotonic()) for the queue; record what is left as
        undelivered (`left` says why). Returns how many deliveries failed in all."""
        left = left or EN("error.notify.left-at-end")
        self._queue.put(None)  # the worker ends once the queue is done
        with self._lock, contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stop waiting
            # Waiting is worth it only while a webhook still owed an event has not failed yet
            # in this run: one that refused or timed out already would make the run wait for
            # nothing (`inv report` sends it later).
            while self._pending and not {d.url for d in self._pending} <= self._down:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
        with self._lock:
            self._closed = True
            waiting, self._pending = self._pending, []
            for delivery in waiting:
                self._write(delivery, f"{delivery.reason}; {left}" if delivery.reason else left)
        self._stop.set()  # a worker still waiting for an answer gives up after it
        return self.undelivered

    # -- the worker ------------------------------------------------------------------------

    def _queue_delivery(self, delivery: _Delivery) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending.append(delivery)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="notify", daemon=True
                )  # daemon: a webhook that never answers must not keep the tool alive
                self._thread.start()
        self._queue.put(delivery)

    def _work(self) -> None:
        while (delivery := self._queue.get()) is not None:
            if self._stop.is_set():
                return
            self._deliver(delivery)

    def _deliver(self, delivery: _Delivery) -> None:
        body = json.dumps(delivery.payload, ensure_ascii=False).encode("utf-8")
        # A webhook that has just failed an event is tried once for the next ones: retrying
        # each event against a receiver that is down only queues them up.
        with self._lock:
            tries = 1 if delivery.url in self._down else len(self.pauses) + 1
        for attempt in range(1, tries + 1):
            if attempt > 1 and self._stop.wait(self.pauses[attempt - 2]):
                return  # the run ended: close() records it
            delivery.attempts = attempt
            try:
                status = self.post(delivery.url, body, self.timeout)
            except Exception as exc:  # whatever the network does, the run goes on
                with self._lock:
                    delivery.reason = str(exc) if isinstance(exc, NotDelivered) else _reason(exc)
                    self._down.add(delivery.url)
                    self._lock.notify_all()
                continue
            with self._lock:
                self._down.discard(delivery.url)
                self._lock.notify_all()
                if self._closed:
                    return
                self._pending.remove(delivery)
                self.delivered += 1
                with contextlib.suppress(Exception):
                    self.journal.write(
                        Notified(
                            id=delivery.id,
                            notice=delivery.notice,
                            url=delivery.url,
                            attempts=attempt,
                            status=status,
                            by=self.by,
                        )
                    )
            return
        with self._lock:
            self._lock.notify_all()
            if self._closed:
                return
            self._pending.remove(delivery)
            self._write(delivery, delivery.reason)

    def _write(self, delivery: _Delivery, reason: str) -> None:
        """Record an undelivered event (the lock is held)."""
        self.undelivered += 1
        with contextlib.suppress(Exception):  # a full disk must not fail the run here
            self.journal.write(
                NotifyFailed(
                    id=delivery.id,
                    notice=delivery.notice,
                    url=delivery.url,
                    reason=reason,
                    attempts=delivery.attempts,
                    by=self.by,
                    payload=delivery.payload,
                )
            )


def close_all(notifiers: Sequence[Webhooks], console: Console, wait: float = WAIT_AT_END) -> None:
    """At the end of a batch: wait at most `wait` seconds in all, then say what was not sent."""
    deadline = time.monotonic() + wait
    for notifier in notifiers:
        notifier.close(deadline)
    left = sum(n.undelivered for n in notifiers)
    if left:
        total = left + sum(n.delivered for n in notifiers)
        console.progress(console.words("notify.undelivered", left=left, total=total), "yellow")


# --- what each event says -----------------------------------------------------------------------


def started(run: Run) -> None:
    _tell(run, "start")


def failed(
    run: Run, phase: Phase, step: PlannedStep, attempt: Attempt, next_move: str | None
) -> None:
    """A step failed (or its outcome is unknown); `next_move`: the command that would come
    next if the run stopped here (`journal.state`, as the end's), or None."""
    _tell(
        run,
        "failure",
        step=_step(step, phase),
        result=str(attempt.status),
        message=run.clean(attempt.message),
        next=next_move,
    )


def rolling_back(run: Run, reason: str) -> None:
    _tell(run, "rollback", message=run.clean(reason))


def ended(run: Run, result: Result, message: str, next_move: str | None) -> None:
    """The run's end; `next_move`: the command that comes next (`journal.state`), or None."""
    _tell(run, "end", result=str(result), message=run.clean(message), next=next_move)


def _step(step: PlannedStep, phase: Phase) -> dict[str, Any]:
    return {"id": step.id, "number": step.number, "title": step.title, "phase": str(phase)}


def _tell(run: Run, notice: str, **fields: Any) -> None:
    if run.notifier is not None:
        run.notifier.send(notice, **fields)
