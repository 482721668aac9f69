"""What a run's report says about the booked window and the team's notifications, and sending
again, at `inv report`, the notifications a run could not deliver.

A finished run's undelivered notifications (`notify_failed` with no later `notified` for the
same id and webhook) are posted again, each as it was first made, with a few seconds in all
for the lot; each outcome is appended to that run's journal (`by: "report"`), so the report
that follows, and the next one, say what became of them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

from ..core.webhook import shown_url
from ..core.window import Window
from ..execute.notify import Post, Webhooks, post_json
from ..journal import Journal, JournalError, RunRecord, load_run
from ..journal.events import Notified, NotifyFailed, WindowCheck
from ..words import EN, Words

RESEND_WAIT = 8.0  # seconds in all that `inv report` gives the webhooks


def undelivered(record: RunRecord) -> list[NotifyFailed]:
    """The run's notifications whose latest outcome, per webhook, is a failure."""
    latest: dict[tuple[str, str], Notified | NotifyFailed] = {}
    for event in record.events:
        if isinstance(event, (Notified, NotifyFailed)):
            latest[(event.id, event.url)] = event
    return [e for e in latest.values() if isinstance(e, NotifyFailed)]


def resend(
    records: Sequence[RunRecord], *, post: Post | None = None, wait: float = RESEND_WAIT
) -> list[RunRecord]:
    """Send the undelivered notifications of each finished run again; the runs read again."""
    post = post or post_json
    deadline = time.monotonic() + wait
    again = []
    for record in records:
        failed = undelivered(record)
        if record.end is None or not failed:  # a run without an end may still be going on
            again.append(record)
            continue
        try:
            journal = Journal(record.path, existing=True)
        except JournalError:
            again.append(record)  # the report says they are undelivered; nothing to record
            continue
        try:
            hooks = Webhooks(urls=(), journal=journal, post=post, by="report")
            for event in failed:
                hooks.resend(event)
            hooks.close(deadline, EN("error.notify.left-again"))
        finally:
            journal.close()
        again.append(load_run(record.path))
    return again


def summary(record: RunRecord, words: Words = EN) -> dict[str, Any]:
    """The report's fields for the window and the notifications (the window in `words`)."""
    host = record.start.plan.get("host") or {}
    booked = None
    with contextlib.suppress(KeyError, TypeError, ValueError):
        if host.get("window"):
            booked = Window.from_json(host["window"])
    window = booked.describe(words) if booked else None
    checks = [c.to_json() for c in record.of(WindowCheck)]
    for check in checks:  # recorded in English: said again in the reader's language
        if booked is not None and check["window"] == booked.describe():
            check["window"] = window
        check["there"], check["here"] = words.again(check["there"]), words.again(check["here"])
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for event in record.events:
        if not isinstance(event, (Notified, NotifyFailed)):
            continue
        row = latest.setdefault(
            (event.id, event.url),
            {"id": event.id, "event": event.notice, "to": shown_url(event.url), "step": ""},
        )
        row.update(
            delivered=isinstance(event, Notified),
            attempts=event.attempts,
            by=event.by,
            at=event.at,
            reason=words.again(event.reason) if isinstance(event, NotifyFailed) else "",
        )
        if isinstance(event, NotifyFailed) and isinstance(event.payload.get("step"), dict):
            row["step"] = str(event.payload["step"].get("id", ""))
    rows = sorted(latest.values(), key=lambda r: _order(r["id"]))
    return {
        "window": window,
        "outside_window": record.start.outside_window,
        "clock": record.start.clock,
        "window_checks": checks,
        "notifications": rows,
        "undelivered": sum(1 for r in rows if not r["delivered"]),
    }


def _order(notification_id: str) -> tuple[int, str]:
    """Notifications in the order they were made: ids end in their number."""
    number = notification_id.rpartition("-")[2]
    return (int(number) if number.isdigit() else 0, notification_id)
