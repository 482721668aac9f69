"""What a night of releases and stops says in Japanese: each message made by the real code
(fakes for the hosts), its English what it was byte for byte (or, where it was wrong in both
languages, what it now deliberately is), and its Japanese with only values left in English."""

from __future__ import annotations

import io
import os
import re
import unicodedata
from dataclasses import replace
from pathlib import Path

import paramiko
import pytest

from runbook.commands.history import history
from runbook.console import Console
from runbook.core.model import Host, Plan, Result
from runbook.errors import STOPPED, RefusedError
from runbook.execute import Batch, HostRun, run_batch
from runbook.execute.steps import release, rollback
from runbook.journal.events import Backup, RunKind
from runbook.journal.store import Journal, JournalError, check_private, prepare_state_dir
from runbook.options import Options
from runbook.testing import FakeTransport, MemoryJournal, ScriptedGate, fake_connect
from runbook.transport.base import CommandResult
from runbook.transport.hops import chain
from runbook.transport.ssh_errors import UnknownHostKey, connect_error, fingerprint
from runbook.words import EN, MESSAGES, Said, Words, connecting, recorded, refusing, running
from tests.conftest import run_cli
from tests.test_execute import (
    CONF,
    RUNBOOK,
    WEB1,
    WEB2,
    Stoppable,
    backup_answer,
    end_of,
    fails,
    made_at,
    plan_of,
    rig,
    step_ends,
)
from tests.test_words_connecting import DIRECT, _a_key, built

JA = Words("ja")
# Words of ours that may stay in Japanese: commands, options and names.
NAMES = {"Ctrl", "TERM", "KILL", "RUNBOOK_STATE_DIR", "ID"}


def english_left(said: str, *values: str) -> list[str]:
    """The English words of `said` that are neither a value of the message nor a name."""
    for value in sorted(values, key=len, reverse=True):
        said = said.replace(value, " ")
    said = re.sub(r"`[^`]*`|\binv \w+|\S*/\S*", " ", said)  # commands, paths
    words = re.findall(r"[A-Za-z][A-Za-z_\-0-9]+", said)
    return [w for w in words if w not in NAMES and not re.search(r"\d", w)]


def japanese_console(r: object) -> io.StringIO:
    """Give a rig's run a Japanese console; its screen."""
    screen = io.StringIO()
    r.run.console = Console(screen, colour=False, words=JA)  # type: ignore[attr-defined]
    return screen


# --- 1. stopped at a gate: the kind of step said again ----------------------------------------


def test_a_stop_at_a_gate_says_step_in_japanese_with_its_space() -> None:
    r = rig()
    assert release([r.run], ScriptedGate(["yes", "abort"])) == STOPPED
    english = end_of(r.journal).message
    assert english == "stopped by the operator at step 3 (deploy)"
    assert JA.again(english) == "作業者が手順 3（deploy）で中止しました"


def test_a_stop_at_a_rollback_gate_says_rollback_step_in_japanese() -> None:
    made = Backup(step="backup", path=CONF, backup=made_at("run-0"), sha256="ab" * 32, mode="640")
    r = rig(replace(plan_of(RUNBOOK), steps=()), backups={CONF: made})
    rollback([r.run], ScriptedGate(["abort"]), "inv rollback of run run-0")
    english = end_of(r.journal).message
    assert english == (
        "stopped by the operator at rollback step 1 (restore): the host needs hands-on care"
    )
    assert JA.again(english) == (
        "作業者が切り戻し手順 1（restore）で中止しました: ホストを直接確認し対処する必要があります"
    )


# --- 2. several hosts failed: each host's message said again ----------------------------------


def _two_hosts(gate: list[str], words: Words = EN) -> tuple[list[MemoryJournal], str]:
    broken = {"deploy-new": fails("broken config", 3), "backup": backup_answer()}
    screen = io.StringIO()
    journals = {"run-1": MemoryJournal(), "run-2": MemoryJournal()}
    code = run_batch(
        Batch(
            kind=RunKind.RELEASE,
            connect=fake_connect(
                {"web1": FakeTransport(rules=dict(broken)), "web2": FakeTransport(rules=broken)}
            ),
            open_journal=lambda run_id: journals[run_id],
            console=Console(screen, colour=False, words=words),
            gate=ScriptedGate(gate),
            operator="tester",
        ),
        [HostRun(plan_of(RUNBOOK, WEB1), "run-1"), HostRun(plan_of(RUNBOOK, WEB2), "run-2")],
    )
    assert code == 1
    return list(journals.values()), screen.getvalue()


def test_two_hosts_failed_each_named_in_english_and_said_again_in_japanese() -> None:
    (one, _), _ = _two_hosts(["yes", "yes", "abort"])
    english = end_of(one).message
    assert english == (
        "step deploy failed: on host web1: exit status 3: broken config; on host web2: exit "
        "status 3: broken config; host left as it is"
    )
    assert JA.again(english) == (
        "手順 deploy が失敗しました: ホスト web1: 終了コード 3: broken config; ホスト web2: "
        "終了コード 3: broken config。ホストはそのままです"
    )


def test_two_hosts_rolled_back_say_why_in_japanese_on_the_console() -> None:
    _, screen = _two_hosts(["yes", "yes", "rollback", "yes", "yes"], JA)
    assert (
        "web1、web2 を切り戻し中: 手順 deploy が失敗しました: ホスト web1: 終了コード 3: broken "
        "config; ホスト web2: 終了コード 3: broken config"
    ) in screen
    assert "on host" not in screen


def test_one_host_failed_is_said_as_before() -> None:
    r = rig(transport=FakeTransport(rules={"deploy-new": fails("broken config", 3)}))
    release([r.run], ScriptedGate(["yes", "yes", "abort"]))
    assert end_of(r.journal).message == (
        "step deploy failed: exit status 3: broken config; host left as it is"
    )


# --- 3. inv rollback's reason ------------------------------------------------------------------


def test_the_reason_of_inv_rollback_is_said_in_japanese() -> None:
    made = Backup(step="backup", path=CONF, backup=made_at("run-0"), sha256="ab" * 32, mode="640")
    plan = replace(plan_of(RUNBOOK), steps=())
    screen = io.StringIO()
    journal = MemoryJournal()
    batch = Batch(
        kind=RunKind.ROLLBACK,
        connect=fake_connect({"web1": FakeTransport()}),
        open_journal=lambda run_id: journal,
        console=Console(screen, colour=False, words=JA),
        gate=ScriptedGate(["yes", "yes"]),
        operator="tester",
    )
    item = HostRun(
        Plan.from_record(plan.record(), runbook="demo", runbook_path="x", digest=plan.digest),
        "run-9",
        {CONF: made},
        rolls_back="20261201T205430Z-e427",
    )
    run_batch(batch, [item])
    reason = str(Said("end.rollback-of-run", {"run": "20261201T205430Z-e427"}))
    assert reason == "inv rollback of run 20261201T205430Z-e427"  # recorded as before
    assert any(getattr(e, "reason", None) == reason for e in journal.events)
    assert "web1 を切り戻し中: 実行 20261201T205430Z-e427 の inv rollback" in screen.getvalue()


# --- 4. the second Ctrl-C ----------------------------------------------------------------------


def test_a_second_ctrl_c_is_said_in_japanese() -> None:
    local = Stoppable(rules={"build-here": KeyboardInterrupt()})
    local_deploy = "    run: echo build-here\n    local: true"
    r = rig(plan_of(RUNBOOK.replace("    run: echo deploy-new", local_deploy)), local=local)
    screen = japanese_console(r)
    release([r.run], ScriptedGate(["yes", "yes"]))
    (deploy,) = step_ends(r.journal, "deploy")
    assert deploy.message == "ended on this machine after a second Ctrl-C"  # recorded English
    assert "2 回目の Ctrl-C: deploy を今すぐ終了します（TERM、次に KILL）" in screen.getvalue()
    assert "a second" not in screen.getvalue()


# --- 5. the known_hosts files looked in, each missing one marked -------------------------------


def test_every_missing_known_hosts_file_is_marked_in_japanese(tmp_path: Path) -> None:
    key = paramiko.Ed25519Key.from_private_key_file(_a_key(tmp_path))
    here = tmp_path / "empty_known_hosts"
    here.write_text("")
    files = [str(here), str(tmp_path / "known_hosts"), str(tmp_path / "known_hosts2")]
    error = connect_error(
        UnknownHostKey("[127.0.0.1]:2222", key),
        Host("web1", "web"),
        chain(built(tmp_path, DIRECT)),
        files,
    )
    assert error.message.endswith(
        f"(looked for [127.0.0.1]:2222 in {files[0]}, {files[1]} (missing), {files[2]} (missing))"
    )
    said = JA.again(error.message)
    assert f"{files[0]}, {files[1]} (ありません), {files[2]} (ありません) で" in said
    assert "(missing)" not in said
    # A missing file first, then one that is there: marked too.
    first = connect_error(
        UnknownHostKey("[127.0.0.1]:2222", key),
        Host("web1", "web"),
        chain(built(tmp_path, DIRECT)),
        [files[1], files[0]],
    )
    assert f"in {files[1]} (missing), {files[0]})" in first.message
    assert f"{files[1]} (ありません), {files[0]} で" in JA.again(first.message)
    assert fingerprint(key) in said


# --- 6. the state directory and the journal ----------------------------------------------------


def test_a_state_directory_that_is_a_file_is_said_in_japanese(tmp_path: Path) -> None:
    state = tmp_path / "file"
    state.write_text("")
    with pytest.raises(JournalError) as caught:
        prepare_state_dir(state)
    error = caught.value
    assert error.message == f"cannot write the journal in {state}/runs: File exists"
    assert error.hint == "set RUNBOOK_STATE_DIR to a writable directory"
    said = JA.again(error.message)
    assert said == f"{state}/runs にジャーナルを書き込めません: File exists"
    assert english_left(JA.again(error.hint), "File exists") == []


def test_a_journal_that_cannot_be_created_is_said_in_japanese(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "run.jsonl"
    with pytest.raises(JournalError) as caught:
        Journal(path)
    assert caught.value.message == f"cannot create the journal {path}: No such file or directory"
    said = JA.again(caught.value.message)
    assert said == f"ジャーナル {path} を作成できません: No such file or directory"
    written = EN("error.journal.cannot-write", path=path, reason="No space left on device")
    assert written == f"cannot write the journal {path}: No space left on device"
    assert english_left(JA.again(written), "No space left on device") == []
    hint = EN("error.journal.cannot-write-hint")
    assert hint == "free space or fix permissions; nothing more will run until it can be recorded"
    assert english_left(JA.again(hint)) == []


def test_the_hint_of_a_journal_that_failed_mid_run_is_said_in_japanese() -> None:
    class Full(MemoryJournal):
        def write(self, event: object) -> None:
            if getattr(event, "step", None) == "deploy":
                raise JournalError("cannot write the journal /j: No space left on device")
            super().write(event)  # type: ignore[arg-type]

    r = rig(journal=Full())
    with pytest.raises(JournalError) as caught:
        release([r.run], ScriptedGate(["yes", "yes"]))
    hint = caught.value.hint or ""
    assert hint == (
        "the run stopped: nothing more ran, not even a rollback, as it could not be recorded; "
        "the host is as the last recorded step left it (inv report). Free space or fix "
        "permissions, then check the host and run `inv rollback`"
    )
    assert english_left(JA.again(hint)) == []
    assert "切り戻しも実行していません" in JA.again(hint)


@pytest.mark.parametrize(("mode", "who"), [(0o777, "others"), (0o770, "its group")])
def test_a_state_directory_others_can_write_is_said_in_japanese(
    tmp_path: Path, mode: int, who: str
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, mode)
    with pytest.raises(RefusedError) as caught:
        check_private(state)
    error = caught.value
    assert error.message == (
        f"the state directory {state} can be written by {who} (mode 0{mode:o}): a journal there "
        "could have been planted or changed, and a journal decides what rollback runs"
    )
    assert error.hint == (
        "use a state directory of your own (RUNBOOK_STATE_DIR, or .runbook/ in the project), "
        f"mode 0700; check {state} before trusting what is in it"
    )
    said = JA.again(error.message)
    assert said.startswith(f"状態ディレクトリ {state} は")
    assert english_left(said, str(state)) == []
    assert english_left(JA.again(error.hint), ".runbook/") == []


def test_a_state_directory_that_is_a_link_is_said_in_japanese(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real")
    with pytest.raises(RefusedError) as caught:
        check_private(link)
    message = caught.value.message
    assert message.startswith(f"the state file {link} is a symbolic link: a journal there")
    assert JA.again(message).startswith(f"状態ファイル {link} はシンボリックリンクです。")
    assert english_left(JA.again(message), str(link)) == []


def test_the_command_line_says_a_shared_state_directory_in_japanese(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "runs").mkdir(parents=True)
    os.chmod(state, 0o777)
    env = {"RUNBOOK_STATE_DIR": str(state)}
    english = run_cli("history", "--lang", "en", cwd=tmp_path, env=env)
    assert f"the state directory {state} can be written by others (mode 0777)" in english.stderr
    japanese = run_cli("history", "--lang", "ja", cwd=tmp_path, env=env)
    assert japanese.returncode == english.returncode != 0
    said = japanese.stderr
    assert f"状態ディレクトリ {state} は他のユーザーが書き込めます（モード 0777）" in said
    assert english_left(said, str(state)) == [], said


# --- 7. words: 切り戻し, 手順, spaces, parentheses, "may have been changed" -----------------------


def test_rollback_is_kirimodoshi_and_a_runbook_step_is_tejun_in_the_catalog() -> None:
    """ロールバック nowhere; ステップ only in the input file's problems (the YAML's `steps:`
    entries, `input.` keys), never in what a run or a refusal says."""
    for key, (_, japanese) in MESSAGES.items():
        assert "ロールバック" not in japanese, key
        if not key.startswith("input."):
            assert "ステップ" not in japanese, key


def test_parentheses_in_japanese_sentences_are_full_width() -> None:
    # The missing known_hosts mark is ssh's own form, kept as the host-key entries write it.
    for module in (refusing, connecting, running, recorded):
        for key, (_, japanese) in module.MESSAGES.items():
            if key.endswith("missing-then"):
                continue
            assert "(" not in japanese and ")" not in japanese, key


def test_the_lock_holder_and_the_approved_digest_use_full_width_parentheses() -> None:
    holder = EN(
        "error.lock.holder",
        run="20261201T203000Z-0906",
        operator="alice",
        started="2026-12-01T20:30:00+00:00",
        machine="deploy1",
        pid=42,
    )
    said = JA.again(EN("error.lock.held", host="web1", holder=holder, lock="/tmp/rr.lock"))
    assert said == (
        "web1 は alice の実行 20261201T203000Z-0906（2026-12-01T20:30:00+00:00 から、deploy1 の "
        "pid 42）がロックしています（/tmp/rr.lock）"
    )
    assert "全体（レビューが表示する 16 進 64 桁）" in JA.again(EN("error.approval.whole-digest"))


def test_no_journal_of_a_run_puts_a_space_after_its_id(tmp_path: Path) -> None:
    env = {"RUNBOOK_STATE_DIR": str(tmp_path / "state")}
    (tmp_path / "state" / "runs").mkdir(parents=True, mode=0o700)
    os.chmod(tmp_path / "state", 0o700)
    english = run_cli("report", "--run", "nosuch", "--lang", "en", cwd=tmp_path, env=env)
    assert f"no journal of run nosuch in {tmp_path}/state/runs" in english.stderr
    japanese = run_cli("report", "--run", "nosuch", "--lang", "ja", cwd=tmp_path, env=env)
    assert f"{tmp_path}/state/runs に実行 nosuch のジャーナルがありません" in japanese.stderr
    on_host = EN("error.journal.none-run-host", run="r1", host="web1", folder="/s")
    assert on_host == "no journal of run r1 on host web1 in /s"
    assert JA.again(on_host) == "/s にホスト web1 の実行 r1 のジャーナルがありません"


def test_the_host_and_its_user_have_no_space_between_them() -> None:
    hint = EN(
        "error.transport.login-refused.hint",
        settings=EN("error.transport.settings.host"),
        where=EN("error.transport.where.host"),
    )
    assert "そのホストのそのユーザーの authorized_keys" in JA.again(hint)


LOCAL_LAST = """\
name: here
steps:
  - id: backup
    backup: /etc/app.conf
  - id: build
    run: echo build-here
    local: true
rollback:
  - id: restore
    restore: /etc/app.conf
"""


def test_a_local_step_is_on_kono_tanmatsu_with_no_space() -> None:
    r = rig(plan_of(LOCAL_LAST), local=FakeTransport())
    screen = japanese_console(r)
    gate = ScriptedGate(["yes", "yes"])
    release([r.run], gate)
    shown = screen.getvalue()
    assert "この端末の手順 2/2: build" in shown and "この端末 の" not in shown
    english = rig(plan_of(LOCAL_LAST), local=FakeTransport())
    release([english.run], ScriptedGate(["yes", "yes"]))
    assert "step 2/2 on this machine: build" in english.text


EXPECT_FAILS = """\
name: echo
steps:
  - id: expectfail
    run: echo hello
    expect:
      stdout: nope
"""


def test_a_failed_step_may_have_changed_the_host_in_both_languages() -> None:
    rule = {"echo hello": CommandResult(0, "hello\n", "", 0.0)}
    r = rig(plan_of(EXPECT_FAILS), FakeTransport(rules=rule))
    release([r.run], ScriptedGate(["yes", "abort"]))
    assert "the host web1: may have been changed by expectfail without a backup" in r.text
    ja = rig(plan_of(EXPECT_FAILS), FakeTransport(rules=rule))
    screen = japanese_console(ja)
    release([ja.run], ScriptedGate(["yes", "abort"]))
    assert (
        "ホスト web1: expectfail で変更された可能性があります（バックアップなし: 変更があれば"
        "手作業で戻してください）"
    ) in screen.getvalue()


def test_a_step_that_ran_ok_changed_the_host() -> None:
    r = rig()
    japanese_console(r)
    release([r.run], ScriptedGate(["yes", "yes", "abort"]))  # deploy ran; abort at restart
    english = rig()
    release([english.run], ScriptedGate(["yes", "yes", "abort"]))
    assert "the host web1: changed by deploy (with a backup" in english.text
    shown = r.run.console.stream.getvalue()  # type: ignore[attr-defined]
    assert "ホスト web1: deploy で変更されました（バックアップあり" in shown


def test_the_lost_connection_names_the_host_once() -> None:
    lost = CommandResult(None, "", "", 0.0, lost=True)
    r = rig(transport=FakeTransport(rules={"deploy-new": lost}))
    screen = japanese_console(r)
    release([r.run], ScriptedGate(["yes", "yes"]))
    lines = [line for line in screen.getvalue().splitlines() if "接続が切れたため" in line]
    assert lines and all(line.count("web1") == 1 for line in lines), lines
    assert end_of(r.journal).result is Result.UNKNOWN


# --- 8. inv history's columns in display cells -------------------------------------------------


def _cells(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_history_lines_up_its_japanese_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    stopped, done = ["yes", "abort"], ["yes"] * 3
    for run_id, answers in (("20261201T180000Z-0001", stopped), ("20261201T190000Z-0002", done)):
        run_batch(
            Batch(
                kind=RunKind.RELEASE,
                connect=fake_connect({"web1": FakeTransport(rules={"backup": backup_answer()})}),
                open_journal=lambda rid: Journal.create(state, rid),
                console=Console(io.StringIO(), colour=False),
                gate=ScriptedGate(answers),
                operator="tester",
            ),
            [HostRun(plan_of(RUNBOOK), run_id)],
        )
    for lang in ("ja", "en"):
        table = history(Options(project=tmp_path, lang=lang)).splitlines()
        assert len(table) == 3
        # Every column (run, kind, host, runbook, result, started) starts in the same cell on
        # every line: a wide character takes two.
        starts = [_column_starts(line) for line in table]
        assert all(len(s) == 6 for s in starts) and starts[0] == starts[1] == starts[2], table


def _column_starts(line: str) -> list[int]:
    """The cell where each column of a line of `inv history` starts (two spaces apart; the
    time, the last column, has single spaces inside)."""
    found = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", line)]
    return [_cells(line[:at]) for at in found[:6]]
