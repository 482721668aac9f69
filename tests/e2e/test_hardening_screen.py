"""Everything shown is data, end to end: a compromised host and a hostile journal at the screen.

The host's step prints what would take over the operator's terminal: a fake gate after a
carriage return, OSC 52 (write the clipboard), CSI clear-line, bidi controls, a C1 CSI, a
line of backticks and an OSC that never ends. The release runs on a real pseudo-terminal;
every character it printed there, the journal file and `inv report` are searched for any of
it raw. Local steps: "on this machine" at the gate, asked even with `confirm: false`, and run
without RUNBOOK_* variables. Secrets with control characters: masked everywhere.
"""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook.text import UNSAFE

from .test_release_support import Project, events_of, expect_exit, release_project

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

RUN_ID = r"run (\d{8}T\d{6}Z-[0-9a-f]{4})"

# Shell `printf` formats (octal escapes in the runbook's text, raw bytes on the host's output).
HOSTILE_OUTPUT = [
    r"deploying\n",
    # A fake gate: back to column 0, the tool's progress line and question, in both wordings.
    r"\r[00:01] step 2/2 on sandbox: Deploy (id deploy)\r\n",
    r"  Run this step? [y]es / [s]kip / [a]bort / [d]etails: \r\n",
    r"  Run step 2/2 (deploy) on sandbox? [y]es / [s]kip / [a]bort / [d]etails: \n",
    r"\033]52;c;cm0gLXJmIH4=\007clipboard\n",  # OSC 52: `rm -rf ~` into the clipboard
    r"\033[2K\033[1Ghidden \342\200\256evil\342\200\254 \342\201\246iso\342\201\251\n",
    r"````````\n",
    r"\302\2332K c1 csi\n",  # U+009B, CSI as one C1 character
    r"\033]0;never ends",  # OSC with no terminator: everything after would be a title
]


def _runbook(project: Project, name: str, data: dict[str, Any]) -> None:
    runbooks = project.dir / "runbooks"
    for old in runbooks.glob("*.yaml"):
        old.unlink()
    (runbooks / f"{name}.yaml").write_text(
        yaml.safe_dump({"name": name, **data}, sort_keys=False, allow_unicode=True, width=10_000)
    )


def _raw(text: str) -> list[str]:
    """What must never be there: UNSAFE characters, a carriage return among them unless it is
    part of the "\\r\\n" a terminal writes for every newline."""
    return sorted(set(UNSAFE.findall(text.replace("\r\n", "\n"))))


def test_a_hosts_output_cannot_take_over_the_terminal_or_forge_the_gate(
    release_project: Project,
) -> None:
    project = release_project
    _runbook(
        project,
        "screen",
        {
            "title": "Screen probe",
            "steps": [
                {
                    "id": "talk",
                    "title": "Talk",
                    "run": "\n".join(f"printf '{part}'" for part in HOSTILE_OUTPUT),
                },
                {"id": "deploy", "title": "Deploy", "run": "echo deployed"},
            ],
        },
    )
    child = project.spawn("release", "--host", "sandbox")  # NO_COLOR: no escape of its own
    screen = io.StringIO()
    child.logfile_read = screen
    child.expect(RUN_ID)
    child.expect(r"\r\n  Run step 1/2 \(talk\) on sandbox\? \[y\]es")
    child.sendline("y")
    # The real question: at the start of a line, naming the step. The host's copy of it is
    # behind the output bar, so this cannot match it.
    child.expect(r"\r\n  Run step 2/2 \(deploy\) on sandbox\? \[y\]es / \[s\]kip / \[a\]bort")
    child.sendline("y")
    code, _ = expect_exit(child)

    shown = screen.getvalue()
    assert code == 0, shown
    assert _raw(shown) == [], shown
    assert "\x1b" not in shown  # not even the console's colours: NO_COLOR
    assert "│ \\r[00:01] step 2/2 on sandbox: Deploy (id deploy)" in shown
    assert "│   Run step 2/2 (deploy) on sandbox? [y]es" in shown  # the copy, behind the bar
    assert "│ \\x1b]52;c;cm0gLXJmIH4=\\x07clipboard" in shown
    assert "│ \\x1b[2K\\x1b[1Ghidden \\u202eevil\\u202c \\u2066iso\\u2069" in shown
    assert "│ \\x9b2K c1 csi" in shown
    assert "│ \\x1b]0;never ends" in shown
    assert "step 2/2 on sandbox: Deploy" in shown
    assert "release done (no check step verified it)" in shown

    journal = project.journals()[-1]
    written = journal.read_text(encoding="utf-8")
    assert _raw(written) == [] and "\\u001b" not in written  # not even as a JSON escape
    talked = events_of(project, "step_end", journal)[0]
    assert "\\x1b]52;c;cm0gLXJmIH4=\\x07clipboard" in talked["stdout_tail"]
    assert "\\r[00:01] step 2/2" in talked["stdout_tail"]

    report = project.inv("report")
    assert report.returncode == 0, report.stderr
    assert _raw(report.stdout + report.stderr) == []
    assert "\\x1b]52;c;cm0gLXJmIH4=" in report.stdout and "\\u202eevil" in report.stdout


def test_a_journal_with_escapes_is_shown_as_text(release_project: Project) -> None:
    """A runbook cannot carry escapes any more; a journal written before (or edited) can."""
    project = release_project
    runs = project.state / "runs"
    runs.mkdir(parents=True, mode=0o700)
    run_id = "20260101T000000Z-00aa"
    hidden = "\x1b[2K\x1b[1Gecho harmless \u202e"
    step = {"id": "s", "number": 1, "title": "Step\r\x1b]0;title\x07", "action": "run"}
    events = [
        {
            "event": "start",
            "version": 2,
            "run": run_id,
            "runbook": "old\u2066",
            "host": {"name": "sandbox"},
            "operator": "op",
            "plan": {"title": "Old", "host": {"name": "sandbox"}, "secrets": [], "steps": [step]},
        },
        {"event": "step_start", "phase": "steps", "step": "s", "number": 1, "attempt": 1,
         "action": "run", "command": f"rm -rf /{hidden}"},
        {"event": "step_end", "phase": "steps", "step": "s", "outcome": "ok", "attempt": 1,
         "stdout_tail": "\x1b]52;c;eA==\x07", "message": "ok\x9b2K"},
        {"event": "end", "result": "done", "exit_code": 0, "message": "done\r"},
    ]  # fmt: skip
    path = runs / f"{run_id}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    path.chmod(0o600)

    for lang in ("en", "ja"):
        report = project.inv("report", "--run", run_id, "--lang", lang)
        assert report.returncode == 0, report.stderr
        assert _raw(report.stdout) == [], report.stdout
        assert "rm -rf /\\x1b[2K\\x1b[1Gecho harmless \\u202e" in report.stdout
    listed = project.inv("history")
    assert listed.returncode == 0, listed.stderr
    assert _raw(listed.stdout) == [] and "old\\u2066" in listed.stdout


def test_a_local_step_is_on_this_machine_asked_and_gets_no_runbook_variable(
    release_project: Project, tmp_path: Path
) -> None:
    project = release_project
    seen = tmp_path / "local-env"
    undeclared = f"undeclared-{secrets.token_hex(8)}"
    _runbook(
        project,
        "local",
        {
            "title": "Local probe",
            "vars": {"seen": str(seen)},
            "steps": [
                {
                    "id": "env",
                    "title": "Read the environment",
                    "local": True,
                    "confirm": False,  # a local step is asked all the same
                    "run": "env | sort > {{ seen }}\nenv | grep RUNBOOK_ || echo no RUNBOOK_ here",
                },
                {"id": "there", "title": "On the host", "run": "echo there", "confirm": False},
            ],
        },
    )
    child = project.spawn(
        "release", "--host", "sandbox", env={"RUNBOOK_SECRET_UNDECLARED": undeclared}
    )
    screen = io.StringIO()
    child.logfile_read = screen
    child.expect(r"step 1/2 on this machine: Read the environment \(id env\)")
    child.expect(r"\r\n  Run step 1/2 \(env\) on this machine\? \[y\]es")
    child.sendline("y")
    code, _ = expect_exit(child)

    shown = screen.getvalue()
    assert code == 0, shown
    assert "on sandbox: Read the environment" not in shown
    assert "step 2/2 on sandbox: On the host" in shown
    assert "Run step 2/2" not in shown  # a remote step with confirm: false has no gate
    environment = seen.read_text()
    assert "HOME=" in environment and "PATH=" in environment  # the operator's, otherwise
    assert "RUNBOOK_" not in environment
    assert "│ no RUNBOOK_ here" in shown
    assert undeclared not in environment and project.env["RUNBOOK_SUDO_PASSWORD"] not in environment
    gates = {e["step"]: e["answer"] for e in events_of(project, "gate")}
    assert gates == {"env": "yes", "there": "no gate"}


def test_the_dry_run_says_a_local_step_runs_on_this_machine(release_project: Project) -> None:
    project = release_project
    _runbook(
        project,
        "local",
        {"steps": [{"id": "build", "local": True, "confirm": False, "run": "echo build"}]},
    )

    result = project.inv("release", "--host", "sandbox", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "1. [build] build  (on this machine)" in result.stdout


@pytest.mark.parametrize("shape", ["escape", "newline"])
def test_a_secret_with_a_control_character_is_masked_everywhere(
    release_project: Project, shape: str
) -> None:
    project = release_project
    core = secrets.token_hex(10)
    value = f"a\x1b[8m{core}" if shape == "escape" else f"first-{core}\nsecond-{core}"
    _runbook(
        project,
        "secret",
        {
            "secrets": ["token"],
            "steps": [
                {"id": "say", "run": "printf 'token=%s\\n' {{ secrets.token }}"},
                {"id": "fail", "run": "printf 'failing=%s\\n' {{ secrets.token }} >&2; exit 3"},
            ],
        },
    )
    env = {"RUNBOOK_SECRET_TOKEN": value}

    release = project.inv("release", "--host", "sandbox", "--yes", env=env)
    report = project.inv("report", env=env)

    assert release.returncode == 1, release.stdout + release.stderr
    places = {
        "console": release.stdout + release.stderr,
        "journal": project.journals()[-1].read_text(),
        "report": report.stdout,
    }
    for where, text in places.items():
        assert core not in text, where
        assert "token=***" in text and "failing=***" in text, where
        assert _raw(text) == [], where
