"""Refusals of the commands and the executor (runbook.words.refusing): their English is what it
was, byte for byte, and `--lang ja` says them in Japanese, leaving only values in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runbook.commands.preflight import _said, check_host
from runbook.commands.reachable import reachable
from runbook.errors import BAD_INPUT
from runbook.execute.hostlock import describe_holder
from runbook.testing import FakeTransport, fake_connect
from runbook.transport.base import CommandResult
from runbook.words import EN, Words, refusing
from tests.conftest import run_cli
from tests.test_preflight_readonly import RUNBOOK, plan_of

JA = Words("ja")
HOLDER = describe_holder(
    {
        "run": "20261125T144100Z-3fa9",
        "operator": "alice",
        "started_at": "2026-11-25T14:41:00+00:00",
        "machine": "deploy1",
        "pid": 4242,
    }
)

# (the message by key, the English it said before it was in the catalog, the values it names)
CASES = [
    (
        EN("error.lock.held", host="web1", holder=HOLDER, lock="/tmp/rr.lock"),
        "web1 is locked by run 20261125T144100Z-3fa9 of alice since 2026-11-25T14:41:00+00:00 "
        "from deploy1 pid 4242 (/tmp/rr.lock)",
    ),
    (
        EN("error.lock.held-not-named", host="web1", holder=HOLDER, lock="/l", named="A, B"),
        f"web1 is locked by {HOLDER} (/l); --break-lock names A, B, not that run",
    ),
    (
        EN("error.lock.stale-gone-hint", run="R1", break_run="R1"),
        "that process no longer runs here, so the lock is stale; if that run is over, check the "
        "host (inv report --run R1) and run again with --break-lock R1",
    ),
    (
        EN("error.lock.cannot-create", lock="/l", host="web1", reason="exit status 1"),
        "cannot create the lock /l on web1: exit status 1",
    ),
    (
        EN("error.lock.not-ours", lock="/l", host="web1", owner="?"),
        "/l on web1 exists and is not a lock of this tool (it has no valid holder record; "
        "owner ?): it is left alone",
    ),
    (
        EN("error.rollback.nothing-skipped", run="R1", host="web1", skipped="migrate, switch"),
        "nothing to roll back: run R1 on web1 changed nothing (no step that changes the host "
        "ran; skipped: migrate, switch)",
    ),
    (
        EN("error.rollback.already-by", run="R1", host="web1", by="R2"),
        "run R1 on web1 was already rolled back (by run R2)",
    ),
    (
        EN("error.rollback.no-backup", run="R1", host="web1", steps="migrate"),
        "run R1 on web1 changed the host without a backup (steps migrate): roll back by hand",
    ),
    (
        EN(
            "error.rollback.lock-stays-hint",
            runs="R9",
            rest=EN("error.rollback.history-hint"),
        ),
        "no connection was made, so a stale lock stays; `inv release --break-lock R9` removes "
        "it; inv history shows every run",
    ),
    (
        EN("error.gate.no-terminal"),
        "no terminal to ask at the gates, and no --yes",
    ),
    (
        EN("error.sudo.no-password-on", host="web1"),
        "sudo on web1 asks for a password and none is set",
    ),
    (
        EN("error.approval.mismatch", what="web1", actual="ab", wanted="cd", differences=""),
        "the plan for web1 is not the approved one: its digest is sha256:ab, the approved one "
        "sha256:cd",
    ),
    (
        EN("error.approval.required-hint", command="inv show --host web1"),
        "review with `inv show --host web1`; its last line is the release command to approve, "
        "with the full digest",
    ),
]

# What may stay in English in a Japanese refusal: values, names, commands, options, paths.
VALUES = re.compile(
    r"`[^`]*`|inv \w+|--[\w-]+(?: \S+)?|sha256:\w+|/[\w./-]+|\b(?:web1|alice|deploy1|migrate|"
    r"switch|DIGEST|OpenSSH|RUNBOOK_\w+|runbook|sudo|pid)\b|\bR\d\b|\bA\b|\bB\b|"
    r"[\w./-]*\d[\w./:+-]*"
)


@pytest.mark.parametrize(("said", "english"), CASES, ids=[e[:40] for _, e in CASES])
def test_the_english_is_what_it_was_and_japanese_leaves_only_values(
    said: str, english: str
) -> None:
    assert said == english
    japanese = JA.again(english)
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", japanese), japanese
    left = re.findall(r"[A-Za-z]{2,}", VALUES.sub(" ", japanese))
    assert left == [], japanese


def test_the_holder_of_a_lock_is_said_inside_the_refusal() -> None:
    japanese = JA.again(EN("error.lock.held", host="web1", holder=HOLDER, lock="/l"))
    assert "alice の実行 20261125T144100Z-3fa9" in japanese and "ロックしています" in japanese


def test_refusals_are_only_error_keys() -> None:
    """Only `error.` keys are said again at the CLI boundary: a refusal under another prefix
    would stay English (preflight's lines are said by key)."""
    assert refusing.MESSAGES
    assert all(k.startswith(("error.", "preflight.")) for k in refusing.MESSAGES)


def test_a_refusal_on_the_command_line_is_in_japanese(project: Path) -> None:
    (project / "runbooks" / "app.yaml").write_text(
        "name: app\nsteps:\n  - id: hello\n    run: echo hello\n"
    )
    env = {"RUNBOOK_STATE_DIR": str(project / "state")}
    args = ("release", "--runbook", "app", "--host", "web1", "--approved", "abc")
    english = run_cli(*args, "--lang", "en", cwd=project, env=env)
    assert english.returncode == BAD_INPUT, english
    assert "--approved takes the whole digest: 64 hex digits" in english.stderr
    japanese = run_cli(*args, "--lang", "ja", cwd=project, env=env)
    assert japanese.returncode == BAD_INPUT, japanese
    assert "--approved にはダイジェスト全体" in japanese.stderr, japanese.stderr
    assert "偽造した計画" in japanese.stderr and "whole digest" not in japanese.stderr


# --- preflight's lines -------------------------------------------------------------------------


def test_preflight_says_each_line_in_the_operators_language() -> None:
    answers = {
        "sudo -n": CommandResult(1, "", "sudo: a password is required", 0.0),
        "df -P": CommandResult(0, "dir /var/backups/release-runbook\navail 99999999\n", "", 0.0),
    }
    plan = plan_of(RUNBOOK)
    report = check_host(plan, fake_connect({"web1": FakeTransport(rules=answers)}), True)
    english = [_said(EN, f.check) for f in report.findings]
    assert "sudo as root" in english and "backup /etc/app.conf (step backup)" in english
    japanese = [_said(JA, f.check) for f in report.findings]
    assert "root としての sudo" in japanese
    assert "バックアップ /etc/app.conf（手順 backup）" in japanese
    notes = [_said(JA, f.note) for f in report.findings if f.ok and f.note]
    assert "パスワードは受け入れられました" in notes or "パスワード不要" in notes, notes


def test_a_check_urls_failure_is_said_again() -> None:
    problem = reachable("http:///path") or ""
    assert problem == "the URL names no host"
    assert JA.again(problem) == "URL にホストがありません"


def test_refusals_of_several_hosts_joined_are_each_said_again() -> None:
    one = EN("error.lock.held", host="web1", holder="alice", lock="/run/a.lock")
    two = EN("error.lock.held", host="web2", holder="bob", lock="/run/b.lock")
    said = Words("ja").again(f"{one}; {two}")
    assert said == "; ".join(
        Words("ja")("error.lock.held", host=h, holder=w, lock=lock)
        for h, w, lock in (("web1", "alice", "/run/a.lock"), ("web2", "bob", "/run/b.lock"))
    )
    # A message with "; " inside it is still one message, said again whole.
    held = EN("error.lock.held-not-named", host="web1", holder="alice", lock="/run/a", named="R1")
    assert Words("ja").again(held) == Words("ja")(
        "error.lock.held-not-named", host="web1", holder="alice", lock="/run/a", named="R1"
    )


def test_no_journal_is_said_in_japanese_and_unchanged_in_english(tmp_path: Path) -> None:
    from runbook.errors import RefusedError
    from runbook.journal.events import RunKind
    from runbook.journal.record import find_run

    with pytest.raises(RefusedError) as refused:
        find_run(tmp_path, host="web1", kind=RunKind.RELEASE, runbook="app", started=True)
    english = refused.value.message
    assert english == f"no journal of a release of runbook app on host web1 in {tmp_path / 'runs'}"
    said = Words("ja").again(english)
    assert said == Words("ja")(
        "error.journal.none-runbook-host",
        what=Words("ja")("error.journal.a-release"),
        runbook="app",
        host="web1",
        folder=tmp_path / "runs",
    )
    assert "inv history" in Words("ja").again(refused.value.hint or "")
    assert "refused" not in Words("ja").again(refused.value.hint or "")
