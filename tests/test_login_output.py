"""A host's login output (what its login shell prints before every command) is shown once,
after the connection, made visible; it is no step's output (the SSH side: e2e/test_login_noise)."""

from __future__ import annotations

import io
from pathlib import Path

from runbook.execute.batch import HostRun, run_batch
from runbook.gate import YesGate
from runbook.testing import FakeTransport, MemoryJournal

from .conftest import run_cli
from .test_execute import DONE, MANUAL, RUN_ID, batch, plan_of


def _release(login_output: str) -> str:
    screen = io.StringIO()
    transport = FakeTransport(login_output=login_output)
    item = HostRun(plan_of(MANUAL), RUN_ID)
    done = run_batch(
        batch({"web1": transport}, {RUN_ID: MemoryJournal()}, YesGate(), screen), [item]
    )
    assert done == DONE
    return screen.getvalue()


def test_the_login_output_is_shown_once_labelled_and_made_visible() -> None:
    text = _release("Welcome\n\x1b[31mred\x1b[0m\n")
    assert "web1: its login shell prints 2 line(s) before every command" in text
    assert text.count("Welcome") == 1
    assert "web1 login│ \\x1b[31mred\\x1b[0m" in text and "\x1b" not in text


def test_a_quiet_login_shows_nothing_and_a_long_one_is_cut() -> None:
    assert "login" not in _release("")
    text = _release("".join(f"line {i}\n" for i in range(50)))
    assert "line 19" in text and "line 20" not in text and "(30 more)" in text


def test_check_warns_of_an_expect_on_stderr_for_a_pty_host(project: Path) -> None:
    (project / "hosts.yaml").write_text("hosts:\n  web1: {address: 10.0.0.1, pty: true}\n")
    (project / "runbooks" / "t.yaml").write_text(
        "name: t\nsteps:\n  - id: warn\n    run: nginx -t\n    expect:\n      stderr: ok\n"
    )
    done = run_cli("check", cwd=project, env={"HOME": str(project)})
    assert done.returncode == 0, done.stderr
    assert "runbooks/t.yaml:5: step 'warn' expects on stderr, but web1 has `pty: true`" in (
        done.stdout
    )
    (project / "hosts.yaml").write_text("hosts:\n  web1: {address: 10.0.0.1}\n")
    assert "expects on stderr" not in run_cli("check", cwd=project).stdout
