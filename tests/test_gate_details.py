"""What `d` at a gate shows: the step's options in words and its expectations; a manual step's
gate (`Done with ...?`) takes `d` too."""

from __future__ import annotations

import io

from runbook.execute import release
from runbook.gate import YES, Answer, TerminalGate
from runbook.testing import ScriptedGate

from .test_execute import MANUAL, RUN_ID, plan_of, rig


def test_the_manual_gate_accepts_d_and_shows_the_details() -> None:
    screen = io.StringIO()
    gate = TerminalGate(stdin=io.StringIO("d\ndetails\ny\n"), stdout=screen)
    assert gate.done("Tell the team", step="step 1/3 (announce) on web1", details="DETAILS") == YES
    out = screen.getvalue()
    assert "[d]etails" in out
    assert out.count("DETAILS") == 2
    assert "please answer" not in out
    # without details: the text of the step
    screen = io.StringIO()
    gate = TerminalGate(stdin=io.StringIO("d\ny\n"), stdout=screen)
    assert gate.done("Tell the team", step="step 1/3 (announce) on web1") == YES
    assert "Tell the team" in screen.getvalue()


def test_a_manual_step_hands_its_details_to_the_gate() -> None:
    shown: list[str | None] = []

    class Recording(ScriptedGate):
        def done(self, text: str, *, step: str, details: str | None = None) -> Answer:
            shown.append(details)
            return super().done(text, step=step, details=details)

    r = rig(plan_of(MANUAL))
    release([r.run], Recording(["yes", "yes"]))
    assert shown[0] is not None
    assert "id announce, manual" in shown[0]
    assert f"Tell the team run {RUN_ID} starts" in shown[0]
