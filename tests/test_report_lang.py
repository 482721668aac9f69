"""The report in English and in Japanese, from one journal: snapshots of both, and not one
English word the tool wrote left in the Japanese one.

The run is made on fakes (a failed step retried, then rolled back; a manual step; a skipped
one); its journal's times are then fixed, so the snapshots are the same on every machine.
`UPDATE_SNAPSHOTS=1 pytest tests/test_report_lang.py` writes them again after a deliberate
change (read the diff!).
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest

from runbook.commands.history import report
from runbook.console import Console
from runbook.errors import STEP_FAILED
from runbook.execute import Batch, HostRun, run_batch
from runbook.journal.events import RunKind
from runbook.journal.store import Journal
from runbook.options import Options
from runbook.testing import FakeTransport, ScriptedGate, fake_connect
from runbook.words import EN, MESSAGES, Words
from tests.test_execute import backup_answer, fails, plan_of

HERE = Path(__file__).parent
SNAPSHOTS = HERE / "reports"
TEMPLATES = HERE.parent / "src" / "runbook" / "templates"
RUN_ID = "20261201T180000Z-0001"

RUNBOOK = """\
name: night
title: Night release
steps:
  - id: look
    run: echo look-around
    confirm: false
  - id: backup
    backup: /etc/app.conf
  - id: tell
    title: Tell the on-call team
    manual: Post in the channel that the release starts.
  - id: warm
    run: echo warm-cache
  - id: deploy
    run: echo deploy-new
  - id: restart
    run: echo restart-app
rollback:
  - id: restore
    restore: /etc/app.conf
  - id: restart-old
    run: echo restart-old
"""

# yes to backup, done with tell, skip warm, yes to deploy; it fails: retry, it fails again:
# roll back (yes to each rollback step).
ANSWERS = ["yes", "yes", "skip", "yes", "retry", "rollback", "yes", "yes"]


def _night(tmp_path: Path, words: Words = EN) -> tuple[Path, str]:
    """The night's run on fakes: the state directory, and what the console showed."""
    state = tmp_path / "state"
    screen = io.StringIO()
    plan = plan_of(RUNBOOK)
    transport = FakeTransport(
        rules={"backup": backup_answer(run_id=RUN_ID), "deploy-new": fails("fatal: bad", 1)}
    )
    code = run_batch(
        Batch(
            kind=RunKind.RELEASE,
            connect=fake_connect({"web1": transport}),
            open_journal=lambda rid: Journal.create(state, rid),
            console=Console(screen, colour=False, words=words),
            gate=ScriptedGate(list(ANSWERS)),
            operator="tester",
            options=("--host", "web1"),
        ),
        [HostRun(plan, RUN_ID)],
    )
    assert code == STEP_FAILED
    _fix_times(state / "runs" / f"{RUN_ID}.jsonl")
    return state, screen.getvalue()


def _fix_times(path: Path) -> None:
    """Every time in the journal made the same on every run: one second per event."""
    lines = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        event = json.loads(line)
        event["at"] = f"2026-12-01T18:00:{n:02d}+00:00"
        if event["event"] == "start":
            event["started_at"] = event["at"]
        if event.get("duration") is not None:
            event["duration"] = 1.5
        lines.append(json.dumps(event, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str, zone: str = "Asia/Tokyo"
) -> str:
    state, _ = _night(tmp_path)
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    monkeypatch.setenv("TZ", zone)
    return report(Options(project=tmp_path, lang=lang), RUN_ID)


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed (UPDATE_SNAPSHOTS=1)"


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_report_of_a_failed_and_rolled_back_night_is_its_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    _snapshot(f"night.{lang}.md", _report(tmp_path, monkeypatch, lang))


def test_times_are_on_the_operators_clock_with_the_zone_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokyo = _report(tmp_path / "a", monkeypatch, "en")
    assert "| Started | 2026-12-02 03:00:00 JST (+09:00) |" in tokyo
    paris = _report(tmp_path / "b", monkeypatch, "ja", zone="Europe/Paris")
    assert "| 開始 | 2026-12-01 19:00:00 CET (+01:00) |" in paris
    # The journal itself stays in UTC.
    journal = (tmp_path / "b" / "state" / "runs" / f"{RUN_ID}.jsonl").read_text()
    assert '"started_at": "2026-12-01T18:00:00+00:00"' in journal


# --- no English the tool wrote in the Japanese report ------------------------------------------

# Words that are names, not English: tools, streams, units, the digest's algorithm, a user.
NAMES = {"sha", "sudo", "stdout", "stderr", "inv", "ssh", "http", "https", "yes", "url", "root"}


def _english_of_the_tool() -> set[str]:
    """Every English word the tool itself can write in a report: the catalog's English side
    and the English report template's own text (without its Jinja and its code)."""
    texts = [en for en, _ in MESSAGES.values()]
    template = (TEMPLATES / "report.en.md.j2").read_text(encoding="utf-8")
    texts.append(re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", template, flags=re.DOTALL))
    found: set[str] = set()
    for text in texts:
        text = re.sub(r"`[^`]*`|\{\w+\}", " ", text)  # commands and placeholders
        found |= {w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)}
    return found - NAMES


def _prose(markdown: str) -> str:
    """A document without what is code: fences (commands, output) and inline code (ids,
    paths, commands)."""
    markdown = re.sub(r"^(`{3,}|~{3,}).*?^\1\s*$", " ", markdown, flags=re.DOTALL | re.M)
    markdown = re.sub(r"(`+)(?:(?!\1).)+?\1", " ", markdown)
    return re.sub(r"\S*/\S*", " ", markdown)  # paths, shown as text in a step's message


def test_the_japanese_report_has_no_english_word_the_tool_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    japanese = _report(tmp_path, monkeypatch, "ja")
    # The runbook's own text, the host and what it said, the operator: theirs, not the tool's.
    theirs = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", RUNBOOK + " web1 tester fatal: bad")}
    english = _english_of_the_tool() - theirs
    assert len(english) > 150  # the list is not empty by mistake
    left = sorted(
        {w for w in re.findall(r"[A-Za-z]{3,}", _prose(japanese)) if w.lower() in english}
    )
    assert left == [], left


def test_the_japanese_console_has_no_english_word_the_tool_wrote(tmp_path: Path) -> None:
    """The same night on the console in Japanese: progress, outcomes, the end and the next
    moves; what is not the tool's (commands after `$`, the host's output after `│`) aside."""
    _, screen = _night(tmp_path, Words("ja"))
    assert "web1: 手順 deploy が失敗しました（終了コード 1: fatal: bad）。" in screen
    assert "次: inv release --host web1  （原因を直してから、もう一度リリース）" in screen
    prose = "\n".join(
        line.split("│")[0]
        for line in screen.splitlines()
        if not line.lstrip().startswith(("$ ", "backup ", "restore "))
    )
    prose = re.sub(r"\binv [^（\n]*", " ", prose)  # the next commands, ready to copy
    theirs = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", RUNBOOK + " web1 tester fatal: bad")}
    english = _english_of_the_tool() - theirs
    left = sorted({w for w in re.findall(r"[A-Za-z]{3,}", _prose(prose)) if w.lower() in english})
    assert left == [], screen
