"""The dry run, `inv show --output`, a step's one-line summary, the booked window's clock and
the notifications' delivery (runbook.words.reviewing): the English is what it was, byte for
byte, and `--lang ja` says them in Japanese, leaving only values (paths, ids, digests, commits,
a host's own words) in English. And what the review says rollback removes first is what a real
rollback removes: only the files of puts no earlier backup covers.

Plans are made from projects on disk with real git; puts run on this machine's shell
(LocalTransport) on real files; notifications go to real sockets on loopback.
"""

from __future__ import annotations

import io
import re
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from runbook.commands import team
from runbook.commands.history import report
from runbook.commands.review import dry_run
from runbook.console import Console
from runbook.core import markdown
from runbook.core.model import Action
from runbook.core.scripts import step_script
from runbook.core.window import FixedClock, Window, clock_text
from runbook.errors import STEP_FAILED, STOPPED
from runbook.execute import Batch, HostRun, release, run_batch, show
from runbook.execute.notify import NotDelivered, post_json
from runbook.gate import YesGate
from runbook.journal import Journal, load_run
from runbook.journal.events import End, Put, Remove, Restore, RunKind
from runbook.options import Options
from runbook.testing import FakeTransport, ScriptedGate, fake_connect
from runbook.words import EN, Words
from tests.conftest import make_repo, run_cli
from tests.test_execute import RUNBOOK, WEB1, plan_of, rig
from tests.test_put import host_dir, local_run, plan_for, project_with
from tests.test_words_signing import english_left, japanese

JA = Words("ja")
__all__ = ["host_dir"]  # the fixture, imported so that pytest finds it here


def _english_of_ours(said: str, *values: object) -> list[str]:
    """Our words left in English in `said` (values, paths, backticked names removed)."""
    return [w for w in english_left(said, *values) if w not in {"put", "base64", "diff"}]


# --- the dry run --------------------------------------------------------------------------------


def changes_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A runbook with `changes:` (one diff, one path without a difference) and a put as a diff."""
    runbook = (
        "name: r\nvars:\n  commit: \"{{ git_rev('clone', 'origin/feature') }}\"\n"
        "changes:\n"
        "  - {repo: clone, from: origin/main, to: '{{ commit }}', paths: [app.conf]}\n"
        "  - {repo: clone, from: origin/main, to: '{{ commit }}', paths: [same.conf]}\n"
        "steps:\n  - id: site\n"
        "    put: {src: confs/site.conf, dest: /etc/nginx/site.conf, diff_base: main}\n"
        "  - id: whole\n    put: {src: confs/whole.conf, dest: /etc/nginx/whole.conf}\n"
    )
    project = project_with(tmp_path, runbook, {})
    ids = make_repo(project, {"main": {"confs/site.conf": "listen 80;\n"}})
    (project / "confs" / "site.conf").write_text("listen 8080;\n")
    (project / "confs" / "whole.conf").write_text("gzip on;\n")
    ids |= make_repo(
        project / "clone",
        {
            "main": {"app.conf": "a\n", "same.conf": "s\n"},
            "origin/main": None,
            "origin/feature": {"app.conf": "b\n", "same.conf": "s\n"},
        },
    )
    return project, ids


def test_the_dry_run_says_its_digest_keys_changes_and_puts_in_japanese(tmp_path: Path) -> None:
    project, ids = changes_project(tmp_path)
    plan = plan_for(project)
    feature, main = ids["origin/feature"], ids["origin/main"]

    english = dry_run([plan], approve_command="inv release --approved D")
    said = dry_run([plan], approve_command="inv release --approved D", words=JA)

    assert f"\ndigest sha256:{plan.digest}\n" in english
    assert (
        f"changes in clone: origin/main ({main}) → {feature} ({feature}), paths app.conf\n"
        in english
    )
    assert "\n  (no difference in these paths)\n" in english
    main_commit = plan.steps[0].put.base_commit if plan.steps[0].put else ""
    assert f"\n       diff against main ({main_commit}):\n       | " in english
    assert "\n       content, in full:\n       | gzip on;\n" in english
    assert english.count("\n       script (its data is this content, base64):\n") == 2

    assert f"\nダイジェスト sha256:{plan.digest}\n" in said
    assert f"clone の変更: origin/main（{main}）→ {feature}（{feature}）、対象パス app.conf" in said
    assert "\n  （これらのパスに差分はありません）\n" in said
    assert f"\n       main（{main_commit}）との差分:\n" in said
    assert "\n       内容（全文）:\n" in said
    assert said.count("\n       スクリプト（データはこの内容を base64 にしたもの）:\n") == 2
    ours = [
        ln
        for ln in said.splitlines()
        if not ln.startswith("       ") and not ln.startswith(("  diff", "  index", "  ---"))
    ]
    ours = [ln for ln in ours if not re.match(r"  [-+@ ]", ln)]
    values = ("inv release --approved D", "web1", "clone", "app.conf", "same.conf", "site", "whole")
    for line in ours:
        assert _english_of_ours(line, *values) == [], line


def test_the_dry_run_says_the_host_keys_file_in_japanese(tmp_path: Path) -> None:
    key = tmp_path / "known_hosts"
    key.write_text(
        "10.0.0.1 ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    )
    plan = plan_of(RUNBOOK, replace(WEB1, known_hosts=(str(key),)))
    assert plan.trust, "the key file is read"
    english = dry_run([plan], approve_command="A")
    said = dry_run([plan], approve_command="A", words=JA)
    fingerprint = plan.trust[0].fingerprint
    assert f"trusts ssh-ed25519 {fingerprint} (from {key})\n" in english
    assert f"信頼するホスト鍵: ssh-ed25519 {fingerprint}（{key} より）\n" in said


def test_the_restore_placeholders_are_said_on_screen_and_stay_english_in_what_is_hashed(
    tmp_path: Path,
) -> None:
    plan = plan_of(RUNBOOK)
    restore = next(s for s in plan.rollback if s.action is Action.RESTORE)
    placeholders = (
        "'{backup made by the release}'",
        "'{sha256 recorded at backup}  -'",
        "'{mode and owner recorded at backup}'",
        "'{this path, or the file it linked to at backup}'",
    )
    sent = step_script(restore)
    assert all(p in sent for p in placeholders)

    said = dry_run([plan], approve_command="A", words=JA)
    english = dry_run([plan], approve_command="A")
    assert all(p in english for p in placeholders)
    assert not any(p.strip("'") in said for p in placeholders)
    for japanese_placeholder in (
        "'{リリースが作ったバックアップ}'",
        "'{バックアップ時に記録した sha256}  -'",
        "'{バックアップ時に記録したモードと所有者}'",
        "'{このパス、またはバックアップ時にリンク先だったファイル}'",
    ):
        assert japanese_placeholder in said
    # The digest covers the steps, not the text shown: the same in both, and as pinned before.
    assert f"sha256:{plan.digest}" in said and f"sha256:{plan.digest}" in english
    assert plan.digest == plan_of(RUNBOOK).digest
    # The review document shows the script as it is sent, in either language.
    review = markdown.review([plan], lang="ja")
    assert all(p in review for p in placeholders)


# --- inv show --output ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "review of r for web1 written to review.md\n"),
        ("ja", "web1 向けの r のレビューを review.md に書き出しました\n"),
    ],
)
def test_show_output_confirms_in_the_operators_language(
    tmp_path: Path, lang: str, said: str
) -> None:
    project = project_with(tmp_path, 'name: r\nsteps:\n  - {id: hello, run: "echo hi"}\n', {})
    (project / "hosts.yaml").write_text("hosts:\n  web1: {address: 10.0.0.1, sudo: false}\n")

    result = run_cli("show", "--host", "web1", "--output", "review.md", "--lang", lang, cwd=project)

    assert result.returncode == 0, result.stderr
    assert result.stdout == said
    assert (project / "review.md").is_file()


# --- what rollback removes first: only the files of puts no backup covers ----------------------


def backed_and_new(tmp_path: Path, host: Path, *, failing: bool = False) -> Path:
    """A backup of live.conf, a put over it, a put of a new file (then a failing step)."""
    live, new = host / "live.conf", host / "extra-new.conf"
    runbook = (
        "name: r\nsteps:\n"
        f"  - id: backup\n    backup: {live}\n"
        f"  - id: conf\n    put: {{src: confs/live.conf, dest: {live}}}\n"
        f"  - id: extra\n    put: {{src: confs/extra.conf, dest: {new}}}\n"
        + ("  - id: test\n    run: 'false'\n" if failing else "")
        + f"rollback:\n  - id: restore\n    restore: {live}\n"
    )
    live.write_text("old\n")
    return project_with(tmp_path, runbook, {"confs/live.conf": "new\n", "confs/extra.conf": "x\n"})


def test_the_review_says_rollback_removes_only_the_new_file_and_a_real_rollback_does_so(
    tmp_path: Path, host_dir: Path
) -> None:
    live, new = host_dir / "live.conf", host_dir / "extra-new.conf"
    project = backed_and_new(tmp_path, host_dir, failing=True)
    plan = plan_for(project)

    english = dry_run([plan], approve_command="A")
    assert (
        f"  first (no gate): remove each file a put created, while it has the put's sha256: {new}\n"
    ) in english
    said = dry_run([plan], approve_command="A", words=JA)
    assert f"put が作成した各ファイルを、put の sha256 のままなら削除: {new}\n" in said

    review = markdown.review([plan], lang="en")
    first = next(ln for ln in review.splitlines() if ln.startswith("First, before R1"))
    assert f"`{new}`" in first and f"`{live}`" not in first
    kept = next(ln for ln in review.splitlines() if ln.startswith("Rollback never removes"))
    assert f"`{live}`" in kept and f"`{new}`" not in kept
    review_ja = markdown.review([plan], lang="ja")
    first = next(ln for ln in review_ja.splitlines() if ln.startswith("まず R1 の前に"))
    assert f"`{new}`" in first and f"`{live}`" not in first
    kept = next(ln for ln in review_ja.splitlines() if "切り戻しで削除しません" in ln)
    assert f"`{live}`" in kept and f"`{new}`" not in kept

    # What the review says is what happens: the failure rolls back (--yes) on this machine.
    run, _ = local_run(plan)
    assert release([run], YesGate()) == STEP_FAILED
    events = run.journal.events  # type: ignore[attr-defined]
    assert [e.path for e in events if isinstance(e, Remove)] == [str(new)]
    assert [e.path for e in events if isinstance(e, Restore)] == [str(live)]
    assert [(p.dest, p.created) for p in events if isinstance(p, Put)] == [
        (str(live), False),
        (str(new), True),
    ]
    assert not new.exists() and live.read_text() == "old\n"


def test_without_a_new_file_the_review_says_nothing_is_removed_first(
    tmp_path: Path, host_dir: Path
) -> None:
    live = host_dir / "live.conf"
    runbook = (
        f"name: r\nsteps:\n  - id: backup\n    backup: {live}\n"
        f"  - id: conf\n    put: {{src: c.conf, dest: {live}}}\n"
        f"rollback:\n  - id: restore\n    restore: {live}\n"
    )
    plan = plan_for(project_with(tmp_path, runbook, {"c.conf": "c\n"}))
    assert "first (no gate)" not in dry_run([plan], approve_command="A")
    review = markdown.review([plan], lang="en")
    assert "First, before R1" not in review and "Rollback never removes these" in review


# --- a step in one line, at the gate and in the dry run ------------------------------------------


def test_a_put_in_one_line_is_said_in_japanese_and_again_from_the_journal(
    tmp_path: Path, host_dir: Path
) -> None:
    project = backed_and_new(tmp_path, host_dir)
    plan = plan_for(project)
    conf = plan.steps[1]
    assert conf.put is not None
    sha = conf.put.sha256[:12]
    english = f"put confs/live.conf → {host_dir}/live.conf (mode 0644, 4 bytes, sha256:{sha})"
    japanese_line = (
        f"ファイル配置 confs/live.conf → {host_dir}/live.conf"
        f"（モード 0644、4 バイト、sha256:{sha}）"
    )
    assert conf.display() == english
    assert conf.display(JA) == japanese_line
    assert JA.again(english) == japanese_line  # as the journal records it
    owned = replace(conf, put=replace(conf.put, owner="root:www"))
    assert owned.display() == (
        f"put confs/live.conf → {host_dir}/live.conf (mode 0644, owner root:www, 4 bytes, "
        f"sha256:{sha})"
    )
    assert JA.again(owned.display()) == owned.display(JA)
    assert "所有者 root:www" in owned.display(JA)

    # At the gate: the console in Japanese, the journal in English.
    screen = io.StringIO()
    run, _ = local_run(plan)
    run.console = Console(screen, colour=False, words=JA)
    gate = ScriptedGate(["yes", "yes", "yes"])
    assert release([run], gate) == 0
    text = screen.getvalue()
    assert f"  バックアップ {host_dir}/live.conf\n" in text
    assert f"  {japanese_line}\n" in text
    assert english not in text
    starts = [e for e in run.journal.events if e.name == "step_start"]  # type: ignore[attr-defined]
    assert [s.command for s in starts][:2] == [f"backup {host_dir}/live.conf", english]
    details = [text for question, text in gate.asked if question == "before"]
    assert any("ファイル配置、sudo なし" in d for d in details)


def test_a_websocket_checks_subprotocol_and_a_restore_without_backup_are_said_in_japanese() -> None:
    plan = plan_of(
        RUNBOOK
        + "  - id: cable\n    check:\n      websocket: ws://10.0.0.1/cable\n"
        + "      subprotocol: actioncable-v1-json\n"
    )
    cable = plan.rollback[-1]
    assert cable.display() == (
        "websocket ws://10.0.0.1/cable → 101 Switching Protocols (subprotocol actioncable-v1-json)"
    )
    assert cable.display(JA) == (
        "websocket ws://10.0.0.1/cable → 101 Switching Protocols"
        "（サブプロトコル actioncable-v1-json）"
    )

    restore = next(s for s in plan.rollback if s.action is Action.RESTORE)
    for words, expected in (
        (EN, "# no backup of /etc/app.conf was made by the release: this step will fail"),
        (JA, "# リリースは /etc/app.conf のバックアップを作っていません: この手順は失敗します"),
    ):
        r = rig(plan)
        r.run.console = Console(io.StringIO(), colour=False, words=words)
        details = show.details(r.run, restore)
        assert f"\n    {expected}" in details
        screen = io.StringIO()
        r.run.console = Console(screen, colour=False, words=words)
        show.command([r.run], [restore])
        action = "restore" if words is EN else "復元"
        assert screen.getvalue() == f"  {action} /etc/app.conf\n"


# --- the booked window's clock -----------------------------------------------------------------

TOKYO = Window(tz="Asia/Tokyo", start="21:00", end="23:00", days=("mon",))
CLOSED = datetime.fromisoformat("2026-12-01T21:01:00+00:00")  # Wed 06:01 in Tokyo


def test_a_clock_says_its_weekday_in_japanese_and_in_english_as_before() -> None:
    assert clock_text(CLOSED, TOKYO.zone) == "Wed 2026-12-02 06:01 JST (UTC+09:00)"
    assert clock_text(CLOSED, TOKYO.zone, JA) == "2026-12-02(水) 06:01 JST (UTC+09:00)"
    utc = Window(tz="UTC", start="01:00", end="02:00").zone
    assert clock_text(CLOSED, utc) == "Tue 2026-12-01 21:01 UTC"
    assert clock_text(CLOSED, utc, JA) == "2026-12-01(火) 21:01 UTC"
    assert (
        JA.again("Sun 2026-12-06 23:59 CET (UTC+01:00)") == "2026-12-06(日) 23:59 CET (UTC+01:00)"
    )
    assert JA.again("Wed is a day") == "Wed is a day"  # a host's words are left alone


def test_a_window_stop_says_days_in_japanese_on_the_console_and_in_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    run_id = "20261201T210100Z-0001"
    screen = io.StringIO()
    code = run_batch(
        Batch(
            kind=RunKind.RELEASE,
            connect=fake_connect({"web1": FakeTransport()}),
            open_journal=lambda rid: Journal.create(state, rid),
            console=Console(screen, colour=False, words=JA),
            gate=YesGate(),
            clock=FixedClock(CLOSED.isoformat()),
        ),
        [HostRun(plan_of(RUNBOOK, replace(WEB1, window=TOKYO)), run_id)],
    )
    assert code == STOPPED
    console = screen.getvalue()
    assert "現地 2026-12-02(水) 06:01 JST (UTC+09:00)" in console
    assert "次に開くのは 2026-12-07(月) 21:00 JST (UTC+09:00)" in console
    assert not re.search(r"\b(Mon|Tue|Wed)\b", console)

    record = load_run(state / "runs" / f"{run_id}.jsonl")
    end = next(e for e in record.events if isinstance(e, End))
    assert "it is now Wed 2026-12-02 06:01 JST (UTC+09:00) there" in end.message  # English
    assert "it opens next Mon 2026-12-07 21:00 JST (UTC+09:00)" in end.message
    said = report(Options(project=tmp_path), run_id, lang="ja")
    assert "2026-12-02(水) 06:01 JST (UTC+09:00)" in said
    assert "2026-12-07(月) 21:00 JST (UTC+09:00)" in said
    assert "| 2026-12-02(水) 06:01 JST (UTC+09:00) |" in said  # the window checks' table
    assert not re.search(r"\b(Mon|Tue|Wed)\b", said)
    english = report(Options(project=tmp_path), run_id, lang="en")
    assert "| Wed 2026-12-02 06:01 JST (UTC+09:00) |" in english


# --- notifications ---------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as closed:
        closed.bind(("127.0.0.95", 0))
        return int(closed.getsockname()[1])


@pytest.fixture
def hanging() -> Iterator[str]:
    """A webhook whose kernel accepts the connection and which never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.96", 0))
        server.listen(8)
        yield f"http://127.0.0.96:{server.getsockname()[1]}/hook"


@pytest.fixture
def untrusted(tmp_path: Path) -> Iterator[str]:
    """An https webhook with a certificate nobody signed (made by openssl here)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.97", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.socket()
    server.bind(("127.0.0.97", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.97:{server.getsockname()[1]}/hook"
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)


def _reason(url: str, timeout: float = 3) -> str:
    with pytest.raises(NotDelivered) as raised:
        post_json(url, b"{}", timeout)
    return str(raised.value)


def test_why_a_notification_was_not_delivered_is_said_again_in_japanese(
    closed_port: int, hanging: str, untrusted: str
) -> None:
    refused = _reason(f"http://127.0.0.95:{closed_port}/hook")
    assert refused == "connection refused"
    assert JA.again(refused) == "接続を拒否されました"
    timed_out = _reason(hanging, 0.3)
    assert timed_out == "no answer (timed out)"
    assert JA.again(timed_out) == "応答がありません（タイムアウト）"
    not_trusted = _reason(untrusted)
    assert not_trusted.startswith("TLS certificate not trusted: ")
    why = not_trusted.removeprefix("TLS certificate not trusted: ")
    assert JA.again(not_trusted) == f"TLS 証明書を信頼できません: {why}"  # OpenSSL's words kept
    scheme = _reason("ftp://127.0.0.95/")
    assert scheme == "not an http:// or https:// URL"
    assert japanese(JA.again(scheme)) and "URL" in JA.again(scheme)
    joined = f"{refused}; not delivered when the run ended (left for `inv report`)"
    assert JA.again(joined) == (
        "接続を拒否されました; 実行の終了時に送信できませんでした(`inv report` に残しました)"
    )


def test_undelivered_notifications_are_said_in_japanese_on_the_console_and_in_the_report(
    tmp_path: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.95:{closed_port}/hook"
    host = replace(WEB1, notify=(url,))
    said = {}
    for words in (EN, JA):
        state = tmp_path / f"state-{words.lang}"
        screen = io.StringIO()
        run_batch(
            Batch(
                kind=RunKind.RELEASE,
                connect=fake_connect({"web1": FakeTransport()}),
                open_journal=lambda rid, state=state: Journal.create(state, rid),
                console=Console(screen, colour=False, words=words),
                gate=YesGate(),
                notify_wait=1.0,
            ),
            [HostRun(plan_of(RUNBOOK, host), "20261201T210100Z-0002")],
        )
        said[words.lang] = (screen.getvalue(), state)
    assert (
        "notifications: 2 of 2 not delivered (kept in the journal; `inv report` lists them and "
        "sends them again)\n"
    ) in said["en"][0]
    assert (
        "通知: 2 件中 2 件を送信できませんでした（ジャーナルに残しました。`inv report` が一覧にして"
        "送り直します）\n"
    ) in said["ja"][0]

    state = said["ja"][1]
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    monkeypatch.setattr(team, "post_json", post_json)  # still refused: sent again, in vain
    text = report(Options(project=tmp_path), "20261201T210100Z-0002", lang="ja")
    rows = [ln for ln in text.splitlines() if "127.0.0.95" in ln]
    assert len(rows) == 2 and "接続を拒否されました" in rows[0]
    assert all(_english_of_ours(ln.split("**")[-1]) == [] for ln in rows), rows
    record = load_run(state / "runs" / "20261201T210100Z-0002.jsonl")
    first = team.undelivered(record)[0]  # recorded in English, as sent again by the report
    assert first.reason.startswith("connection refused; ")
