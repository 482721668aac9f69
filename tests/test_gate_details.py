"""What `d` at a gate shows: the step's options in words and its expectations; a manual step's
gate (`Done with ...?`) takes `d` too."""

from __future__ import annotations

import io

from runbook.core.model import Host
from runbook.execute import release, show
from runbook.gate import YES, Answer, TerminalGate
from runbook.testing import ScriptedGate

from .test_execute import MANUAL, RUN_ID, plan_of, rig

OPTIONS = """\
name: demo
steps:
  - id: migrate
    run: ./migrate
    sudo: deploy
    timeout: 30
    retries: 2
    delay: 1
    expect: {exit: [0, 2], stdout: "^ready$"}
  - id: plain
    run: echo plain
  - id: root
    run: echo root
    sudo: true
    timeout: 2.5
    expect: {exit: [0, 1, 3]}
"""


def test_details_say_the_options_in_words_and_the_expectations() -> None:
    plan = plan_of(OPTIONS, Host(name="web1", address="10.0.0.1"))
    r = rig(plan)
    migrate, plain, root = plan.steps
    text = show.details(r.run, migrate)
    assert "id migrate, run, sudo: as deploy, timeout: 30 s, retries: 2 (1 s apart)" in text
    assert "expects: exits 0 or 2; stdout matches /^ready$/" in text
    text = show.details(r.run, plain)
    assert "id plain, run, no sudo, no timeout, no retries" in text
    assert "expects: exits 0\n" in text
    text = show.details(r.run, root)
    assert "sudo: yes, timeout: 2.5 s, no retries" in text
    assert "expects: exits 0, 1 or 3" in text
    assert "True" not in text and "None" not in text


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
