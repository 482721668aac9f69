"""The booked window at each gate: a release step starts only while its host's window is open.

Before every release step, and before a failed step is tried again, `check` reads the clock
once for the batch. A host whose window is closed stops the run there, as if the operator had
aborted at that gate: the journal records a `window` event and the gate's answer, and the
message names the window in its zone and the time now, there and on this machine. A release
that runs past the window's end therefore stops at its next gate. `--outside-window REASON`
lets the step go on; each such step is recorded with the reason.

Rollback steps are not held to the window: putting the old state back is always allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from ..core.model import Phase, PlannedStep, Result
from ..core.window import clock_said
from ..errors import STOPPED
from ..journal.events import Gate, WindowCheck
from ..words import Said
from .state import Run, Stop

REFUSED = "refused: outside the booked window"


def announce(runs: Sequence[Run]) -> None:
    """At the start of a run: each host's window, open or closed now, and any override."""
    if not any(r.plan.host.window for r in runs) and not runs[0].outside_window:
        return
    now = runs[0].clock()
    for run in runs:
        window = run.plan.host.window
        if window is None:
            continue
        words = run.console.words
        said = {"host": run.plan.host.name, "window": window.said()}
        there, here = clock_said(now, window.zone), clock_said(now)
        key = "window.open" if window.contains(now) else "window.closed"
        run.console.progress(words(key, **said, there=there, here=here))
    if runs[0].outside_window:
        reason = runs[0].clean(runs[0].outside_window)
        runs[0].console.progress(runs[0].console.words("window.override", reason=reason), "yellow")


def check(runs: Sequence[Run], phase: Phase, step: PlannedStep) -> None:
    """Stop the run before `step` if a host's window is closed (unless --outside-window)."""
    timed = [r for r in runs if r.plan.host.window is not None]
    if phase is not Phase.STEPS or not timed:
        return
    now = runs[0].clock()
    closed = [r for r in timed if r.plan.host.window and not r.plan.host.window.contains(now)]
    if not closed:
        return
    reason = runs[0].outside_window
    lines = []
    for run in closed:
        window = run.plan.host.window
        assert window is not None  # closed hosts have a window
        there, here = clock_said(now, window.zone), clock_said(now)
        run.record(
            WindowCheck(
                phase=phase,
                step=step.id,
                window=window.describe(),
                now=now.astimezone(UTC).isoformat(timespec="seconds"),
                there=str(there),
                here=str(here),
                outcome="overridden" if reason else "closed",
                reason=run.clean(reason) if reason else None,
            )
        )
        opens = clock_said(window.next_opening(now)[0], window.zone)
        where = {"host": run.plan.host.name, "window": window.said(), "opens": opens}
        lines.append(Said("window.line", {**where, "there": there, "here": here}))
    console = runs[0].console
    if reason:
        for line in lines:
            quoted = repr(runs[0].clean(reason))
            console.progress(console.words("window.going-on", reason=quoted, line=line), "yellow")
        return
    for run in runs:
        run.record(Gate(phase=phase, step=step.id, answer=REFUSED))
    if runs[0].plan.steps[0].id == step.id:
        again = Said("window.again")
    else:  # the next lines print the command, with every option the run was given
        again = Said("window.resume-at", {"step": step.id})
    at: dict[str, object] = {"number": step.number, "step": step.id, "again": again}
    if len(lines) == 1:
        message = Said("end.outside-window", {**at, "lines": lines[0]})
    else:  # several hosts: their lines joined (said in English in the report)
        message = Said("end.outside-window", {**at, "lines": "; ".join(map(str, lines))})
    raise Stop(STOPPED, Result.STOPPED, message, resume_at=step.id)
