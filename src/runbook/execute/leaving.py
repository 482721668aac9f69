"""Leaving while steps run (a second Ctrl-C, SIGTERM, SIGHUP): the steps in flight, ended on
their hosts and recorded once.

Each attempt registers as a flight before it sends anything; leaving takes the flights from the
threads still running them, asks each host's transport to `cancel()` the command (its process
group, confirmed gone) and records how each ended: "ended on the host", or, when that cannot be
confirmed, outcome unknown with the lock kept.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..core.model import Action, Outcome, Phase, PlannedStep
from ..journal.events import StepEnd
from ..transport.base import Transport
from ..words import Said
from .concurrency import deferred_signals, together
from .state import Run


@dataclass(frozen=True)
class Flight:
    """An attempt at a step that is running on one host now."""

    phase: Phase
    step: PlannedStep
    number: int
    started: float
    transport: Transport
    typed_before: float = 0.0  # the host's time at the sudo prompt when it started

    def seconds(self, run: Run, now: float | None = None) -> float:
        """How long it has run: the time at the sudo password prompt is not the step's."""
        now = time.monotonic() if now is None else now
        return max(now - self.started - (run.typing_seconds() - self.typed_before), 0.0)


class Flights:
    """The attempts in flight, one per host, and who records how each ended.

    Normally the thread that ran the attempt records its end. When the operator leaves while
    it runs, the main thread ends it on the host and records that instead; the attempt's own
    thread, if it ever returns, records nothing more, and no host starts another attempt. A
    lock per host keeps its journal in order (an attempt's start before its end).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: dict[int, threading.RLock] = {}
        self._running: dict[int, Flight] = {}
        self.left = False  # the operator left: nothing more starts

    def host(self, run: Run) -> threading.RLock:
        """Held while `run`'s journal gets an attempt's start or end (re-entrant: the main
        thread, leaving, may have been interrupted while it held it)."""
        with self._lock:
            return self._hosts.setdefault(id(run), threading.RLock())

    def start(self, run: Run, flight: Flight) -> bool:
        """Register an attempt (its start is being recorded); False once the operator left."""
        with self._lock:
            if self.left:
                return False
            self._running[id(run)] = flight
            return True

    def finish(self, run: Run) -> bool:
        """The attempt has ended: True if the caller is the one to record it."""
        with self._lock:
            return self._running.pop(id(run), None) is not None

    def running(self, runs: list[Run]) -> list[tuple[Run, Flight]]:
        """The attempts in flight now, with their runs (for the ticker)."""
        with self._lock:
            return [(r, self._running[id(r)]) for r in runs if id(r) in self._running]

    def take(self, run: Run) -> Flight | None:
        """The operator leaves: `run`'s attempt in flight, if any, is now the caller's."""
        with self._lock:
            self.left = True
            return self._running.pop(id(run), None)


def leave(runs: list[Run], flights: Flights, exc: KeyboardInterrupt) -> None:
    """The operator leaves while steps run: end each on its host, confirm, record it.

    A step confirmed ended is recorded as failed ("ended on the host after a second Ctrl-C");
    one that cannot be confirmed (the connection is gone) as unknown: it may still be running,
    and the batch keeps that host's lock (its transport's cancel() said so).
    """
    why = str(exc) or str(Said("step.second-ctrl-c"))
    with deferred_signals():  # bounded (a few seconds): a third Ctrl-C must not skip the record
        left: list[tuple[Run, Flight]] = []
        for run in runs:
            with flights.host(run):  # after its start is recorded, not while it is written
                flight = flights.take(run)
            if flight is not None:
                left.append((run, flight))
        if not left:
            return
        steps = ", ".join(sorted({flight.step.id for _, flight in left}))
        words = runs[0].console.words
        runs[0].console.progress(words("run.leaving", why=words.again(why), steps=steps), "yellow")
        ended = together([flight.transport.cancel for _, flight in left])
        for (run, flight), gone in zip(left, ended, strict=True):
            if gone is True:
                outcome, message = Outcome.FAILED, _ended_message(flight.step, why)
                said = words("run.left-ended", step=flight.step.id, message=words.again(message))
                run.say(said, "yellow")
            else:
                outcome = Outcome.UNKNOWN
                message = str(Said("step.left-may-run", {"why": why}))
                run.say(words("run.left-may-run", step=flight.step.id), "red")
            run.record(
                StepEnd(
                    phase=flight.phase,
                    step=flight.step.id,
                    outcome=outcome,
                    message=message,
                    attempt=flight.number,
                    duration=round(flight.seconds(run), 3),
                )
            )


def _ended_message(step: PlannedStep, why: str) -> str:
    if step.action in (Action.CHECK, Action.MANUAL):
        return str(Said("step.stopped-after", {"why": why}))
    return str(Said("step.ended-here" if step.local else "step.ended-there", {"why": why}))
