"""What the tool's own scripts say on the host (runbook.words.hostside), the labels of a put's
diff, a rollback's other releases and the review's window cell: the English is what it was,
byte for byte, and `--lang ja` says them in Japanese, leaving only values in English.

The scripts run for real, with `sh` on this machine (LocalTransport: the same `sh -e` reading
the script on its stdin as on a host), through the executor's own handlers, so the message is
the one a run records.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import replace
from pathlib import Path

import pytest

from runbook.commands import fleet
from runbook.console import Console
from runbook.core import markdown, scripts
from runbook.core.model import Outcome, Plan
from runbook.core.window import Window
from runbook.errors import DONE, STEP_FAILED, RefusedError
from runbook.execute import Run, handlers
from runbook.execute.preview import live_diff
from runbook.journal.events import Backup, Put
from runbook.options import Options
from runbook.testing import FakeTransport, MemoryJournal
from runbook.transport.local import LocalTransport
from runbook.words import EN, Words
from tests.test_execute import RUNBOOK, backup_answer, fails
from tests.test_execute import plan_of as execute_plan_of
from tests.test_nextmove import release_on_disk
from tests.test_put import plan_for, project_with, put_runbook

JA = Words("ja")
# What may stay in English in a Japanese message: paths, numbers and modes, and names.
VALUES = re.compile(r"/[\w./-]+|[\w./-]*\d[\w./:+-]*|\b(?:put|root|sha256|directory|owner)\b")


def english_left(japanese: str) -> list[str]:
    """The English words of ours left in a Japanese text (values taken out)."""
    return re.findall(r"[A-Za-z]{2,}", VALUES.sub(" ", japanese))


def said_in_japanese(message: str) -> str:
    """`message` said again in Japanese, also inside the end messages a release builds around
    a failed step's message, with no English of ours left anywhere; English said again is the
    message itself."""
    for around in (
        message,
        EN("end.failed-left", step="s1", why=message),
        EN("end.rolled-back", step="s2", why=message, hosts="web1"),
    ):
        assert Words("en").again(around) == around
        japanese = JA.again(around)
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", japanese), japanese
        assert english_left(japanese) == [], japanese
    return JA.again(message)


def local_run(plan: Plan, words: Words = EN, **options: object) -> tuple[Run, io.StringIO]:
    """A Run whose "host" is this machine's shell, with a memory journal."""
    screen = io.StringIO()
    run = Run(
        plan=plan,
        run_id="20261201T220000Z-0001",
        transport=LocalTransport(),
        journal=MemoryJournal(),
        console=Console(screen, colour=False, words=words),
        **options,  # type: ignore[arg-type]
    )
    return run, screen


def backup_plan(tmp_path: Path, path: Path, backup_dir: Path) -> Plan:
    runbook = (
        f"name: r\nsteps:\n  - id: backup\n    backup: {path}\n"
        f"rollback:\n  - id: restore\n    restore: {path}\n"
    )
    plan = plan_for(project_with(tmp_path, runbook, {}))
    return replace(plan, host=replace(plan.host, backup_dir=str(backup_dir)))


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "host"
    folder.mkdir()
    folder.chmod(0o755)
    return folder


def failed(attempt: handlers.Attempt) -> str:
    assert attempt.status is Outcome.FAILED, attempt
    return attempt.message


def test_a_backup_of_a_missing_file(tmp_path: Path, host_dir: Path) -> None:
    path = host_dir / "missing.conf"
    plan = backup_plan(tmp_path, path, host_dir / "backups")
    run, _ = local_run(plan)
    message = failed(handlers.backup(run, plan.steps[0]))
    assert message == f"backup: {path} does not exist"
    assert said_in_japanese(message) == f"バックアップ: {path} は存在しません"


def test_a_backup_directory_others_can_write(tmp_path: Path, host_dir: Path) -> None:
    path = host_dir / "app.conf"
    path.write_text("listen 80;\n")
    backups = host_dir / "backups"
    backups.mkdir()
    backups.chmod(0o777)
    plan = backup_plan(tmp_path, path, backups)
    run, _ = local_run(plan)
    message = failed(handlers.backup(run, plan.steps[0]))
    user = run.transport.run("id -un").stdout.strip()
    assert message == (
        f"backup: refused: the backup directory {backups} must be a directory of {user}'s that "
        f"nobody else can write (it is: directory, mode 777, owner {user})"
    )
    japanese = said_in_japanese(message)
    assert f"バックアップディレクトリ {backups} は {user} のディレクトリで" in japanese


def test_a_backup_of_a_file_in_a_directory_others_can_write(tmp_path: Path, host_dir: Path) -> None:
    shared = host_dir / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    path = shared / "app.conf"
    path.write_text("listen 80;\n")
    plan = backup_plan(tmp_path, path, host_dir / "backups")
    run, _ = local_run(plan)
    message = failed(handlers.backup(run, plan.steps[0]))
    user = run.transport.run("id -un").stdout.strip()
    assert message == (
        f"backup: refused: another user may write {shared} (mode 777, owner {user}) and could "
        "swap the file while it is copied or renamed"
    )
    assert "別のユーザーが書き込めるため" in said_in_japanese(message)


def test_a_restore_whose_backup_is_missing(tmp_path: Path, host_dir: Path) -> None:
    path = host_dir / "app.conf"
    path.write_text("listen 80;\n")
    gone = host_dir / "backups" / "app.conf.gone"
    plan = backup_plan(tmp_path, path, host_dir / "backups")
    made = Backup(step="backup", path=str(path), backup=str(gone), sha256="0" * 64)
    run, _ = local_run(plan, backups={str(path): made})
    message = failed(handlers.restore(run, plan.rollback[0]))
    assert message == f"restore: backup {gone} is missing"
    assert said_in_japanese(message) == f"復元: バックアップ {gone} がありません"


def test_a_restore_whose_backup_lost_its_mode(tmp_path: Path, host_dir: Path) -> None:
    path = host_dir / "app.conf"
    path.write_text("listen 80;\n")
    copy = host_dir / "app.conf.copy"
    copy.write_text("listen 80;\n")
    copy.chmod(0o644)
    plan = backup_plan(tmp_path, path, host_dir / "backups")
    run, _ = local_run(plan)
    owner = run.transport.run(f"stat -c '%U:%G' {copy}").stdout.strip()
    sha = hashlib.sha256(b"listen 80;\n").hexdigest()
    made = Backup(step="b", path=str(path), backup=str(copy), sha256=sha, mode=f"600 {owner}")
    run.backups[str(path)] = made
    message = failed(handlers.restore(run, plan.rollback[0]))
    assert message == f"restore: backup {copy} does not match its recorded mode and owner " + (
        f"(644 {owner})"
    )
    assert f"モードと所有者（644 {owner}）" in said_in_japanese(message)


def test_a_put_whose_directory_is_missing(tmp_path: Path, host_dir: Path) -> None:
    dest = host_dir / "nowhere" / "app.conf"
    project = project_with(tmp_path, put_runbook(dest, backup=False), {"files/app.conf": "new\n"})
    plan = plan_for(project)
    run, _ = local_run(plan)
    message = failed(handlers.put(run, plan.steps[0]))
    assert message == f"put: directory {dest.parent} does not exist"
    assert said_in_japanese(message) == f"put: ディレクトリ {dest.parent} は存在しません"


def test_a_put_over_a_file_not_backed_up(tmp_path: Path, host_dir: Path) -> None:
    dest = host_dir / "app.conf"
    dest.write_text("live\n")
    project = project_with(tmp_path, put_runbook(dest, backup=False), {"files/app.conf": "new\n"})
    plan = plan_for(project)
    run, _ = local_run(plan)
    message = failed(handlers.put(run, plan.steps[0]))
    assert message == (
        f"put: {dest} exists and no earlier step of this run backed it up: refused, since "
        "rollback could not restore it"
    )
    assert "切り戻しで元に戻せないため" in said_in_japanese(message)


def test_a_file_the_put_created_that_changed_since_is_left_in_place(
    tmp_path: Path, host_dir: Path
) -> None:
    dest = host_dir / "app.conf"
    dest.write_text("edited by hand\n")
    project = project_with(tmp_path, put_runbook(dest, backup=False), {"files/app.conf": "new\n"})
    made = Put(step="put", dest=str(dest), sha256="0" * 64, created=True)
    run, _ = local_run(plan_for(project), created={str(dest): made})
    message = failed(handlers.undo_puts(run))
    assert message == f"remove: {dest} changed since the put (its sha256 differs): left in place"
    assert said_in_japanese(message) == (
        f"削除: {dest} は put の後に変更されています（sha256 が異なります）: そのまま残しました"
    )


def test_the_preflights_guard_of_the_backup_directory(host_dir: Path) -> None:
    shared = host_dir / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    script = "\n".join(["u=$(id -u)", scripts.dir_guard("backup directory"), f"guard {shared}"])
    result = LocalTransport().run(script)
    assert result.exit_code == scripts.REFUSED
    message = result.stderr.strip()
    assert message.startswith(f"backup directory: refused: another user may write {shared} ")
    assert said_in_japanese(message).startswith(
        f"バックアップディレクトリ: 拒否しました: {shared} "
    )


def test_a_restores_line_is_said_inside_a_failed_rollback_step() -> None:
    message = "restore: backup /b/app.conf.1 is missing"
    end = EN("end.rollback-step-failed", step="restore", why=message, hands_on=EN("end.hands-on"))
    assert JA.again(end) == (
        "切り戻し手順 restore が失敗しました: 復元: バックアップ /b/app.conf.1 がありません。"
        "ホストを直接確認し対処する必要があります"
    )


def test_a_does_not_match_line_inside_a_failed_rollback_step() -> None:
    """The '; ' is the frame's own: not two messages joined, whatever its first part looks
    like ("rollback step restore failed: …" is not "{where}: {value} does not match {x}")."""
    message = "restore: backup /b/app.conf.1 does not match its recorded sha256"
    end = EN("end.rollback-step-failed", step="restore", why=message, hands_on=EN("end.hands-on"))
    assert JA.again(end) == (
        "切り戻し手順 restore が失敗しました: 復元: バックアップ /b/app.conf.1 が記録された "
        "sha256 と一致しません。ホストを直接確認し対処する必要があります"
    )


def test_a_does_not_match_line_inside_a_rollbacks_reason() -> None:
    """A generic "{x} does not match {y}" has more words of its own than "step {step} failed:
    {why}", but explains less of the text: the entry that explains most is said."""
    message = "restore: backup /b/app.conf.1 does not match its recorded sha256"
    said = JA.again(EN("end.rollback-because", step="restore", why=message))
    assert (
        said
        == "手順 restore が失敗しました: 復元: バックアップ /b/app.conf.1 が記録された sha256 と"
        "一致しません"
    )


def test_a_host_line_that_only_looks_like_ours_is_left_alone() -> None:
    assert JA.again("backup: nothing to do") == "backup: nothing to do"
    assert JA.again("cannot bind (port 80 on 0.0.0.0)") == "cannot bind (port 80 on 0.0.0.0)"


# --- a put's diff at its gate -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "live", "put"), [(EN, " (live)", " (put)"), (JA, "（現在）", "（put の後）")]
)
def test_the_labels_of_a_put_diff_are_in_the_consoles_words(
    tmp_path: Path, host_dir: Path, words: Words, live: str, put: str
) -> None:
    dest = host_dir / "app.conf"
    dest.write_text("listen 80;\n")
    project = project_with(
        tmp_path, put_runbook(dest, backup=True), {"files/app.conf": "listen 8080;\n"}
    )
    plan = plan_for(project)
    made = Backup(step="backup", path=str(dest), backup=f"{dest}.bak", sha256="0" * 64)
    run, _ = local_run(plan, words, backups={str(dest): made})
    shown = live_diff(run, plan.steps[1])
    assert f"--- a{dest}{live}\n" in shown and f"+++ b{dest}{put}\n" in shown
    assert "-listen 80;\n    +listen 8080;" in shown  # the diff's body as it is
    dest.unlink()
    assert f"+++ b{dest}{put}\n" in live_diff(run, plan.steps[1])  # a file to be created


# --- inv rollback: the releases of other runbooks -------------------------------------------------


def test_the_releases_that_can_be_rolled_back_instead_are_said_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    for number, name in ((1, "demo"), (2, "third")):
        run_id = f"20261201T10000{number}Z-000{number}"
        backed = FakeTransport(rules={"backup": backup_answer(run_id=run_id)})
        plan = execute_plan_of(RUNBOOK.replace("name: demo", f"name: {name}"))
        assert release_on_disk(state, run_id, ["yes"] * 3, backed, plan) == DONE
    other = execute_plan_of(RUNBOOK.replace("name: demo", "name: other"))
    transport = FakeTransport(rules={"look-around": fails()})
    assert release_on_disk(state, "20261201T110000Z-0009", ["abort"], transport, other) == (
        STEP_FAILED
    )
    with pytest.raises(RefusedError) as refused:
        fleet.rollback(Options(project=tmp_path), None, fleet.RunOptions(), Console(io.StringIO()))
    hint = str(refused.value.hint)
    assert hint == (
        "the latest release of another runbook can be: "
        "inv rollback --run 20261201T100002Z-0002 (third on web1); "
        "inv rollback --run 20261201T100001Z-0001 (demo on web1); inv history shows every run"
    ) or hint == (
        "the latest release of another runbook can be: "
        "inv rollback --run 20261201T100001Z-0001 (demo on web1); "
        "inv rollback --run 20261201T100002Z-0002 (third on web1); inv history shows every run"
    )
    japanese = JA.again(hint)
    assert "inv rollback --run 20261201T100001Z-0001（web1 の demo）" in japanese
    assert "inv rollback --run 20261201T100002Z-0002（web1 の third）" in japanese
    assert japanese.endswith("; inv history ですべての実行を確認できます"), japanese
    assert english_left(re.sub(r"inv \w+|--\w+|demo|third|web1|runbook", " ", japanese)) == []
    message = JA.again(refused.value.message)
    assert message.startswith("切り戻すものがありません"), message


def test_several_refusals_are_said_one_by_one() -> None:
    refusals = "; ".join(
        [
            EN("error.rollback.already-by", run="R1", host="web1", by="R2"),
            EN("error.rollback.no-backup", run="R3", host="web2", steps="migrate"),
        ]
    )
    assert JA.again(refusals) == (
        "web1 の実行 R1 はすでに切り戻されています（実行 R2 で）; web2 の実行 R3 はバックアップ"
        "なしでホストを変更しました（手順 migrate）: 手作業で切り戻してください"
    )


# --- the review's window cell -------------------------------------------------------------------


def test_the_reviews_window_cell_is_said_in_the_documents_language() -> None:
    window = Window(tz="Asia/Tokyo", start="07:00", end="06:00")
    plan = execute_plan_of(RUNBOOK)
    plan = replace(plan, host=replace(plan.host, window=window))
    english = markdown.review([plan], lang="en")
    assert "| web1 | every day 07:00-06:00 (next day) Asia/Tokyo |" in english
    japanese = markdown.review([plan], lang="ja")
    assert "| web1 | 毎日 07:00〜06:00（翌日）（Asia/Tokyo） |" in japanese
    assert "every day" not in japanese and "next day" not in japanese
