"""While a step runs: a status line on the terminal that says it is alive, and after a first
Ctrl-C, how long the tool may still wait for it and what a second Ctrl-C does.

Quiet steps (a restart, a migration) printed nothing for minutes, and after one Ctrl-C the
operator could not tell whether the tool was waiting or stuck. The ticker is a thread that,
once a second, shows the step's elapsed time in place (`Console.status`) after a few seconds
without output; any real line erases it first. After the first Ctrl-C it shows at once the
time left before the step's own timeout ends it (the tool never ends a step on its own after
one Ctrl-C: a half-done migration is worse than a late stop), or that it has none, and that a
second Ctrl-C ends it on the host now. Nothing extra is written when the output is not a
terminal.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

from ..words import EN, Words
from .leaving import Flights
from .state import Run

QUIET = 3.0  # seconds without output before the elapsed time shows
EVERY = 1.0  # seconds between updates


class Ticker:
    """The status line of the steps in flight of one `attempts.on_every_host` call (a context)."""

    def __init__(self, runs: list[Run], flights: Flights) -> None:
        self.runs = runs
        self.flights = flights
        self.console = runs[0].console
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Ticker:
        if self.console.live:
            self._thread = threading.Thread(target=self._loop, name="ticker", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * EVERY)
        self.console.clear_status()

    def poke(self) -> None:
        """Show the line now (after Ctrl-C), not at the next tick."""
        if self._thread is not None:
            self.show()

    def _loop(self) -> None:
        while not self._done.wait(EVERY):
            self.show()

    def show(self) -> None:
        if self._done.is_set():
            return
        text = self.line(time.monotonic())
        if text:
            # The sudo password prompt owns the line while it is open (it clears the status
            # line first, with the console's lock held: `SudoPassword(before_prompt=...)`).
            self.console.status(text, unless=self._prompting)

    def _prompting(self) -> bool:
        return any(_prompting(r) for r in self.runs)

    def line(self, now: float) -> str | None:
        """The status line at `now`, or None: nothing to show (yet)."""
        flying = self.flights.running(self.runs)
        if not flying:
            return None
        stopping = any(r.stopping.is_set() for r in self.runs)
        elapsed = max(flight.seconds(run, now) for run, flight in flying)
        quiet = now - self.console.last_output
        if not stopping and (elapsed < QUIET or quiet < QUIET):
            return None
        step = flying[0][1].step
        words = self.console.words
        # A local step runs on this machine: its own entries (`.here`), the Japanese joining
        # この端末 to the words after it.
        here = ".here" if step.local else ""
        where = ", ".join(r.plan.host.name for r, _ in flying)
        if not stopping:
            return words(
                f"tick.running{here}",
                step=step.id,
                where=where,
                elapsed=clock(elapsed, words),
                quiet=clock(quiet, words),
            )
        if step.timeout:
            left = max(step.timeout - elapsed, 0.0)
            limit = words("tick.timeout-left", left=clock(left, words))
        else:
            limit = words("tick.no-timeout")
        said = words(
            f"tick.stopping{here}", step=step.id, where=where, elapsed=clock(elapsed, words)
        )
        return f"{said}; {limit}; {words('tick.again')}"


def clock(seconds: float, words: Words = EN) -> str:
    """12 s, 4 min 05 s, 1 h 02 min (in the console's language)."""
    whole = int(seconds)
    if whole < 60:
        return words("tick.seconds", s=whole)
    if whole < 3600:
        return words("tick.minutes", m=whole // 60, s=f"{whole % 60:02d}")
    return words("tick.hours", h=whole // 3600, m=f"{whole % 3600 // 60:02d}")


def _prompting(run: Run) -> bool:
    prompting = getattr(run.sudo, "prompting", None)
    return bool(prompting()) if callable(prompting) else False
