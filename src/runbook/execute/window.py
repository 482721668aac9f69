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
from ..core.window import clock_text
from ..errors import STOPPED
from ..journal.events import Gate, WindowCheck
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
        state = "open" if window.contains(now) else "closed"
        run.console.progress(
            f"{run.plan.host.name}: booked window {window.describe()}, {state} now: "
            f"{clock_text(now, window.zone)} there, {clock_text(now)} on this machine"
        )
    if runs[0].outside_window:
        runs[0].console.progress(
            f"--outside-window: {runs[0].clean(runs[0].outside_window)}", "yellow"
        )


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
        there, here = clock_text(now, window.zone), clock_text(now)
        run.record(
            WindowCheck(
                phase=phase,
                step=step.id,
                window=window.describe(),
                now=now.astimezone(UTC).isoformat(timespec="seconds"),
                there=there,
                here=here,
                outcome="overridden" if reason else "closed",
                reason=run.clean(reason) if reason else None,
            )
        )
        opens = clock_text(window.next_opening(now)[0], window.zone)
        lines.append(
            f"{run.plan.host.name}'s window is {window.describe()}; it is now {there} there "
            f"({here} on this machine); it opens next {opens}"
        )
    console = runs[0].console
    if reason:
        for line in lines:
            console.progress(
                f"outside the booked window, going on (--outside-window "
                f"{runs[0].clean(reason)!r}): {line}",
                "yellow",
            )
        return
    for run in runs:
        run.record(Gate(phase=phase, step=step.id, answer=REFUSED))
    if runs[0].plan.steps[0].id == step.id:
        again = "release again within the window"
    elif len(runs) == 1:
        again = (
            "resume within the window with "
            f"`inv release --host {runs[0].plan.host.name} --from {step.id}`"
        )
    else:
        again = f"resume within the window with `inv release --from {step.id}` and the same --host"
    raise Stop(
        STOPPED,
        Result.STOPPED,
        f"step {step.number} ({step.id}) not started: outside the booked window. "
        + "; ".join(lines)
        + f'. Nothing more ran; {again}, or give --outside-window "REASON"',
        resume_at=step.id,
    )
