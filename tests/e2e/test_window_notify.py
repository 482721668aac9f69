"""The booked window and the team's webhooks, end to end: `inv release` against the sandbox's
sshd, with the clock set through RUNBOOK_NOW (a file the runbook's own step rewrites lets the
window's end pass between two steps: no sleeps), and webhook receivers on loopback: one that
answers, one that accepts and never answers, and a closed port.
"""

from __future__ import annotations

import http.server
import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
import yaml

from runbook.core.schema import load_schema

from .test_release_support import Project, broken_conf, events_of, release_project

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

STEP_IDS = ["announce", "before", "backup", "deploy", "test", "reload", "verify", "watch"]
# Thursday 2026-04-16 in Tokyo; the operator's machine is in Berlin (CEST, UTC+02:00).
THURSDAY = {"tz": "Asia/Tokyo", "days": ["thu"], "start": "21:00", "end": "23:00"}
BERLIN = {"TZ": "Europe/Berlin"}
VALIDATOR = jsonschema.Draft202012Validator(load_schema("notification"))
QUICK = """\
name: quick
title: Three quick steps
vars:
  fail: "no"
steps:
  - id: one
    run: echo one
  - id: two
    run: echo two
  - id: three
    run: test {{ fail }} = no
"""
CROSSING = """\
name: crossing
title: The window's end passes between two steps
vars:
  clock_file: /nonexistent
  later: "2026-04-16T23:00:30+09:00"
steps:
  - id: one
    run: echo one
  - id: tick
    title: The clock moves past the window's end
    local: true
    run: printf '%s' {{ later }} > {{ clock_file }}
  - id: three
    run: echo three-ran
"""


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _settings(project: Project, **settings: object) -> None:
    path = project.dir / "hosts.yaml"
    data = yaml.safe_load(path.read_text())
    data["hosts"]["sandbox"].update(settings)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _runbook(project: Project, text: str) -> str:
    name = text.split("\n", 1)[0].removeprefix("name: ")
    (project.dir / "runbooks" / f"{name}.yaml").write_text(text)
    return name


# --- webhook receivers on loopback --------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    got: ClassVar[list[dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).got.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def receiver(port: int = 0) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook that takes every event (204): its URL, and the events it got."""
    got: list[dict[str, Any]] = []
    handler = type("Handler", (_Handler,), {"got": got})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/release", got
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def hanging() -> Iterator[tuple[int, socket.socket]]:
    """A port whose connections the kernel accepts and nobody ever answers."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1], sock


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def valid(payload: dict[str, Any]) -> dict[str, Any]:
    errors = [e.message for e in VALIDATOR.iter_errors(payload)]
    assert not errors, (errors, payload)
    return payload


# --- the window ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "shown"),
    [
        ("2026-04-16T23:30:00+09:00", "Thu 2026-04-16 23:30 JST (UTC+09:00) there"),
        ("2026-04-16T10:00:00Z", "Thu 2026-04-16 19:00 JST (UTC+09:00) there"),  # given in UTC
    ],
    ids=["window-past", "window-ahead"],
)
def test_a_release_outside_its_window_is_refused_at_the_first_gate_and_changes_nothing(
    release_project: Project, now: str, shown: str
) -> None:
    project, box = release_project, release_project.box
    _settings(project, window=THURSDAY)
    original = project.live()

    # preflight says so first: it does not pass what the release would refuse.
    checked = project.inv("preflight", "--host", "sandbox", env={"RUNBOOK_NOW": now, **BERLIN})
    assert checked.returncode == 2, _output(checked)
    assert (
        "  PROBLEM  booked window thu 21:00-23:00 Asia/Tokyo: closed now "
        f"({shown.removesuffix(' there')} there): the release would stop at its first gate"
    ) in checked.stdout, _output(checked)

    result = project.inv(
        "release", "--host", "sandbox", "--yes", env={"RUNBOOK_NOW": now, **BERLIN}
    )

    assert result.returncode == 3, _output(result)
    out = result.stdout
    assert f"the clock is RUNBOOK_NOW={now} (a testing aid" in out
    assert "sandbox: booked window thu 21:00-23:00 Asia/Tokyo, closed now" in out
    assert "step 1 (announce) not started: outside the booked window" in out
    assert shown in out
    here = re.search(r"\((Thu 2026-04-16 \d\d:\d\d CEST \(UTC\+02:00\)) on this machine\)", out)
    assert here, out
    assert 'release again within the window, or give --outside-window "REASON"' in out
    assert project.live() == original and not project.backups()
    assert not box.lock_path.exists()

    assert not events_of(project, "step_start")
    (check,) = events_of(project, "window")
    assert (check["step"], check["outcome"], check["window"]) == (
        "announce",
        "closed",
        "thu 21:00-23:00 Asia/Tokyo",
    )
    assert check["here"] == here.group(1)
    (gate,) = events_of(project, "gate")
    assert gate["answer"] == "refused: outside the booked window"
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("stopped", 3)
    assert (events_of(project, "start")[0]["clock"]) == f"RUNBOOK_NOW={now}"

    report = project.inv("report")
    assert report.returncode == 0, _output(report)
    assert "## Window and notifications" in report.stdout
    assert "| Booked window | thu 21:00-23:00 Asia/Tokyo |" in report.stdout
    assert "outside the window: not started, the run stopped here" in report.stdout
    assert shown.removesuffix(" there") in report.stdout
    assert "**stopped** (exit 3)" in report.stdout


def test_the_review_shows_the_window_and_where_notifications_go(release_project: Project) -> None:
    project = release_project
    _settings(project, window=THURSDAY, notify=[{"webhook": "https://hooks.example/T0/secret"}])

    result = project.inv("show", "--host", "sandbox")

    assert result.returncode == 0, _output(result)
    assert "## Booked window and notifications" in result.stdout
    assert "| sandbox | thu 21:00-23:00 Asia/Tokyo | https://hooks.example/… |" in result.stdout
    assert "secret" not in result.stdout


def test_a_bad_window_is_refused_at_load_with_file_and_line(release_project: Project) -> None:
    project = release_project
    _settings(project, window={"tz": "Asia/Tokio", "start": "21:00", "end": "23:00"})

    result = project.inv("release", "--host", "sandbox", "--yes")

    assert result.returncode == 2, _output(result)
    assert re.search(
        r"hosts\.yaml:\d+: hosts\.sandbox\.window\.tz: unknown time zone", result.stderr
    )
    assert not project.journals()


def test_outside_window_with_a_reason_runs_and_the_reason_is_in_journal_report_and_events(
    release_project: Project,
) -> None:
    project = release_project
    reason = "INC-4711: customers cannot chat, approved by the duty manager"
    with receiver() as (url, got):
        _settings(project, window=THURSDAY, notify=[{"webhook": url}])
        result = project.inv(
            "release",
            "--host",
            "sandbox",
            "--yes",
            "--outside-window",
            reason,
            env={"RUNBOOK_NOW": "2026-04-16T23:30:00+09:00", **BERLIN},
        )
        assert result.returncode == 0, _output(result)
        assert "101" in project.upgrade_status("101")
        assert f"--outside-window: {reason}" in result.stdout

        start = events_of(project, "start")[0]
        assert start["outside_window"] == reason
        checks = events_of(project, "window")
        assert [(c["step"], c["outcome"], c["reason"]) for c in checks] == [
            (step, "overridden", reason) for step in STEP_IDS
        ]
        report = project.inv("report")
        assert (
            f"| Outside the window | allowed with `--outside-window`: {reason} |" in report.stdout
        )
        assert f"ran outside the window: {reason}" in report.stdout

    assert [e["event"] for e in got] == ["start", "end"]
    first, last = (valid(e) for e in got)
    for payload in (first, last):
        assert payload["outside_window"] == reason
        assert payload["window"] == "thu 21:00-23:00 Asia/Tokyo"
        assert (payload["host"], payload["runbook"], payload["kind"]) == (
            "sandbox",
            "nginx-websocket",
            "release",
        )
        assert (payload["run"], payload["digest"]) == (start["run"], start["digest"])
        assert (payload["operator"], payload["approvers"]) == ("e2e-operator", [])
    assert (last["result"], last["next"], last["step"]) == ("done", None, None)
    assert [n["notice"] for n in events_of(project, "notified")] == ["start", "end"]
    assert "## Window and notifications" in report.stdout
    assert report.stdout.count("| delivered |") == 2


def test_a_release_that_runs_past_the_windows_end_stops_at_the_next_gate(
    release_project: Project, tmp_path: Path
) -> None:
    project = release_project
    name = _runbook(project, CROSSING)
    _settings(project, window=THURSDAY)
    clock = tmp_path / "now"
    clock.write_text("2026-04-16T22:59:30+09:00")
    env = {"RUNBOOK_NOW": f"@{clock}", **BERLIN}
    args = ("release", "--host", "sandbox", "--runbook", name, "--var", f"clock_file={clock}")
    checked = project.inv("preflight", *args[1:], env=env)
    assert (
        "  ok       booked window thu 21:00-23:00 Asia/Tokyo (open now: Thu 2026-04-16 22:59 "
        "JST (UTC+09:00) there)"
    ) in checked.stdout, _output(checked)

    result = project.inv(*args, "--yes", env=env)

    assert result.returncode == 3, _output(result)
    assert clock.read_text() == "2026-04-16T23:00:30+09:00"  # the step moved the clock
    assert [e["step"] for e in events_of(project, "step_start")] == ["one", "tick"]
    assert "step 3 (three) not started: outside the booked window" in result.stdout
    assert "it is now Thu 2026-04-16 23:00 JST (UTC+09:00) there" in result.stdout
    assert "Thu 2026-04-16 16:00 CEST (UTC+02:00) on this machine" in result.stdout
    assert "resume within the window from step three (the next command below)" in (result.stdout)
    next_line = next(line for line in result.stdout.splitlines() if "--from three" in line)
    assert "--runbook" in next_line and "--var" in next_line, result.stdout  # every option
    (check,) = events_of(project, "window")
    assert (check["step"], check["outcome"]) == ("three", "closed")
    assert not project.box.lock_path.exists()

    # Resumed the next time the window is open, the release runs its last step.
    clock.write_text("2026-04-23T21:05:00+09:00")
    again = project.inv(*args, "--yes", "--from", "three", env=env)
    assert again.returncode == 0, _output(again)
    assert [e["step"] for e in events_of(project, "step_start")] == ["three"]


# --- notifications ------------------------------------------------------------------------------


def test_a_failed_release_tells_start_failure_rollback_and_end(release_project: Project) -> None:
    project = release_project
    project.push_branch("broken-notify", broken_conf(project.box))
    with receiver() as (url, got):
        _settings(project, notify=[{"webhook": url}])
        result = project.inv(
            "release", "--host", "sandbox", "--var", "branch=broken-notify", "--yes"
        )
        assert result.returncode == 1, _output(result)

    run_id = events_of(project, "start")[0]["run"]
    assert [e["event"] for e in got] == ["start", "failure", "rollback", "end"]
    start, failure, rolling, end = (valid(e) for e in got)
    assert (start["step"], start["result"], start["next"]) == (None, None, None)
    assert failure["step"] == {
        "id": "test",
        "number": 5,
        "title": "Test the new config",
        "phase": "steps",
    }
    assert (failure["result"], failure["next"]) == ("failed", f"inv rollback --run {run_id}")
    assert rolling["message"].startswith("step test failed")
    assert (end["result"], end["next"]) == (
        "rolled-back",
        "inv release --host sandbox --var branch=broken-notify",  # with the operator's options
    )
    assert {e["run"] for e in got} == {run_id}
    assert len({e["id"] for e in got}) == 4


def _timed(project: Project, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = project.inv(*args, timeout=120)
    return result, time.monotonic() - started


@pytest.mark.parametrize("kind", ["hanging", "closed"])
def test_a_webhook_that_hangs_or_is_closed_never_fails_or_much_slows_the_release(
    release_project: Project, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exit code is the one without notify and the run ends a few seconds later at most
    (the worker waits 5 s in all at the end); the report lists what was not delivered, and
    `inv report` sends it again once the receiver works."""
    project = release_project
    name = _runbook(project, QUICK)
    # A hanging webhook lets the release succeed, a closed one sees a failed release: either
    # way the exit code is the one without notify.
    args = ("release", "--host", "sandbox", "--runbook", name, "--yes")
    args += ("--var", "fail=yes") if kind == "closed" else ()
    expected = 1 if kind == "closed" else 0
    plain, plain_took = _timed(project, *args)
    assert plain.returncode == expected, _output(plain)

    with hanging() as (port, _):
        if kind == "closed":
            port = closed_port()
        url = f"http://127.0.0.1:{port}/hooks/release"
        _settings(project, notify=[{"webhook": url}])
        result, took = _timed(project, *args)
    with capsys.disabled():
        print(f"\n  {kind} webhook: release {took:.2f} s, without notify {plain_took:.2f} s")

    assert result.returncode == expected, _output(result)
    assert took < plain_took + 10, (took, plain_took)
    assert "not delivered (kept in the journal; `inv report` lists them" in result.stdout
    failed = events_of(project, "notify_failed")
    notices = ["start", "failure", "end"] if kind == "closed" else ["start", "end"]
    assert sorted(f["notice"] for f in failed) == sorted(notices)
    reason = "connection refused" if kind == "closed" else "no answer"
    assert any(reason in f["reason"] for f in failed), failed
    assert all(valid(f["payload"])["run"] == f["payload"]["run"] for f in failed)

    report = project.inv("report")  # the receiver is still down: listed, tried again
    assert report.stdout.count("**undelivered**") == len(notices), report.stdout
    assert f"{len(notices)} undelivered: kept in the journal" in report.stdout

    with receiver(port) as (_, got):
        report = project.inv("report")
    assert report.returncode == 0, _output(report)
    assert sorted(e["event"] for e in got) == sorted(notices)
    assert {e["id"] for e in got} == {f["id"] for f in failed}  # the same events, again
    assert report.stdout.count("delivered by `inv report`") == len(notices)
    assert "**undelivered**" not in report.stdout
    assert all(n["by"] == "report" for n in events_of(project, "notified"))
