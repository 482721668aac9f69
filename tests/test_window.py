"""The booked window: its arithmetic (days, midnight, clock changes), its loading (every mistake
with file and line), and the executor's check before every step, on fakes and a set clock.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from runbook.console import Console
from runbook.core.inventory import inventory_from_source
from runbook.core.model import Host, Outcome, Phase, Result
from runbook.core.window import (
    Window,
    clock_from,
    clock_text,
    parse_instant,
    system_clock,
    zone_problem,
)
from runbook.core.yamlsrc import parse_yaml
from runbook.errors import DONE, STEP_FAILED, STOPPED, InputError
from runbook.execute import Batch, HostRun, release, run_batch
from runbook.execute.window import REFUSED
from runbook.gate import YesGate
from runbook.journal.events import Backup, RunKind, Start, WindowCheck
from runbook.testing import FakeTransport, MemoryJournal, ScriptedGate, fake_connect

from .test_execute import (
    RUN_ID,
    RUNBOOK,
    WEB1,
    end_of,
    ends,
    fails,
    gates,
    plan_of,
    rig,
    sent,
)

TOKYO = Window(tz="Asia/Tokyo", start="21:00", end="23:00", days=("mon", "tue", "wed"))
# 2026-04-13 is a Monday, 2026-04-16 a Thursday.


def at(text: str) -> datetime:
    return parse_instant(text)


# --- arithmetic ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("2026-04-13T21:00:00+09:00", True),  # the start is in
        ("2026-04-13T22:59:59+09:00", True),
        ("2026-04-13T23:00:00+09:00", False),  # the end is not
        ("2026-04-13T20:59:59+09:00", False),
        ("2026-04-13T12:30:00+00:00", True),  # 21:30 in Tokyo, given in UTC
        ("2026-04-13T14:30:00+02:00", True),  # ... or from Berlin
        ("2026-04-15T22:00:00+09:00", True),  # wednesday
        ("2026-04-16T21:30:00+09:00", False),  # thursday: not a day of the window
        ("2026-04-12T21:30:00+09:00", False),  # sunday
    ],
)
def test_a_window_holds_its_days_from_start_to_before_end(moment: str, inside: bool) -> None:
    assert TOKYO.contains(at(moment)) is inside


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="without a zone"):
        TOKYO.contains(datetime(2026, 4, 13, 21, 30))


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("2026-04-17T23:00:00+09:00", True),  # friday 23:00: it starts
        ("2026-04-18T00:30:00+09:00", True),  # saturday 00:30 belongs to friday's opening
        ("2026-04-18T00:59:00+09:00", True),
        ("2026-04-18T01:00:00+09:00", False),
        ("2026-04-17T00:30:00+09:00", False),  # friday 00:30 would be thursday's: not booked
        ("2026-04-18T23:30:00+09:00", False),  # saturday is not a day it starts on
        ("2026-04-17T22:59:00+09:00", False),
    ],
)
def test_a_window_may_cross_midnight_and_days_name_the_day_it_starts(
    moment: str, inside: bool
) -> None:
    night = Window(tz="Asia/Tokyo", start="23:00", end="01:00", days=("fri",))
    assert night.contains(at(moment)) is inside
    assert night.describe() == "fri 23:00-01:00 (next day) Asia/Tokyo"


def test_a_window_that_ends_at_midnight_ends_on_the_next_day() -> None:
    late = Window(tz="UTC", start="22:00", end="00:00", days=("sun",))
    assert late.contains(at("2026-04-12T23:59:59+00:00"))
    assert not late.contains(at("2026-04-13T00:00:00+00:00"))


def test_without_days_a_window_opens_every_day() -> None:
    daily = Window(tz="UTC", start="01:00", end="02:00")
    assert daily.describe() == "every day 01:00-02:00 UTC"
    assert all(daily.contains(at(f"2026-04-{d:02d}T01:30:00Z")) for d in range(13, 20))


def test_a_daily_window_follows_summer_time_in_a_zone_that_has_it() -> None:
    evening = Window(tz="Europe/Berlin", start="21:00", end="23:00")
    # 19:30 UTC is 21:30 in Berlin in summer (CEST, +2), 20:30 in winter (CET, +1).
    assert evening.contains(at("2026-07-01T19:30:00Z"))
    assert not evening.contains(at("2026-01-15T19:30:00Z"))
    assert evening.contains(at("2026-01-15T20:30:00Z"))
    assert not evening.contains(at("2026-07-01T21:00:00Z"))  # 23:00 CEST: closed


def test_a_window_over_the_spring_clock_change_lasts_as_long_as_the_clock_says() -> None:
    # Berlin, Sunday 2026-03-29: at 02:00 CET (01:00 UTC) the clocks jump to 03:00 CEST.
    over = Window(tz="Europe/Berlin", start="01:30", end="03:30", days=("sun",))
    assert not over.contains(at("2026-03-29T00:29:00Z"))  # 01:29 CET
    assert over.contains(at("2026-03-29T00:30:00Z"))  # 01:30 CET: opens
    assert over.contains(at("2026-03-29T01:15:00Z"))  # 03:15 CEST
    assert not over.contains(at("2026-03-29T01:30:00Z"))  # 03:30 CEST: closed after one hour
    start, end = over.opening(at("2026-03-29T01:00:00Z")) or (None, None)
    assert start is not None and end is not None
    assert end.astimezone(at("2026-01-01T00:00:00Z").tzinfo) - start == timedelta(hours=1)


def test_a_window_over_the_autumn_clock_change_counts_the_repeated_hour() -> None:
    # Berlin, Sunday 2026-10-25: at 03:00 CEST (01:00 UTC) the clocks go back to 02:00 CET.
    over = Window(tz="Europe/Berlin", start="01:00", end="04:00", days=("sun",))
    assert over.contains(at("2026-10-24T23:00:00Z"))  # 01:00 CEST: opens
    assert over.contains(at("2026-10-25T00:30:00Z"))  # 02:30 CEST, the first time
    assert over.contains(at("2026-10-25T01:30:00Z"))  # 02:30 CET, the second time
    assert over.contains(at("2026-10-25T02:59:00Z"))  # 03:59 CET
    assert not over.contains(at("2026-10-25T03:00:00Z"))  # 04:00 CET: four hours in all


def test_the_next_opening_is_named_in_the_windows_zone() -> None:
    now = at("2026-04-16T21:30:00+09:00")  # thursday
    start, end = TOKYO.next_opening(now)
    assert clock_text(start, TOKYO.zone) == "Mon 2026-04-20 21:00 JST (UTC+09:00)"
    assert clock_text(end, TOKYO.zone) == "Mon 2026-04-20 23:00 JST (UTC+09:00)"
    # Inside an opening, the next one is the next day's.
    assert TOKYO.next_opening(at("2026-04-13T21:30:00+09:00"))[0] == at("2026-04-14T21:00:00+09:00")


def test_clock_text_names_the_zone_and_its_offset() -> None:
    now = at("2026-04-16T12:30:00Z")
    assert clock_text(now, TOKYO.zone) == "Thu 2026-04-16 21:30 JST (UTC+09:00)"
    berlin = Window(tz="Europe/Berlin", start="01:00", end="02:00").zone
    assert clock_text(now, berlin) == "Thu 2026-04-16 14:30 CEST (UTC+02:00)"
    assert clock_text(now, Window(tz="UTC", start="01:00", end="02:00").zone).endswith("UTC")


def test_a_window_reads_back_from_its_json() -> None:
    assert Window.from_json(TOKYO.to_json()) == TOKYO
    host = Host(name="h", address="a", window=TOKYO, notify=("https://x.example/h",))
    assert Host.from_json(host.to_json()) == host


@pytest.mark.parametrize(
    ("name", "known"),
    [
        ("Asia/Tokyo", True),
        ("UTC", True),
        ("America/Argentina/Buenos_Aires", True),
        ("Asia/Tokio", False),
        ("JST", False),
        ("../../etc/passwd", False),
        ("/etc/localtime", False),
        ("localtime", False),
    ],
)
def test_zones_come_from_the_iana_database(name: str, known: bool) -> None:
    assert (zone_problem(name) is None) is known


# --- clocks -------------------------------------------------------------------------------------


def test_runbook_now_is_a_fixed_time_or_a_file_read_at_every_look(tmp_path: Path) -> None:
    assert clock_from(None) is system_clock and clock_from("") is system_clock
    assert clock_from("2026-04-16T21:30:00+09:00")() == at("2026-04-16T12:30:00Z")
    assert clock_from("2026-04-16T12:30:00Z")() == at("2026-04-16T21:30:00+09:00")
    now = tmp_path / "now"
    now.write_text("2026-04-16T21:30:00+09:00\n")
    clock = clock_from(f"@{now}")
    assert clock() == at("2026-04-16T21:30:00+09:00")
    now.write_text("2026-04-16T23:30:00+09:00")
    assert clock() == at("2026-04-16T23:30:00+09:00")
    assert str(clock) == f"RUNBOOK_NOW=@{now}"


@pytest.mark.parametrize("value", ["yesterday", "2026-04-16T21:30:00", "@/nonexistent/now"])
def test_a_bad_runbook_now_is_refused_at_once(value: str) -> None:
    with pytest.raises((ValueError, OSError)):
        clock_from(value)


# --- loading ------------------------------------------------------------------------------------


def load(text: str) -> dict[str, Host]:
    source, problems = parse_yaml(textwrap.dedent(text).encode(), "hosts.yaml")
    assert source is not None, problems
    inventory = inventory_from_source(source, problems, base=Path("/project"))
    if problems or inventory is None:
        raise InputError(problems)
    return inventory.hosts


def problems_of(text: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        load(text)
    return [str(p) for p in caught.value.problems]


def test_window_and_notify_are_settings_the_most_specific_wins() -> None:
    hosts = load(
        """\
        defaults:
          window: {tz: UTC, start: "01:00", end: "02:00"}
          notify: [{webhook: "https://chat.example/hooks/T0/B0/secret"}]
        hosts:
          web1: {address: 10.0.0.1}
          web2: {address: 10.0.0.2}
          web3: {address: 10.0.0.3, window: null, notify: []}
        groups:
          tokyo:
            hosts: [web2]
            window: {tz: Asia/Tokyo, days: [mon, tue, wed], start: "21:00", end: "23:00"}
        """
    )
    assert hosts["web1"].window == Window(tz="UTC", start="01:00", end="02:00")
    assert hosts["web1"].notify == ("https://chat.example/hooks/T0/B0/secret",)
    assert hosts["web2"].window == TOKYO
    assert hosts["web2"].notify == hosts["web1"].notify
    assert hosts["web3"].window is None and hosts["web3"].notify == ()


def test_every_mistake_in_a_window_or_a_webhook_names_file_and_line() -> None:
    found = problems_of(
        """\
        hosts:
          a:
            window: {tz: Asia/Tokyo, days: [mon, Tue], start: 21:00, end: "24:00"}
            notify: [{webhook: "ftp://files.example/x"}, {url: "https://x.example"}]
          b:
            window: {start: "21:00", end: "23:00"}
        """
    )
    assert found == [
        "hosts.yaml:3: hosts.a.window.days[1]: must be one of mon, tue, wed, thu, fri, sat, sun",
        "hosts.yaml:3: hosts.a.window.start: must be a string, not integer (hint: quote the "
        'time: start: "21:00" (YAML reads it unquoted as the number 1260))',
        "hosts.yaml:3: hosts.a.window.end: '24:00' does not match ^([01][0-9]|2[0-3]):[0-5][0-9]$"
        ' (hint: a time of day as "HH:MM", from "00:00" to "23:59", quoted)',
        "hosts.yaml:4: hosts.a.notify[0].webhook: 'ftp://files.example/x' does not match "
        "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]+ (hint: an http:// or https:// URL)",
        "hosts.yaml:4: hosts.a.notify[1]: missing required key 'webhook'",
        "hosts.yaml:4: unknown key 'url' (hint: known keys: webhook)",
        "hosts.yaml:6: hosts.b.window: missing required key 'tz'",
    ]


def test_an_unknown_zone_or_a_window_of_no_time_is_refused_with_its_line() -> None:
    found = problems_of(
        """\
        defaults:
          window: {tz: Asia/Tokio, start: "21:00", end: "23:00"}
        hosts:
          a:
            window:
              tz: Europe/Berlin
              days: [fri, fri]
              start: "22:00"
              end: "22:00"
          b: {notify: [{webhook: "https://hooks.example/a b"}, {webhook: "http://:80/x"}]}
        """
    )
    assert found == [
        "hosts.yaml:2: defaults.window.tz: unknown time zone 'Asia/Tokio' (hint: a name from "
        "the IANA database, e.g. Asia/Tokyo, Europe/Berlin, UTC)",
        "hosts.yaml:7: hosts.a.window.days: fri is named twice",
        "hosts.yaml:9: hosts.a.window: start and end are both 22:00 (hint: a window from 21:00 "
        'to 23:00 has start "21:00", end "23:00"; one that crosses midnight ends the next day: '
        'start "23:00", end "01:00")',
        "hosts.yaml:10: hosts.b.notify[0].webhook: has a space or a control character",
        "hosts.yaml:10: hosts.b.notify[1].webhook: is not an http:// or https:// URL with a host",
    ]


# --- the executor: the window before every step -------------------------------------------------

OPEN = "2026-04-13T21:30:00+09:00"  # monday, inside TOKYO
CLOSED = "2026-04-16T21:30:00+09:00"  # thursday


def ticking(*moments: str) -> Callable[[], datetime]:
    """A clock that gives each moment in turn at each look, then the last one again."""
    queue: Iterator[str] = iter(moments)
    last = [moments[-1]]

    def clock() -> datetime:
        last[0] = next(queue, last[0])
        return at(last[0])

    return clock


def windowed(window: Window = TOKYO) -> Host:
    return replace(WEB1, window=window)


def test_a_release_started_outside_the_window_stops_at_the_first_gate() -> None:
    r = rig(plan_of(RUNBOOK, windowed()), clock=ticking(CLOSED))
    gate = ScriptedGate([])

    code = release([r.run], gate)

    assert code == STOPPED
    assert sent(r.transport) == [] and gate.asked == []
    (check,) = r.journal.of(WindowCheck)
    assert (check.step, check.outcome, check.reason) == ("look", "closed", None)
    assert check.window == "mon, tue, wed 21:00-23:00 Asia/Tokyo"
    assert check.there == "Thu 2026-04-16 21:30 JST (UTC+09:00)"
    assert check.now == "2026-04-16T12:30:00+00:00"
    assert gates(r.journal) == [("look", REFUSED, None)]
    end = end_of(r.journal)
    assert end.result is Result.STOPPED
    assert "step 1 (look) not started: outside the booked window" in end.message
    assert "web1's window is mon, tue, wed 21:00-23:00 Asia/Tokyo" in end.message
    assert "it is now Thu 2026-04-16 21:30 JST (UTC+09:00) there" in end.message
    assert "on this machine" in end.message
    assert "it opens next Mon 2026-04-20 21:00 JST" in end.message
    assert 'release again within the window, or give --outside-window "REASON"' in end.message
    assert end.message in r.text


def test_a_release_inside_the_window_runs_every_step() -> None:
    r = rig(plan_of(RUNBOOK, windowed()), clock=ticking(OPEN))
    assert release([r.run], ScriptedGate(["yes"] * 3)) == DONE
    assert sent(r.transport) == ["look-around", "backup", "deploy-new", "restart-app"]
    assert r.journal.of(WindowCheck) == []


def test_the_window_is_checked_before_every_step_so_its_end_stops_the_next_gate() -> None:
    # One look per step: look, backup, deploy run inside; the end passes before restart.
    clock = ticking(OPEN, OPEN, "2026-04-13T22:59:59+09:00", "2026-04-13T23:00:00+09:00")
    r = rig(plan_of(RUNBOOK, windowed()), clock=clock)
    gate = ScriptedGate(["yes", "yes"])

    code = release([r.run], gate)

    assert code == STOPPED
    assert sent(r.transport) == ["look-around", "backup", "deploy-new"]
    assert [c.step for c in r.journal.of(WindowCheck)] == ["restart"]
    end = end_of(r.journal)
    assert "step 4 (restart) not started" in end.message
    assert "resume within the window from step restart (the next command below)" in end.message
    assert ends(r.journal)[-1] == ("deploy", Outcome.OK)


def test_a_retry_after_the_window_closed_is_refused() -> None:
    clock = ticking(OPEN, OPEN, OPEN, "2026-04-13T23:30:00+09:00")
    r = rig(plan_of(RUNBOOK, windowed()), FakeTransport(rules={"deploy-new": fails()}))
    r.run.clock = clock
    gate = ScriptedGate(["yes", "yes", "retry"])

    assert release([r.run], gate) == STOPPED
    assert sent(r.transport).count("deploy-new") == 1  # not tried again
    assert [c.step for c in r.journal.of(WindowCheck)] == ["deploy"]


def test_outside_window_with_a_reason_runs_and_records_each_step_outside() -> None:
    r = rig(plan_of(RUNBOOK, windowed()), clock=ticking(CLOSED), outside_window="INC-42 hotfix")

    assert release([r.run], ScriptedGate(["yes"] * 3)) == DONE

    assert sent(r.transport) == ["look-around", "backup", "deploy-new", "restart-app"]
    checks = r.journal.of(WindowCheck)
    assert [(c.step, c.outcome, c.reason) for c in checks] == [
        (step, "overridden", "INC-42 hotfix") for step in ("look", "backup", "deploy", "restart")
    ]
    assert "outside the booked window, going on (--outside-window 'INC-42 hotfix')" in r.text


def test_rollback_steps_run_even_after_the_window_closed() -> None:
    clock = ticking(OPEN, OPEN, OPEN, "2026-04-13T23:30:00+09:00")
    r = rig(plan_of(RUNBOOK, windowed()), FakeTransport(rules={"deploy-new": fails()}))
    r.run.clock = clock

    assert release([r.run], ScriptedGate(["yes", "yes", "rollback", "yes", "yes"])) == STEP_FAILED

    assert sent(r.transport)[-2:] == ["restore", "restart-old"]
    assert end_of(r.journal).result is Result.ROLLED_BACK
    assert r.journal.of(WindowCheck) == []


def test_a_batch_stops_when_one_hosts_window_is_closed_and_records_it_there() -> None:
    items = [
        HostRun(plan_of(RUNBOOK, windowed()), "run-1"),
        HostRun(plan_of(RUNBOOK, replace(WEB1, name="web2", address="10.0.0.2")), "run-2"),
    ]
    journals = {"run-1": MemoryJournal(), "run-2": MemoryJournal()}
    transports = {"web1": FakeTransport(), "web2": FakeTransport()}
    screen = io.StringIO()

    code = run_batch(
        Batch(
            kind=RunKind.RELEASE,
            connect=fake_connect(transports),
            open_journal=lambda run_id: journals[run_id],
            console=_console(screen),
            gate=YesGate(),
            operator="tester",
            clock=ticking(CLOSED),
        ),
        items,
    )

    assert code == STOPPED
    assert [sent(t) for t in transports.values()] == [["lock", "unlock"]] * 2
    assert len(journals["run-1"].of(WindowCheck)) == 1
    assert journals["run-2"].of(WindowCheck) == []  # web2 has no window
    assert all(end_of(j).result is Result.STOPPED for j in journals.values())
    assert "web1: booked window mon, tue, wed 21:00-23:00 Asia/Tokyo, closed now" in (
        screen.getvalue()
    )
    assert "`inv release --from" not in screen.getvalue()  # it stopped at the first step


def test_the_start_event_keeps_the_reason_and_a_clock_that_is_not_this_machines() -> None:
    journal = MemoryJournal()
    run_batch(
        Batch(
            kind=RunKind.RELEASE,
            connect=fake_connect({"web1": FakeTransport()}),
            open_journal=lambda run_id: journal,
            console=_console(io.StringIO()),
            gate=YesGate(),
            clock=clock_from(CLOSED),
            outside_window="INC-42",
        ),
        [HostRun(plan_of(RUNBOOK, windowed()), RUN_ID)],
    )
    (start,) = journal.of(Start)
    assert (start.outside_window, start.clock) == ("INC-42", f"RUNBOOK_NOW={CLOSED}")
    assert Start.from_json(start.to_json()) == start
    assert Start.from_json({"event": "start"}).outside_window is None  # older journals
    assert end_of(journal).result is Result.DONE
    assert {c.phase for c in journal.of(WindowCheck)} == {Phase.STEPS}


def _console(screen: io.StringIO) -> Console:
    return Console(screen, colour=False)


def test_inv_rollback_runs_outside_the_window_and_says_nothing_of_it() -> None:
    journal = MemoryJournal()
    screen = io.StringIO()
    backup = Backup(step="backup", path="/etc/app.conf", backup="/b", sha256="ab" * 32)
    plan = replace(plan_of(RUNBOOK, windowed()), steps=())
    transport = FakeTransport()

    code = run_batch(
        Batch(
            kind=RunKind.ROLLBACK,
            connect=fake_connect({"web1": transport}),
            open_journal=lambda run_id: journal,
            console=_console(screen),
            gate=YesGate(),
            clock=ticking(CLOSED),
        ),
        [HostRun(plan, RUN_ID, {backup.path: backup}, rolls_back="run-0")],
    )

    assert code == DONE
    assert sent(transport) == ["lock", "restore", "restart-old", "unlock"]
    assert journal.of(WindowCheck) == []
    assert "booked window" not in screen.getvalue()


def test_a_window_is_described_in_the_readers_language() -> None:
    from runbook.words import Words

    nights = Window(tz="Asia/Tokyo", start="23:00", end="01:00", days=("tue", "mon"))
    assert nights.describe() == "mon, tue 23:00-01:00 (next day) Asia/Tokyo"
    assert nights.describe(Words("ja")) == "月・火 23:00〜01:00（翌日）（Asia/Tokyo）"
    daily = Window(tz="UTC", start="09:00", end="17:00")
    assert daily.describe() == "every day 09:00-17:00 UTC"
    assert daily.describe(Words("ja")) == "毎日 09:00〜17:00（UTC）"
