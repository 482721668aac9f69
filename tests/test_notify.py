"""Notifications without a network: what each event says (checked against the published JSON
Schema), the worker that never blocks a run, what the journal keeps of undelivered events, and
`inv report` sending them again. `post_json` itself runs against a loopback http.server.
"""

from __future__ import annotations

import http.server
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest

from runbook.console import Console
from runbook.core.model import Host
from runbook.core.schema import load_schema
from runbook.core.webhook import shown_url
from runbook.core.window import Window, clock_from
from runbook.errors import DONE, STEP_FAILED, STOPPED
from runbook.execute import Batch, HostRun, run_batch
from runbook.execute.notify import NotDelivered, Webhooks, post_json
from runbook.gate import YesGate
from runbook.journal import Journal, load_run
from runbook.journal.events import End, Notified, NotifyFailed, RunKind, Start
from runbook.options import Options
from runbook.testing import FakeTransport, MemoryJournal, fake_connect
from runbook.transport.base import CommandResult

from .test_execute import RUN_ID, RUNBOOK, WEB1, fails, plan_of

HOOK = "https://hooks.example/services/T0/B0/secret-token"
VALIDATOR = jsonschema.Draft202012Validator(load_schema("notification"))


@dataclass
class Receiver:
    """A fake `post`: records each payload; `answer` decides (a status, or raise)."""

    answer: Callable[[str, dict[str, Any]], int] = lambda url, payload: 200
    got: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    tries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, url: str, body: bytes, timeout: float) -> int:
        payload = json.loads(body)
        with self.lock:
            self.tries += 1
        status = self.answer(url, payload)
        with self.lock:
            self.got.append((url, payload))
        return status

    def events(self) -> list[str]:
        return [p["event"] for _, p in self.got]


def refuse(url: str, payload: dict[str, Any]) -> int:
    raise NotDelivered("connection refused")


def notifying(host: Host = WEB1, *urls: str) -> Host:
    return replace(host, notify=urls or (HOOK,))


def release_with(
    post: Callable[[str, bytes, float], int],
    *,
    host: Host | None = None,
    transport: FakeTransport | None = None,
    wait: float = 5.0,
    **options: Any,
) -> tuple[int, MemoryJournal, str]:
    journal = MemoryJournal()
    screen = io.StringIO()
    code = run_batch(
        Batch(
            kind=RunKind.RELEASE,
            connect=fake_connect({"web1": transport or FakeTransport()}),
            open_journal=lambda run_id: journal,
            console=Console(screen, colour=False),
            gate=YesGate(),
            operator="tester",
            post=post,
            notify_wait=wait,
            **options,
        ),
        [HostRun(plan_of(RUNBOOK, host or notifying()), RUN_ID)],
    )
    return code, journal, screen.getvalue()


def valid(payload: dict[str, Any]) -> dict[str, Any]:
    errors = [e.message for e in VALIDATOR.iter_errors(payload)]
    assert not errors, (errors, payload)
    return payload


# --- what the team is told ----------------------------------------------------------------------


def test_the_notification_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema("notification"))


def test_a_release_tells_its_start_and_end_with_every_documented_field() -> None:
    receiver = Receiver()

    code, journal, _ = release_with(receiver)

    assert code == DONE
    assert receiver.events() == ["start", "end"]
    start, end = (valid(p) for _, p in receiver.got)
    digest = journal.of(Start)[0].digest
    for payload in (start, end):
        assert {k: payload[k] for k in ("kind", "runbook", "host", "run", "digest")} == {
            "kind": "release",
            "runbook": "demo",
            "host": "web1",
            "run": RUN_ID,
            "digest": digest,
        }
        assert (payload["operator"], payload["approvers"]) == ("tester", [])
        assert (payload["window"], payload["outside_window"]) == (None, None)
    assert (start["id"], end["id"]) == (f"{RUN_ID}-1", f"{RUN_ID}-2")
    assert (end["result"], end["next"]) == ("done", None)
    assert end["message"] == "release done (no check step verified it)"
    assert [(e.id, e.notice, e.url, e.by) for e in journal.of(Notified)] == [
        (f"{RUN_ID}-1", "start", HOOK, "run"),
        (f"{RUN_ID}-2", "end", HOOK, "run"),
    ]


def test_a_failed_release_tells_the_failure_the_rollback_and_the_end_with_next_commands() -> None:
    receiver = Receiver()
    transport = FakeTransport(rules={"deploy-new": fails("no space left")})

    code, journal, _ = release_with(receiver, transport=transport)

    assert code == STEP_FAILED
    assert receiver.events() == ["start", "failure", "rollback", "end"]
    _, failure, rolling, end = (valid(p) for _, p in receiver.got)
    assert failure["step"] == {"id": "deploy", "number": 3, "title": "deploy", "phase": "steps"}
    assert failure["result"] == "failed"
    assert "no space left" in failure["message"]
    assert failure["next"] == f"inv rollback --run {RUN_ID}"
    assert rolling["message"].startswith("step deploy failed")
    assert (end["result"], end["next"]) == ("rolled-back", "inv release --host web1")
    assert len(journal.of(Notified)) == 4


def test_a_failure_before_any_backup_says_to_resume_at_the_step() -> None:
    receiver = Receiver()
    transport = FakeTransport(rules={"cp -p": fails("Permission denied")})

    code, _, _ = release_with(receiver, transport=transport)

    assert code == STEP_FAILED
    assert receiver.events() == ["start", "failure", "end"]  # nothing to roll back
    failure, end = receiver.got[1][1], receiver.got[2][1]
    assert failure["next"] == end["next"] == "inv release --host web1 --from backup"
    assert end["result"] == "failed"


def test_a_lost_connection_tells_the_same_next_command_in_the_failure_and_the_end() -> None:
    """The failure's next comes from the host's state, as the end's: the lock stays held by
    this run, so it names --break-lock, and it carries the operator's options."""
    receiver = Receiver()
    lost = CommandResult(None, "", "", 0.0, lost=True)
    transport = FakeTransport(rules={"deploy-new": lost})

    code, _, _ = release_with(
        receiver, transport=transport, options=("--host", "web1", "--var", "a=b c")
    )

    assert code == STEP_FAILED
    failure, end = (valid(p) for _, p in receiver.got[1:])
    assert failure["event"] == "failure" and failure["result"] == "unknown"
    expected = f"inv rollback --run {RUN_ID} --break-lock {RUN_ID}"
    assert failure["next"] == end["next"] == expected


def test_a_window_stop_and_an_override_are_told() -> None:
    tokyo = Window(tz="Asia/Tokyo", start="21:00", end="23:00", days=("mon",))
    host = replace(notifying(), window=tokyo)
    closed = clock_from("2026-04-16T21:30:00+09:00")

    receiver = Receiver()
    code, _, _ = release_with(receiver, host=host, clock=closed)
    assert code == STOPPED
    end = valid(receiver.got[-1][1])
    assert end["result"] == "stopped" and "outside the booked window" in end["message"]
    assert end["window"] == "mon 21:00-23:00 Asia/Tokyo"
    assert end["next"] == "inv release --host web1"

    receiver = Receiver()
    code, _, _ = release_with(receiver, host=host, clock=closed, outside_window="INC-42")
    assert code == DONE
    assert {valid(p)["outside_window"] for _, p in receiver.got} == {"INC-42"}


def test_secrets_never_reach_a_notification() -> None:
    receiver = Receiver()
    runbook = RUNBOOK.replace("echo deploy-new", "echo deploy-new {{ secrets.token }}").replace(
        "title: Demo release", "title: Demo release\nsecrets: [token]"
    )
    transport = FakeTransport(rules={"deploy-new": fails("token hunter2 refused")})
    journal = MemoryJournal()
    run_batch(
        Batch(
            kind=RunKind.RELEASE,
            connect=fake_connect({"web1": transport}),
            open_journal=lambda run_id: journal,
            console=Console(io.StringIO(), colour=False),
            gate=YesGate(),
            secrets={"token": "hunter2"},
            post=receiver,
        ),
        [HostRun(plan_of(runbook, notifying()), RUN_ID)],
    )
    assert receiver.events() == ["start", "failure", "rollback", "end"]
    assert "hunter2" not in json.dumps([p for _, p in receiver.got])
    assert "token *** refused" in receiver.got[1][1]["message"]


# --- the worker never blocks the run ------------------------------------------------------------


def test_a_webhook_that_never_answers_costs_the_run_at_most_the_wait_at_its_end() -> None:
    never = threading.Event()
    receiver = Receiver(answer=lambda url, payload: never.wait(60) and 200)
    baseline = time.monotonic()
    code, _, _ = release_with(Receiver(), wait=1.0)
    plain = time.monotonic() - baseline

    started = time.monotonic()
    code_hanging, journal, screen = release_with(receiver, wait=1.0)
    took = time.monotonic() - started
    never.set()

    assert code_hanging == code == DONE
    assert took < plain + 1.5, (took, plain)
    failed = journal.of(NotifyFailed)
    assert [(f.notice, f.url) for f in failed] == [("start", HOOK), ("end", HOOK)]
    assert all("not delivered when the run ended" in f.reason for f in failed)
    assert failed[1].payload["event"] == "end" and failed[1].payload["result"] == "done"
    assert "notifications: 2 of 2 not delivered (kept in the journal" in screen
    assert isinstance(journal.events[-1], NotifyFailed)  # recorded after the end, at close
    assert any(isinstance(e, End) for e in journal.events)


def test_an_undelivered_event_is_tried_three_times_then_kept_whole_with_the_reason() -> None:
    receiver = Receiver(answer=refuse)
    journal = MemoryJournal()
    hooks = Webhooks([HOOK, "http://second.example/"], journal, {"run": "r"}, post=receiver)
    hooks.pauses = (0.0, 0.0)

    hooks.send("start")
    assert hooks.close(time.monotonic() + 5) == 2

    assert receiver.tries == 6  # three attempts at each webhook
    failed = journal.of(NotifyFailed)
    assert [(f.url, f.attempts, f.reason) for f in failed] == [
        (HOOK, 3, "connection refused"),
        ("http://second.example/", 3, "connection refused"),
    ]
    assert failed[0].payload["id"] == "r-1" and failed[0].payload["event"] == "start"


def test_a_webhook_that_failed_is_tried_once_for_the_next_events() -> None:
    five = threading.Event()

    def refuse_and_count(url: str, payload: dict[str, Any]) -> int:
        if receiver.tries >= 5:
            five.set()
        raise NotDelivered("connection refused")

    receiver = Receiver(answer=refuse_and_count)
    journal = MemoryJournal()
    hooks = Webhooks([HOOK], journal, {"run": "r"}, post=receiver)
    hooks.pauses = (0.0, 0.0)
    for notice in ("start", "failure", "end"):
        hooks.send(notice)
    assert five.wait(10)

    hooks.close(time.monotonic() + 10)

    assert receiver.tries == 5
    assert [(f.notice, f.attempts) for f in journal.of(NotifyFailed)] == [
        ("start", 3),
        ("failure", 1),
        ("end", 1),
    ]


def test_the_end_of_a_run_does_not_wait_for_a_webhook_that_failed_already() -> None:
    receiver = Receiver(answer=refuse)
    journal = MemoryJournal()
    hooks = Webhooks([HOOK], journal, {"run": "r"}, post=receiver)
    hooks.pauses = (30.0, 30.0)  # it would wait a long time before trying again
    hooks.send("start")
    hooks.send("end")

    started = time.monotonic()
    hooks.close(time.monotonic() + 30)

    assert time.monotonic() - started < 5
    assert [f.notice for f in journal.of(NotifyFailed)] == ["start", "end"]
    assert "connection refused; not delivered when the run ended" in (
        journal.of(NotifyFailed)[0].reason
    )


def test_send_returns_at_once_and_events_go_out_in_order() -> None:
    gate = threading.Event()
    receiver = Receiver(answer=lambda url, payload: gate.wait(5) and 200)
    journal = MemoryJournal()
    hooks = Webhooks([HOOK], journal, {"run": "r"}, post=receiver)

    started = time.monotonic()
    for notice in ("start", "failure", "rollback", "end"):
        hooks.send(notice)
    assert time.monotonic() - started < 0.1
    gate.set()
    assert hooks.close(time.monotonic() + 5) == 0
    assert receiver.events() == ["start", "failure", "rollback", "end"]
    assert [e.notice for e in journal.of(Notified)] == ["start", "failure", "rollback", "end"]


def test_a_journal_that_cannot_be_written_does_not_fail_the_worker() -> None:
    journal = MemoryJournal(fail_after=0)
    hooks = Webhooks([HOOK], journal, {"run": "r"}, post=Receiver())
    hooks.send("start")
    assert hooks.close(time.monotonic() + 5) == 0


def test_webhooks_are_shown_without_their_path_or_credentials() -> None:
    assert shown_url(HOOK) == "https://hooks.example/…"
    assert shown_url("http://user:pw@hooks.example:8080/") == "http://hooks.example:8080"
    assert shown_url("http://hooks.example") == "http://hooks.example"


# --- posting for real, on loopback --------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(self.status)
        if self.status in (301, 302, 307, 308):
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"bodies": [], "status": 200})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_post_json_delivers_and_ignores_proxies_from_the_environment(
    server: tuple[str, type[_Handler]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = server
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing there: a proxy would fail
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)

    assert post_json(url, b'{"event": "start"}', 3) == 200
    assert handler.bodies == [b'{"event": "start"}']


@pytest.mark.parametrize(("status", "reason"), [(500, "HTTP 500"), (302, "HTTP 302")])
def test_post_json_counts_an_error_or_a_redirect_as_not_delivered(
    server: tuple[str, type[_Handler]], status: int, reason: str
) -> None:
    url, handler = server
    handler.status = status
    with pytest.raises(NotDelivered, match=reason):
        post_json(url, b"{}", 3)
    assert len(handler.bodies) == 1  # the redirect was not followed


def test_post_json_gives_up_on_a_closed_port_and_a_receiver_that_never_answers() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(NotDelivered, match="connection refused"):
        post_json(f"http://127.0.0.1:{port}/", b"{}", 3)

    with socket.socket() as hanging:
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(8)  # the kernel accepts the connection; nobody ever answers
        started = time.monotonic()
        with pytest.raises(NotDelivered, match="timed out"):
            post_json(f"http://127.0.0.1:{hanging.getsockname()[1]}/", b"{}", 0.3)
        assert time.monotonic() - started < 2


def test_post_json_refuses_other_schemes() -> None:
    with pytest.raises(NotDelivered, match="not an http"):
        post_json("file:///etc/passwd", b"{}", 1)


# --- inv report: the list, and sending again ----------------------------------------------------


def _journal_on_disk(tmp_path: Path, post: Callable[[str, bytes, float], int]) -> Path:
    """A finished release whose notifications were not delivered, as a file."""
    state = tmp_path / "state"
    run_batch(
        Batch(
            kind=RunKind.RELEASE,
            connect=fake_connect({"web1": FakeTransport()}),
            open_journal=lambda run_id: Journal.create(state, run_id),
            console=Console(io.StringIO(), colour=False),
            gate=YesGate(),
            post=post,
            notify_wait=0.2,
        ),
        [HostRun(plan_of(RUNBOOK, notifying()), RUN_ID)],
    )
    return state


def test_inv_report_lists_the_undelivered_and_sends_them_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runbook.commands import team
    from runbook.commands.history import report

    # A journal on disk is read back only under a run id's name.
    monkeypatch.setitem(globals(), "RUN_ID", "20261201T210000Z-0001")
    state = _journal_on_disk(tmp_path, Receiver(answer=refuse))
    record = load_run(state / "runs" / f"{RUN_ID}.jsonl")
    assert [f.notice for f in team.undelivered(record)] == ["start", "end"]

    # The webhook still refuses: the report lists them, and records the new attempt.
    monkeypatch.setattr(team, "post_json", Receiver(answer=refuse))
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    text = report(Options(project=tmp_path), RUN_ID)
    assert "## Window and notifications" in text
    assert f"| `{RUN_ID}-1` | start | https://hooks.example/… | **undelivered**" in text
    assert "2 undelivered: kept in the journal; the next `inv report` sends them again" in text
    assert "secret-token" not in text

    receiver = Receiver()
    monkeypatch.setattr(team, "post_json", receiver)
    text = report(Options(project=tmp_path), RUN_ID)
    assert receiver.events() == ["start", "end"]
    assert [p["id"] for _, p in receiver.got] == [f"{RUN_ID}-1", f"{RUN_ID}-2"]  # same ids
    assert text.count("delivered by `inv report`") == 2
    assert "undelivered" not in text
    record = load_run(state / "runs" / f"{RUN_ID}.jsonl")
    assert [(e.notice, e.by) for e in record.of(Notified)] == [
        ("start", "report"),
        ("end", "report"),
    ]
    assert team.undelivered(record) == []

    report(Options(project=tmp_path), RUN_ID)  # nothing left to send
    assert len(receiver.got) == 2


def test_a_run_without_an_end_is_not_sent_again(tmp_path: Path) -> None:
    from runbook.commands import team

    state = _journal_on_disk(tmp_path, Receiver(answer=refuse))
    path = state / "runs" / f"{RUN_ID}.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(e) + "\n" for e in lines if e["event"] != "end"))
    receiver = Receiver()
    (again,) = team.resend([load_run(path)], post=receiver)
    assert receiver.got == [] and len(team.undelivered(again)) == 2
