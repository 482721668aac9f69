"""One step on every host at once: each host's attempts (retries, every one recorded before it
starts), the status line while they run, and what Ctrl-C does meanwhile (the first: stop once
the step has ended, or leave an open sudo prompt at once; the second: leave now)."""

from __future__ import annotations

import contextlib
import functools
import time

from ..core.model import Outcome, Phase, PlannedStep
from ..errors import RunbookError
from ..journal.events import StepEnd, StepStart
from ..transport.base import PromptLeft
from ..words import Said
from . import show
from .concurrency import all_or_raise, guard_signals, together
from .handlers import HANDLERS
from .leaving import Flight, Flights, leave
from .state import Attempt, Run
from .ticker import Ticker


def on_every_host(runs: list[Run], work: show.Work, flights: Flights) -> list[Attempt]:
    """`work` on every host at once; a first Ctrl-C stops the run once the step has ended.

    A second Ctrl-C (or SIGTERM, SIGHUP) leaves now: the step is ended on every host where it
    runs, and recorded (see `leave`).
    """

    def stop_after_step() -> None:
        for run in runs:
            run.stopping.set()
        if leave_prompts(runs):  # the step has not started: nothing to wait for (the
            return  # prompt owns the line: `attempts` says so once it has left)
        runs[0].console.progress(runs[0].console.words("run.ctrl-c"), "yellow")
        ticker.poke()

    # Without this, Ctrl-C on one host waited silently for the remote command to end (Invoke
    # joins its output readers) and then recorded the outcome as unknown.
    ticker = Ticker(runs, flights)
    prompting = functools.partial(leave_prompts, runs)
    with guard_signals(on_first_ctrl_c=stop_after_step, leave_prompt=prompting), ticker:
        try:
            return all_or_raise(together([functools.partial(work, run) for run in runs]))
        except KeyboardInterrupt as exc:
            leave(runs, flights, exc)
            raise


def leave_prompts(runs: list[Run]) -> bool:
    """Ctrl-C: an open sudo password prompt leaves, and none opens (the credential's
    `leave_prompt`, if it has one). True if one was open."""
    left = False
    for run in runs:
        leave_prompt = getattr(run.sudo, "leave_prompt", None)
        if callable(leave_prompt) and leave_prompt():
            left = True
    return left


def attempts(run: Run, step: PlannedStep, phase: Phase, flights: Flights) -> Attempt:
    """Run a step, retrying as it says; every attempt is recorded before it starts."""
    attempts = step.retries + 1
    attempt = Attempt(Outcome.FAILED)
    for number in range(1, attempts + 1):
        started, typed = time.monotonic(), run.typing_seconds()
        where = run.local if step.local else run.transport
        flight = Flight(phase, step, number, started, where, typed)
        with flights.host(run):
            if not flights.start(run, flight):
                return Attempt(Outcome.NOT_RUN, str(Said("step.not-started-left")))
            try:
                run.record(
                    StepStart(
                        phase=phase,
                        step=step.id,
                        number=step.number,
                        attempt=number,
                        action=step.action,
                        command=run.clean(show.shown(run.filled(step))),
                    )
                )
            except BaseException:
                flights.finish(run)  # not started: nothing to end or record
                raise
        # Ctrl-C twice, SIGTERM, SIGHUP: left in flight, for leave to end and record.
        try:
            attempt = HANDLERS[step.action](run, step)
        except (RunbookError, PromptLeft) as exc:  # refused before it ran: sudo password,
            # connection gone, or the operator left at sudo's prompt
            why = exc.message if isinstance(exc, RunbookError) else str(Said("step.left-at-prompt"))
            if isinstance(exc, PromptLeft):
                exc.args = (step.id,)  # the step it left at, for the run's end
                run.say(run.console.words("run.left-at-prompt"), "yellow")
            with flights.host(run):
                if flights.finish(run):
                    with contextlib.suppress(RunbookError):
                        run.record(
                            StepEnd(
                                phase=phase,
                                step=step.id,
                                outcome=Outcome.NOT_RUN,
                                message=run.clean(why),
                                attempt=number,
                                duration=round(flight.seconds(run), 3),
                            )
                        )
            raise
        duration = round(flight.seconds(run), 3)
        result = attempt.result
        with flights.host(run):
            if not flights.finish(run):
                return attempt  # the operator left while it ran: leave recorded its end
            run.record(
                StepEnd(
                    phase=phase,
                    step=step.id,
                    attempt=number,
                    outcome=attempt.status,
                    message=run.clean(attempt.message),
                    duration=duration,
                    exit=result.exit_code if result else None,
                    stdout_tail=show.tail(run.clean(result.stdout)) if result else "",
                    stderr_tail=show.tail(run.clean(result.stderr)) if result else "",
                    detail=run.clean(attempt.detail),
                )
            )
        show.outcome(run, attempt, duration, number, attempts)
        if attempt.status != Outcome.FAILED or number == attempts or run.stopping.is_set():
            break
        if run.stopping.wait(step.delay):  # Ctrl-C while waiting to retry
            break
    return attempt
