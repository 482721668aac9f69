"""Everything shown is data: each path to the screen, the journal and the reports, on fakes.

A host prints what a compromised host prints (a fake gate after a carriage return, OSC 52, an
unterminated OSC, CSI clear-line, bidi controls); a journal holds what an old version or an
editor left. Nothing of it may reach the screen, the journal file or a report raw; the
console's own colour codes are the only escapes it writes. Local steps: labelled "on this
machine", always gated unless --yes, run without RUNBOOK_* in their environment.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from runbook import cli
from runbook.commands.history import history, report, run_summary
from runbook.commands.review import dry_run
from runbook.console import Console
from runbook.core.model import Outcome, Phase, Result
from runbook.errors import DONE, RefusedError
from runbook.execute import Batch, HostRun, release, run_batch
from runbook.execute.batch import journals_in
from runbook.gate import TerminalGate, YesGate
from runbook.journal.events import Backup, End, Gate, RunKind, Start, StepEnd
from runbook.journal.record import load_run
from runbook.journal.store import Journal, read_events
from runbook.options import Options
from runbook.testing import FakeTransport, ScriptedGate, fake_connect
from runbook.text import UNSAFE, visible
from runbook.transport.base import CommandResult
from runbook.transport.local import LocalTransport
from runbook.words import Words

from .test_execute import WEB1, WEB2, plan_of, rig

# What a compromised host printed: a fake gate after a carriage return, an OSC 52 clipboard
# write, CSI clear-line, bidi controls, backticks, and an OSC that never ends.
ATTACK = (
    "deploying\n"
    "\r[00:01] step 2/2 on web1: Deploy\r\n"
    "  Run this step? [y]es / [s]kip / [a]bort / [d]etails: \n"
    "\x1b]52;c;cm0gLXJmIC8=\x07clipboard\n"
    "\x1b[2K\x1b[1Ghidden \u202eevil\u202c \u2066iso\u2069\n"
    "```````` fence\n"
    "\x9b2K c1 \x1b]0;never ends"
)
SGR = re.compile(r"\x1b\[[0-9;]*m")  # the console's own colours


def raw(text: str) -> list[str]:
    """Characters that must never be there raw: UNSAFE, and a carriage return."""
    return sorted({*UNSAFE.findall(text), *("\r" * ("\r" in text))})


def on_screen(text: str) -> list[str]:
    """Like `raw`, once the console's own colour codes are taken out."""
    return raw(SGR.sub("", text))


# --- the console ---------------------------------------------------------------------------------


def test_the_console_shows_escapes_as_text_and_writes_only_its_own_colours() -> None:
    screen = io.StringIO()
    console = Console(screen, colour=True)

    console.say(ATTACK, "red")
    console.progress(ATTACK, "bold")
    console.block(ATTACK, "  │ \x1b[31m")

    shown = screen.getvalue()
    assert on_screen(shown) == []
    assert SGR.search(shown)  # colour is still there
    assert "\\x1b]52;c;cm0gLXJmIC8=\\x07clipboard" in shown
    assert "\\x1b[2K\\x1b[1Ghidden \\u202eevil\\u202c" in shown
    assert "\\r[00:01] step 2/2" in shown
    assert "  │ \\x1b[31m\\x9b2K c1 \\x1b]0;never ends" in shown


def test_a_block_breaks_lines_only_at_newlines() -> None:
    screen = io.StringIO()

    Console(screen, colour=False).block("a\rb\x0cc\u2028d\x85e\nnext\r\n", "> ")

    assert screen.getvalue() == "> a\\rb\\x0cc\\u2028d\\x85e\n> next\n"


# --- the gate ------------------------------------------------------------------------------------


def test_the_question_names_the_step_and_the_details_are_made_visible() -> None:
    out = io.StringIO()
    gate = TerminalGate(io.StringIO("d\ny\n"), out)

    answer = gate.before("  rm \x1b[2K-rf \u202e/", step="step 2/2 (deploy) on web1\x1b[8m")

    assert answer == "yes"
    shown = out.getvalue()
    assert raw(shown) == []
    assert shown.count("  Run step 2/2 (deploy) on web1\\x1b[8m? [y]es / [s]kip") == 2
    assert "  rm \\x1b[2K-rf \\u202e/\n" in shown


def test_every_question_names_its_step() -> None:
    out = io.StringIO()
    gate = TerminalGate(io.StringIO("a\na\na\n"), out)

    gate.after_failure(True, step="rollback step 1/2 (restore) on web1")
    gate.after_failure(False, step="step 3/4 (deploy) on web2")
    gate.done("", step="step 1/4 (announce) on web1")

    shown = out.getvalue()
    assert "  Rollback step 1/2 (restore) on web1 failed. [r]etry / roll[b]ack" in shown
    assert "  Step 3/4 (deploy) on web2 failed. [r]etry / [a]bort" in shown
    assert (
        "  Done with step 1/4 (announce) on web1? [y]es / [s]kip / [a]bort / [d]etails: " in shown
    )


def test_a_failed_rollback_step_does_not_say_there_is_nothing_to_roll_back() -> None:
    out = io.StringIO()
    gate = TerminalGate(io.StringIO("a\n"), out)

    gate.after_failure(False, step="rollback step 3/5 (test) on web1", rolling_back=True)

    shown = out.getvalue()
    assert "failed. [r]etry / [a]bort (the rollback stops here, the host stays as it is" in shown
    assert "nothing to roll back" not in shown


def test_a_host_name_leading_a_japanese_question_keeps_its_spelling() -> None:
    out = io.StringIO()
    gate = TerminalGate(io.StringIO("a\n"), out, words=Words("ja"))

    gate.after_failure(False, step="sandbox の手順 5/8（test）")

    assert "  sandbox の手順 5/8（test） が失敗しました。" in out.getvalue()


# --- a release on fakes --------------------------------------------------------------------------

TWO_STEPS = """\
name: demo
title: Demo
steps:
  - id: build
    run: echo build-here
  - id: deploy
    run: echo deploy-new
"""


def test_a_hosts_output_reaches_neither_screen_nor_journal_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shown live, recorded in the journal file, reported: visible everywhere."""
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(tmp_path))
    answer = CommandResult(1, ATTACK, ATTACK, 0.0)
    transport = FakeTransport(rules={"deploy-new": answer})
    screen = io.StringIO()
    gate = ScriptedGate(["yes", "yes", "abort"])
    batch = Batch(
        kind=RunKind.RELEASE,
        connect=fake_connect({"web1": transport}),
        open_journal=journals_in(tmp_path),
        console=Console(screen, colour=True),
        gate=gate,
        operator="tester\u202e",
    )

    code = run_batch(batch, [HostRun(plan_of(TWO_STEPS), "20260101T000000Z-0001")])

    assert code != DONE
    assert gate.steps == [
        "step 1/2 (build) on web1",
        "step 2/2 (deploy) on web1",
        "step 2/2 (deploy) on web1",
    ]
    shown = screen.getvalue()
    assert on_screen(shown) == []
    assert "│ \\r[00:01] step 2/2 on web1: Deploy" in shown  # behind the bar, CR visible
    (path,) = tmp_path.glob("runs/*.jsonl")
    assert raw(path.read_text()) == []
    end = [e for e in read_events(path) if isinstance(e, StepEnd)][-1]
    assert "\\x1b]52;c;cm0gLXJmIC8=\\x07clipboard" in end.stdout_tail
    assert "\\x9b2K c1 \\x1b]0;never ends" in end.stderr_tail
    markdown = report(Options(project=tmp_path), None)
    assert raw(markdown) == []
    assert "\\x1b]52;c;cm0gLXJmIC8=" in markdown


@pytest.mark.parametrize("secret", ["s3cr\x1b[8mt-value", "line-one\nline-two", "cr-part\rlf-part"])
def test_a_secret_with_a_control_character_is_still_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(tmp_path))
    plan = plan_of(
        """\
        name: demo
        title: Demo
        secrets: [token]
        steps:
          - id: notify
            run: notify {{ secrets.token }}
        """
    )
    echo = CommandResult(1, f"got {secret}\n", f"bad {visible(secret)}\n", 0.0)
    screen = io.StringIO()
    batch = Batch(
        kind=RunKind.RELEASE,
        connect=fake_connect({"web1": FakeTransport(rules={"notify": echo})}),
        open_journal=journals_in(tmp_path),
        console=Console(screen, colour=False),
        gate=ScriptedGate(["yes", "abort"]),
        operator="tester",
        secrets={"token": secret},
    )

    run_batch(batch, [HostRun(plan, "20260101T000000Z-0002")])

    (path,) = tmp_path.glob("runs/*.jsonl")
    written = {
        "screen": screen.getvalue(),
        "journal": path.read_text(),
        "report": report(Options(project=tmp_path), None),
    }
    for where, text in written.items():
        # The value, as shown or encoded, and each line of it (an error message quotes one).
        for part in {secret, visible(secret), json.dumps(secret)[1:-1], *secret.splitlines()}:
            assert part not in text, where
        assert "got ***" in text and "bad ***" in text, where


def test_a_line_of_a_secret_is_masked_unless_too_short_to_tell() -> None:
    run = rig(secrets={"token": "a\nsecond-line\r\x1b[8mthird"}).run

    assert run.clean("a cat; second-line; \\x1b[8mthird") == "a cat; ***; ***"


# --- the journal ---------------------------------------------------------------------------------


def test_the_journal_keeps_what_rollback_acts_on_exactly_and_nothing_raw(tmp_path: Path) -> None:
    command = "printf '\x1b[1m%s\x9b' \u202eok\r\n"
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write(Start(run="r", host="web1", operator="op\x1b]0;x", plan={"steps": [command]}))
    journal.write(Backup(step="b", path="/etc/a\u202e.conf", backup="/b/a\u202e.bak", sha256="0"))
    journal.write(StepEnd(phase=Phase.STEPS, step="s", outcome=Outcome.OK, stdout_tail=ATTACK))
    journal.write(End(result=Result.DONE, exit_code=0, message="done \x1b[2K"))
    journal.close()

    assert raw(path.read_text(encoding="utf-8")) == []
    start, backup, end, done = read_events(path)
    assert isinstance(start, Start) and isinstance(backup, Backup)
    assert start.plan == {"steps": [command]}  # what rollback runs: as it ran
    assert (backup.path, backup.backup) == ("/etc/a\u202e.conf", "/b/a\u202e.bak")
    assert start.operator == "op\\x1b]0;x"
    assert isinstance(end, StepEnd) and end.stdout_tail == visible(ATTACK)
    assert isinstance(done, End) and done.message == "done \\x1b[2K"


def test_a_journal_written_raw_is_shown_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older journal (or an edited one) holds escapes: history and report show them."""
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(tmp_path))
    runs = tmp_path / "runs"
    runs.mkdir()
    events = [
        {
            "event": "start",
            "at": "2026-01-01T00:00:00+00:00",
            "version": 2,
            "run": "20260101T000000Z-0003",
            "runbook": "demo\u202e",
            "host": {"name": "web1\x1b[8m"},
            "operator": "op\x1b]52;c;eA==\x07",
            "plan": {
                "title": "T\x1b[2K",
                "host": {"name": "web1", "address": "10.0.0.1"},
                "secrets": [],
                "steps": [{"id": "s", "number": 1, "title": "Step\r\x1b[2Kfake", "action": "run"}],
            },
        },
        {"event": "step_start", "phase": "steps", "step": "s", "number": 1, "attempt": 1,
         "action": "run", "command": "echo \x1b[2Khi"},
        {"event": "step_end", "phase": "steps", "step": "s", "outcome": "ok", "attempt": 1,
         "stdout_tail": ATTACK, "message": "\u2066x\u2069"},
        {"event": "end", "result": "done", "exit_code": 0, "message": "ok\x9b2K"},
    ]  # fmt: skip
    path = runs / "20260101T000000Z-0003.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))

    summary = run_summary(load_run(path))
    listed = history(Options(project=tmp_path))

    assert raw(json.dumps(summary, ensure_ascii=False, default=str)) == []
    assert summary["steps"][0]["title"] == "Step\\r\\x1b[2Kfake"
    assert raw(listed) == [] and "demo\\u202e" in listed


# --- what the CLI prints -------------------------------------------------------------------------


def test_errors_and_results_the_cli_prints_are_visible(capsys: pytest.CaptureFixture[str]) -> None:
    def refuse() -> None:
        raise RefusedError("host said \x1b]52;c;eA==\x07\r\u202e")

    with pytest.raises(Exit) as exc:
        cli.guard(refuse)
    cli.guard(lambda: "result \x1b[2K\u202e")

    assert exc.value.message == "error: host said \\x1b]52;c;eA==\\x07\\r\\u202e"
    assert capsys.readouterr().out == "result \\x1b[2K\\u202e\n"


# --- local steps ---------------------------------------------------------------------------------

LOCAL = """\
name: demo
title: Demo
steps:
  - id: build
    run: echo build-here
    local: true
    confirm: false
  - id: look
    run: echo look-there
    confirm: false
"""


def test_a_local_step_is_on_this_machine_and_asked_even_without_confirm() -> None:
    r = rig(plan_of(LOCAL))
    gate = ScriptedGate(["yes"])

    assert release([r.run], gate) == DONE

    assert gate.steps == ["step 1/2 (build) on this machine"]  # `look` has no gate
    assert "step 1/2 on this machine: build" in r.text and "on web1: build" not in r.text
    assert "step 2/2 on web1: look" in r.text
    assert [(e.step, e.answer) for e in r.journal.of(Gate)] == [
        ("build", "yes"),
        ("look", "no gate"),
    ]


def test_with_yes_a_local_step_runs_and_the_answer_is_recorded_as_yes() -> None:
    r = rig(plan_of(LOCAL))

    assert release([r.run], YesGate()) == DONE

    assert next((e.step, e.answer) for e in r.journal.of(Gate)) == ("build", "yes (--yes)")


def test_in_a_batch_a_local_step_runs_once_for_each_host_on_this_machine() -> None:
    runs = [rig(plan_of(LOCAL, host)).run for host in (WEB1, WEB2)]
    gate = ScriptedGate(["yes"])

    assert release(runs, gate) == DONE

    assert gate.steps == ["step 1/2 (build) on this machine (once for each of web1, web2)"]
    assert "this machine (for web1): id build" in gate.asked[0][1]


def test_the_dry_run_says_a_local_step_runs_on_this_machine_with_a_gate() -> None:
    text = dry_run([plan_of(LOCAL)], approve_command="inv release")

    assert "1. [build] build  (on this machine)" in text
    assert "2. [look] look  (no gate)" in text


def test_a_local_step_gets_no_runbook_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_SUDO_PASSWORD", "pw-123")
    monkeypatch.setenv("RUNBOOK_SECRET_UNDECLARED", "undeclared-456")
    monkeypatch.setenv("RUNBOOK_STATE_DIR", "/tmp/state")
    monkeypatch.setenv("SCREEN_TEST_KEPT", "kept-789")

    shown = LocalTransport().run("env").stdout

    assert "SCREEN_TEST_KEPT=kept-789" in shown  # the operator's environment otherwise
    assert "RUNBOOK_" not in shown and "pw-123" not in shown and "undeclared-456" not in shown
