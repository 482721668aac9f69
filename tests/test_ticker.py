"""Waiting, told: the status line of a quiet step, the countdown after Ctrl-C, Ctrl-C at the
sudo password prompt, and the time at that prompt kept out of the step's duration (fakes)."""

from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path

import pexpect

from runbook.console import Console
from runbook.core.model import Host, Outcome, Phase, Result
from runbook.errors import STOPPED
from runbook.execute import release
from runbook.execute.leaving import Flight, Flights
from runbook.execute.steps import _leave_prompts
from runbook.execute.steps import _record as record_of
from runbook.execute.ticker import QUIET, Ticker, clock
from runbook.gate import YesGate
from runbook.journal.events import End, RunKind, StepEnd
from runbook.journal.state import host_state
from runbook.testing import FakeTransport
from runbook.transport.base import PromptLeft
from tests.test_execute import plan_of, rig

SUDO_RUNBOOK = """\
name: demo
title: Demo release
steps:
  - id: look
    run: echo look-around
  - id: deploy
    run: echo deploy-new
    sudo: true
    timeout: 120
"""


SUDOER = Host(name="web1", address="10.0.0.1")  # sudo steps run under sudo


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Typist:
    """A sudo credential at a terminal: each password() is `seconds` of typing, or Ctrl-C."""

    def __init__(self, seconds: float = 0.0, *, leave: bool = False) -> None:
        self.seconds, self.leave = seconds, leave
        self.typed = 0.0
        self.open = False
        self.left = threading.Event()

    def password(self) -> str:
        self.typed += self.seconds
        if self.leave:
            raise PromptLeft
        return "pw"

    def forget(self) -> bool:
        return False

    def given(self) -> tuple[str, ...]:
        return ("pw",)

    def typing_seconds(self) -> float:
        return self.typed

    def prompting(self) -> bool:
        return self.open

    def leave_prompt(self) -> bool:
        self.left.set()
        return self.open


def test_a_status_line_is_shown_in_place_on_a_terminal_and_erased_before_a_line() -> None:
    screen = Terminal()
    console = Console(screen, colour=False)
    console.status("deploy on web1: running for 14 s")
    console.status("deploy on web1: running for 5 s")  # shorter: the rest is overwritten
    console.say("output")
    console.clear_status()  # nothing shown: nothing erased
    first, second, erase = screen.getvalue().split("\r")[1:4]
    assert first == "[00:00] deploy on web1: running for 14 s"
    assert second == "[00:00] deploy on web1: running for 5 s "
    assert erase == " " * len(second.rstrip())  # its padding is blank already
    assert screen.getvalue().endswith("\routput\n")
    assert "\x1b" not in screen.getvalue()


def test_the_status_line_is_not_shown_while_the_prompt_owns_the_line() -> None:
    screen = Terminal()
    console = Console(screen, colour=False)
    console.status("deploy on web1: running for 4 s", unless=lambda: True)
    assert screen.getvalue() == ""


def test_no_status_line_when_the_output_is_not_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(screen, colour=False)
    console.status("deploy on web1: running for 4 s")
    console.say("output")
    assert screen.getvalue() == "output\n"


def test_a_status_line_is_cut_to_the_terminal_width_counting_wide_characters() -> None:
    screen = Terminal()
    console = Console(screen, colour=False)
    console.status("デプロイ" * 100)  # not a real terminal: 80 columns assumed
    shown = screen.getvalue().removeprefix("\r")
    assert shown.endswith("…") and len(shown) < 50


def _flying(*, timeout: float | None = None, stopping: bool = False) -> tuple[Ticker, float]:
    """A ticker over one run whose deploy step started at 100.0 (monotonic)."""
    plan = plan_of(SUDO_RUNBOOK.replace("timeout: 120", f"timeout: {timeout or 120}"))
    if timeout is None:
        plan = plan_of(SUDO_RUNBOOK.replace("    timeout: 120\n", ""))
    box = rig(plan, sudo=Typist())
    flights = Flights()
    step = plan.steps[1]
    flights.start(box.run, Flight(Phase.STEPS, step, 1, 100.0, box.transport))
    if stopping:
        box.run.stopping.set()
    box.run.console.last_output = 100.0
    return Ticker([box.run], flights), 100.0


def test_the_ticker_waits_for_a_few_quiet_seconds_then_says_how_long() -> None:
    ticker, start = _flying()
    assert ticker.line(start + QUIET - 1) is None
    assert ticker.line(start + 75) == (
        "deploy on web1: running for 1 min 15 s, no output for 1 min 15 s"
    )
    ticker.console.last_output = start + 74
    assert ticker.line(start + 75) is None  # output a second ago: it is not quiet


def test_after_ctrl_c_the_ticker_counts_down_the_steps_timeout_at_once() -> None:
    ticker, start = _flying(timeout=120, stopping=True)
    line = ticker.line(start + 1)
    assert line == (
        "deploy on web1: running for 1 s; Ctrl-C: stopping once it has ended; its timeout "
        "ends it in 1 min 59 s at the latest; Ctrl-C again ends it on the host now"
    )


def test_after_ctrl_c_a_step_without_timeout_says_so() -> None:
    ticker, start = _flying(stopping=True)
    line = ticker.line(start + 5)
    assert line is not None and "it has no timeout; Ctrl-C again ends it on the host now" in line


def test_clock_words() -> None:
    assert [clock(s) for s in (0, 59.9, 60, 3599, 3600, 7322)] == [
        "0 s",
        "59 s",
        "1 min 00 s",
        "59 min 59 s",
        "1 h 00 min",
        "2 h 02 min",
    ]


def test_ctrl_c_at_the_sudo_prompt_records_the_step_as_not_started_and_resumes_there() -> None:
    typist = Typist(leave=True)
    plan = plan_of(SUDO_RUNBOOK, SUDOER)
    box = rig(plan, FakeTransport(sudo_asks=typist, sudo_password="pw"), sudo=typist)

    code = release([box.run], YesGate())

    assert code == STOPPED
    ends = {e.step: e for e in box.journal.of(StepEnd)}
    assert ends["look"].outcome is Outcome.OK
    deploy = ends["deploy"]
    assert deploy.outcome is Outcome.NOT_RUN
    assert deploy.message == "not started: the operator left at the sudo password prompt (Ctrl-C)"
    (end,) = box.journal.of(End)
    assert end.result is Result.INTERRUPTED
    assert "at the sudo password prompt of step deploy" in end.message
    state = host_state(record_of(box.run, RunKind.RELEASE))
    assert state.resume_at == "deploy" and not state.may_run and not state.lock_held
    assert "deploy" not in box.transport.scripts()[-1]


def test_the_time_typing_the_sudo_password_is_not_the_steps() -> None:
    typist = Typist(seconds=1000.0)
    plan = plan_of(SUDO_RUNBOOK, SUDOER)
    box = rig(plan, FakeTransport(sudo_asks=typist, sudo_password="pw"), sudo=typist)

    release([box.run], YesGate())

    (deploy,) = [e for e in box.journal.of(StepEnd) if e.step == "deploy"]
    assert deploy.outcome is Outcome.OK
    assert deploy.duration < 500  # the 1000 s of typing are not in it


def test_ctrl_c_leaves_an_open_prompt_and_says_the_step_has_not_started() -> None:
    """The first Ctrl-C while the prompt is open: the credential is told to leave it."""
    typist = Typist()
    typist.open = True
    plan = plan_of(SUDO_RUNBOOK, SUDOER)
    box = rig(plan, sudo=typist)

    assert _leave_prompts([box.run]) is True
    assert typist.left.is_set()


# The prompt itself, on a real terminal, asked from a worker thread as a host of a batch asks.
PROMPT_SCRIPT = """\
import signal, sys, termios, threading
from runbook.commands.credentials import SudoPassword
from runbook.transport.base import PromptLeft
sudo = SudoPassword(interactive=True)
signal.signal(signal.SIGINT, lambda *_: print("left:", sudo.leave_prompt(), flush=True))
out = {}
def ask():
    try:
        out["pw"] = sudo.for_host("web1").password()
    except PromptLeft:
        out["left"] = True
worker = threading.Thread(target=ask)
worker.start()
worker.join()
echo = bool(termios.tcgetattr(sys.stdin.fileno())[3] & termios.ECHO)
print("result:", out, "echo:", echo, flush=True)
"""


def _prompt_child() -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable, ["-c", PROMPT_SCRIPT], encoding="utf-8", timeout=20, env=_env()
    )
    child.expect("web1: sudo password: ")
    return child


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_SUDO_PASSWORD")}
    return {**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}


def test_ctrl_c_at_a_prompt_in_a_worker_thread_leaves_it_and_gives_the_echo_back() -> None:
    child = _prompt_child()

    child.sendintr()

    child.expect("left: True")
    child.expect(r"result: \{'left': True\} echo: True")
    child.expect(pexpect.EOF)


def test_the_password_typed_at_the_prompt_is_read_without_echo() -> None:
    child = _prompt_child()

    child.sendline("s3cret-typed")

    child.expect(r"result: \{'pw': 's3cret-typed'\} echo: True")
    assert "s3cret-typed" not in (child.before or "").split("result:")[0]
    child.expect(pexpect.EOF)
