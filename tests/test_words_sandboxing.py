"""The sandbox tasks, Invoke's core options, RUNBOOK_NOW, the error boundary and a project's own
templates (runbook.words.sandboxing): their English is what it was, byte for byte, and in
Japanese (`--lang ja` or the locale) only values are left in English. The sandbox's own run is
in tests/e2e/test_sandbox.py."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest
from invoke.config import Config
from invoke.context import Context
from invoke.exceptions import Exit

from runbook import cli, tasks
from runbook.core import mdsandbox
from runbook.core.markdown import PACKAGED
from runbook.errors import BAD_INPUT, STEP_FAILED, RefusedError, RunbookError
from runbook.sandbox import Sandbox, processes, programs, users
from runbook.sandbox.cli import down, status
from runbook.sandbox.inventory import write_inventory
from runbook.sandbox.layout import Endpoints, Layout, refuse_other_settings, write_settings
from runbook.words import EN, Words, sandboxing
from tests.conftest import run_cli

JA = Words("ja")
JA_LOCALE = {"LANG": "ja_JP.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
# Names in any language: programs, options, settings, files, units; with values cut out.
TERMS = {
    "inv", "sandbox", "up", "down", "ssh", "sshd", "nginx", "backend", "sudo", "root", "pid",
    "http", "ws", "cable", "log", "main", "hosts", "yaml", "conf", "git", "apt", "get",
    "install", "openssh", "server", "port", "ports", "RUNBOOK_NOW", "RUNBOOK_SUDO_PASSWORD",
    "RUNBOOK_DEBUG", "FILE", "Invoke", "run", "echo", "dry", "release", "timeout",
    "timeouts", "command", "debug", "history", "check", "str", "upper", "center", "en", "ja",
    "templates", "review", "md", "j2", "UTF", "ISO", "IPv4", "upgrade", "export", "cat",
    "include", "name", "_name", "Errno", "No", "such", "file", "or", "directory", "URL",
    "WebSocket", "Address", "already", "in", "use", "released", "Expected", "an",
    "expression", "got", "end", "of", "statement", "block", "x", "y", "z", "etc", "d",
    "sudoers", "runbook", "true", "tmp", "pty", "Z",
}  # fmt: skip


def english_left(said: str, *values: str) -> list[str]:
    """The English words of `said` that are not `values`, names, paths or values with digits."""
    for value in values:
        said = said.replace(value, " ")
    said = re.sub(r"`[^`]*`|'[^']*'|/[\w./-]+|--[\w-]+|\S*\d\S*", " ", said)
    return [w for w in re.findall(r"[A-Za-z_]+", said) if w not in TERMS]


def japanese(said: str) -> bool:
    return re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", said) is not None


# --- the sandbox's errors, raised by the real code ---------------------------------------------


def _raised(call: object) -> RunbookError:
    assert callable(call)
    with pytest.raises(RunbookError) as caught:
        call()
    return caught.value


def _port_taken() -> tuple[socket.socket, int]:
    holder = socket.socket()
    holder.bind(("127.0.0.100", 0))
    holder.listen(1)
    return holder, holder.getsockname()[1]


def test_the_sandbox_refusals_keep_their_english_and_say_only_values_in_japanese(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path / "box")
    layout.root.mkdir()
    write_settings(layout, Endpoints("127.0.0.100", 1, 2, 3), user="u", as_root=False)
    (tmp_path / "one-line.yaml").write_text("hosts: {web1: {address: 10.0.0.1}}\n")
    (tmp_path / "taken.yaml").write_text("hosts:\n  sandbox: {address: 10.0.0.1}\n")
    (tmp_path / "open.yaml").write_text("hosts:\n  # >>> sandbox (written by inv sandbox.up; "
                                        "inv sandbox.down leaves it)\n  a: 1\n")  # fmt: skip
    holder, port = _port_taken()
    sshd = processes.component("sshd", layout, Endpoints("127.0.0.100", port, 1, 2), as_root=False)
    cases = [
        (
            lambda: Endpoints.checked("10.0.0.1", 1, 2, 3),
            "sandbox address '10.0.0.1' is not an IPv4 loopback address",
            "use 127.0.0.1 or another 127.x.y.z address",
        ),
        (
            lambda: Endpoints.checked("127.0.0.1", 1, 1, 3),
            "sandbox ports must differ: {'ssh_port': 1, 'http_port': 1, 'backend_port': 3}",
            None,
        ),
        (
            lambda: refuse_other_settings(layout, Endpoints("127.0.0.100", 4, 2, 3)),
            f"the sandbox at {layout.root} is running with 127.0.0.100 ssh 1, http 2, backend 3, "
            "not 127.0.0.100 ssh 4, http 2, backend 3",
            "run inv sandbox.down first, or use its address and ports",
        ),
        (
            lambda: processes.check_ports_free("127.0.0.100", [sshd]),
            f"cannot start the sandbox sshd: 127.0.0.100:{port} is in use (Address already in use)",
            "another sandbox or service holds it: stop it, or choose other ports (--ssh-port, "
            "--http-port, --backend-port)",
        ),
        (
            lambda: processes.wait_until(lambda: False, 0.01, EN("error.sandbox.wait.stop", pid=7)),
            "timed out after 0.01 s waiting for pid 7 to stop",
            None,
        ),
        (
            lambda: Sandbox.load(tmp_path / "nothing"),
            f"no sandbox at {tmp_path / 'nothing'}",
            "start one with inv sandbox.up",
        ),
        (
            lambda: write_inventory(tmp_path / "one-line.yaml", {"address": "127.0.0.1"}),
            f"{tmp_path / 'one-line.yaml'}: cannot add the sandbox host to a one-line `hosts:` "
            "mapping",
            "write hosts: as a block mapping (one host per line)",
        ),
        (
            lambda: write_inventory(tmp_path / "taken.yaml", {"address": "127.0.0.1"}),
            f"{tmp_path / 'taken.yaml'}: a host named sandbox is already defined outside the "
            "sandbox block",
            "remove it or rename it; the sandbox keeps its entry between '# >>> sandbox (written "
            "by inv sandbox.up; inv sandbox.down leaves it)' markers",
        ),
        (
            lambda: write_inventory(tmp_path / "open.yaml", {"address": "127.0.0.1"}),
            f"{tmp_path / 'open.yaml'}:2: the sandbox block has no end marker '# <<< sandbox'",
            None,
        ),
        (
            lambda: programs.run(["rbjx-no-such-program"]),
            "the sandbox needs rbjx-no-such-program, which is not installed",
            "apt-get install openssh-server nginx sudo git",
        ),
        (
            lambda: programs.run(["sh", "-c", "echo broken >&2; exit 3"]),
            "sandbox: sh -c echo broken >&2; exit 3 failed (exit 3): broken",
            None,
        ),
        (
            lambda: users.login_user_for("root", as_root=True),
            "the sandbox login user must not be root",
            None,
        ),
    ]
    try:
        for call, english, hint in cases:
            error = _raised(call)
            assert (error.message, error.hint) == (english, hint)
            for text in filter(None, (error.message, error.hint)):
                said = JA.again(text)
                assert japanese(said), said
                values = ("rbjx-no-such-program", "sh -c echo broken >&2; exit 3", "broken")
                assert english_left(said, *values) == [], said
    finally:
        holder.close()


def test_a_sandbox_that_did_not_start_is_said_with_its_log_as_it_is() -> None:
    english = EN("error.sandbox.exited", name="nginx", status=1, command="nginx -g x")
    said = JA.again(english + "\nnginx: [emerg] bind() failed")
    assert said == (
        "サンドボックスの nginx が終了コード 1 で終了しました: nginx -g x\n"
        "nginx: [emerg] bind() failed"
    )


# --- the sandbox's lines -----------------------------------------------------------------------


def test_every_sandbox_line_is_japanese_but_its_values() -> None:
    for key, (_, ja) in sandboxing.MESSAGES.items():
        if key.startswith("sandbox."):
            said = re.sub(r"\{\w+\}", " ", ja)
            assert japanese(said), key
            assert english_left(said) == [], key


def test_status_and_down_without_a_sandbox_speak_the_operators_language(tmp_path: Path) -> None:
    root = tmp_path / "nothing"
    assert status(root) == f"no sandbox at {root} (start one with inv sandbox.up)"
    assert (
        status(root, words=JA)
        == f"{root} にサンドボックスはありません（inv sandbox.up で起動してください）"
    )
    assert down(root) == f"no sandbox at {root}: nothing to stop"
    assert down(root, words=JA) == f"{root} にサンドボックスはありません: 止めるものはありません"


def test_the_status_of_a_stopped_sandbox_is_said_in_japanese(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "box")
    layout.root.mkdir()
    as_root = os.geteuid() == 0
    user = users.login_user_for(None, as_root=as_root)
    write_settings(layout, Endpoints("127.0.0.100", 1, 2, 3), user=user, as_root=as_root)
    english = status(layout.root)
    said = status(layout.root, words=JA)
    mode, ja_mode = ("root mode", "root モード") if as_root else ("user mode", "一般ユーザーモード")
    assert english.splitlines()[0] == f"sandbox {layout.root} on 127.0.0.100 ({mode})"
    assert said.splitlines()[0] == f"サンドボックス {layout.root}、127.0.0.100 上（{ja_mode}）"
    assert "  backend  stopped" in english and "  backend  停止中" in said
    if as_root:  # this root is in no drop-in
        assert "  sudo     not set up" in english and "  sudo     設定されていません" in said
    else:
        assert f"none (ordinary-user mode: steps run as {user})" in english
    assert english_left(said.replace(str(layout.root), " ")) == [], said


def test_the_sandbox_tasks_take_lang(tmp_path: Path) -> None:
    root = tmp_path / "nothing"
    for task in ("sandbox.status", "sandbox.down"):
        done = run_cli(task, "--root", str(root), "--lang", "ja", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "にサンドボックスはありません" in done.stdout, done.stdout
    by_locale = run_cli("sandbox.status", "--root", str(root), cwd=tmp_path, env=JA_LOCALE)
    assert "にサンドボックスはありません" in by_locale.stdout, by_locale
    english = run_cli("sandbox.status", "--root", str(root), "--lang", "en", cwd=tmp_path)
    assert english.stdout == f"no sandbox at {root} (start one with inv sandbox.up)\n"
    unknown = run_cli("sandbox.up", "--root", str(root), "--lang", "fr", cwd=tmp_path)
    assert unknown.returncode == BAD_INPUT and "unknown language 'fr'" in unknown.stderr
    assert not root.exists()


# --- Invoke's core options ---------------------------------------------------------------------


def test_invokes_core_options_are_refused_in_the_operators_language(tmp_path: Path) -> None:
    done = run_cli("--echo", "history", cwd=tmp_path, env=JA_LOCALE)
    assert done.returncode == BAD_INPUT, done
    assert done.stderr == (
        "エラー: inv --echo (Invoke の run.echo) は history では意味を持ちません: ここのタスクは "
        "Invoke でシェルコマンドを実行しません\n  ヒント: 指定しないでください\n"
    )
    english = run_cli("--echo", "history", cwd=tmp_path, env={"LANG": "C", "LC_ALL": ""})
    assert english.stderr == (
        "error: inv --echo (Invoke's run.echo) means nothing for history: the tasks here run no "
        "shell commands through Invoke\n  hint: leave it out\n"
    )


@pytest.mark.parametrize(
    ("option", "setting", "hint"),
    [
        ("--dry", ("run", "dry"), "leave it out; the dry run of a release is `inv release "
         "--dry-run`"),
        ("--command-timeout", ("timeouts", "command"), "leave it out; a step's time limit is "
         "its `timeout:` in the runbook"),
        ("--pty", ("run", "pty"), "leave it out"),
    ],
)  # fmt: skip
def test_each_refused_core_option_and_its_hint(
    option: str, setting: tuple[str, str], hint: str
) -> None:
    section, key = setting
    c = Context(Config(overrides={section: {key: 5 if key == "command" else True}}))
    with pytest.raises(RefusedError) as caught:
        tasks._invoke_core_options(c, "check", None)
    assert caught.value.message == (
        f"inv {option} (Invoke's {section}.{key}) means nothing for check: the tasks here run no "
        "shell commands through Invoke"
    )
    assert caught.value.hint == hint
    for text in (caught.value.message, hint):
        said = JA.again(text)
        assert japanese(said) and english_left(said) == [], said


def test_an_empty_sudo_password_at_invokes_prompt_is_refused_in_japanese() -> None:
    c = Context(Config(overrides={"sudo": {"password": ""}}))
    with pytest.raises(RefusedError) as caught:
        tasks._invoke_core_options(c, "release", {"dry_run": False})
    assert caught.value.message == "the sudo password typed at Invoke's prompt is empty"
    assert (
        JA.again(caught.value.message) == "Invoke のプロンプトで入力された sudo パスワードが空です"
    )


# --- RUNBOOK_NOW --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "english", "ja"),
    [
        (
            "garbage",
            "RUNBOOK_NOW: 'garbage' is not an ISO 8601 time",
            "RUNBOOK_NOW が使えません: 'garbage' は ISO 8601 の時刻ではありません",
        ),
        (
            "2026-04-16T21:30:00",
            "RUNBOOK_NOW: '2026-04-16T21:30:00' has no offset (add one: +09:00, Z)",
            "RUNBOOK_NOW が使えません: '2026-04-16T21:30:00' にオフセットがありません",
        ),
    ],
)
def test_runbook_now_that_is_no_time_is_refused_in_japanese(
    project: Path, now: str, english: str, ja: str
) -> None:
    (project / "runbooks" / "app.yaml").write_text("name: app\nsteps:\n  - {id: a, run: 'true'}\n")
    args = ("release", "--host", "web1", "--yes")
    env = {"RUNBOOK_NOW": now, "RUNBOOK_STATE_DIR": str(project / "state")}
    done = run_cli(*args, "--lang", "en", cwd=project, env=env)
    assert done.returncode == BAD_INPUT, done
    assert done.stderr.startswith(f"error: {english}\n  hint: RUNBOOK_NOW (a testing aid) is an ")
    said = run_cli(*args, cwd=project, env={**env, **JA_LOCALE})
    assert said.returncode == BAD_INPUT, said
    assert said.stderr.startswith(f"エラー: {ja}"), said.stderr
    assert "ヒント: RUNBOOK_NOW (テスト用) はオフセット付きの ISO 8601 の時刻" in said.stderr
    assert english_left(said.stderr) == [], said.stderr


# --- the error boundary -------------------------------------------------------------------------


def _boom() -> None:
    raise ZeroDivisionError("division by zero")


def test_an_internal_error_is_said_in_the_operators_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RUNBOOK_DEBUG", raising=False)
    monkeypatch.setattr(cli, "debug_enabled", lambda: False)
    with pytest.raises(Exit) as english:
        cli.guard(_boom, "en")
    assert english.value.code == STEP_FAILED
    assert english.value.message == (
        "internal error: ZeroDivisionError: division by zero\n"
        "  hint: this is a bug; run again with `inv --debug ...` (or RUNBOOK_DEBUG=1) for the "
        "traceback"
    )
    with pytest.raises(Exit) as said:
        cli.guard(_boom, "ja")
    assert said.value.message.startswith(
        "内部エラー: ZeroDivisionError: division by zero\n  ヒント: "
    )
    assert english_left(said.value.message.split("\n")[1]) == []


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (JA_LOCALE, "エラー: 不明な言語 'fr'\n  ヒント: 次のどれかを使ってください: en, ja\n"),
        ({"LANG": "C", "LC_ALL": ""}, "error: unknown language 'fr'\n  hint: use one of: en, ja\n"),
    ],
)
def test_an_unknown_lang_is_said_in_the_locales_language(
    tmp_path: Path, locale: dict[str, str], expected: str
) -> None:
    done = run_cli("history", "--lang", "fr", cwd=tmp_path, env=locale)
    assert done.returncode == BAD_INPUT
    assert done.stderr == expected


# --- a project's own templates ------------------------------------------------------------------

SIMPLE = "name: probe\nsteps:\n  - {id: one, title: First step, run: echo one}\n"


@pytest.mark.parametrize(
    ("template", "english", "ja"),
    [
        (
            b"line\n{% if %}\n",
            "error: template templates/review.ja.md.j2:2: Expected an expression, got 'end of "
            "statement block'\n",
            "エラー: テンプレート templates/review.ja.md.j2:2: Expected an expression, got 'end "
            "of statement block'\n",
        ),
        (
            b"\xff\xfe",
            "error: template templates/review.ja.md.j2 is not UTF-8 text\n",
            "エラー: テンプレート templates/review.ja.md.j2 は UTF-8 のテキストではありません\n",
        ),
        (
            b'{{ "x" * 6000000 }}',
            "error: template templates/review.ja.md.j2:1: refused by the sandbox: a repetition of "
            "more than 5,000,000 items\n  hint: templates render in a sandbox: no attribute "
            "starting with _, no changes to the values they are given, a budget of time and "
            "size; nothing of it ran\n",
            "エラー: テンプレート templates/review.ja.md.j2:1: サンドボックスが拒否しました: "
            "繰り返しが 5,000,000 個を超えています\n  ヒント: テンプレートはサンドボックスの中で"
            "レンダリングされます: _ で始まる属性は使えず、渡された値は変えられず、時間と大きさに"
            "上限があります。拒否したものは何も実行されていません\n",
        ),
        (
            b"{% include name %}",
            "error: template templates/review.ja.md.j2 includes a template whose name it "
            'computes\n  hint: name it literally ({% include "_name.j2" %}), so that every '
            "template a document uses is known before it renders\n",
            "エラー: テンプレート templates/review.ja.md.j2 は、名前を計算で決めるテンプレートを"
            '読み込んでいます\n  ヒント: 名前をそのまま書いてください ({% include "_name.j2" %})。'
            "文書が使うテンプレートを、レンダリングの前にすべて知るためです\n",
        ),
    ],
)
def test_a_broken_project_template_is_said_in_the_operators_language(
    project: Path, template: bytes, english: str, ja: str
) -> None:
    (project / "runbooks" / "probe.yaml").write_text(SIMPLE)
    (project / "templates").mkdir()
    (project / "templates" / "review.ja.md.j2").write_bytes(template)
    said = run_cli("show", "--host", "web1", "--lang", "ja", cwd=project)
    assert said.returncode == BAD_INPUT, said
    assert said.stderr == ja
    # The same template as the project's English review says the same in English.
    (project / "templates" / "review.en.md.j2").write_bytes(template)
    (project / "templates" / "review.ja.md.j2").unlink()
    done = run_cli("show", "--host", "web1", "--lang", "en", cwd=project)
    assert done.stderr == english.replace("review.ja", "review.en")


SHIPPED_REVIEW = (PACKAGED / "review.ja.md.j2").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("template", "english", "ja"),
    [
        (
            SHIPPED_REVIEW.replace(
                "{% for step in plan.steps %}", "{% for step in plan.steps if step.id != 'one' %}"
            ),
            "error: the review rendered by the project's templates/review.ja.md.j2 does not show "
            "the command of step 1 'one' on web1: refusing to print it\n",
            "エラー: プロジェクトの templates/review.ja.md.j2 で作られたレビューは web1 の手順 1 "
            "'one' のコマンド を示していません: 表示しません\n",
        ),
        (
            SHIPPED_REVIEW + "<b>x</b>\n",
            "error: the review rendered by the project's templates/review.ja.md.j2 has raw HTML "
            "('<b>x</b>'...) on line ",
            "エラー: プロジェクトの templates/review.ja.md.j2 で作られたレビューの ",
        ),
    ],
)
def test_a_project_template_that_hides_or_leaves_out_is_refused_in_japanese(
    project: Path, template: str, english: str, ja: str
) -> None:
    (project / "runbooks" / "probe.yaml").write_text(SIMPLE)
    (project / "templates").mkdir()
    (project / "templates" / "review.ja.md.j2").write_text(template, encoding="utf-8")
    done = run_cli("show", "--host", "web1", "--lang", "ja", cwd=project)
    assert done.returncode == BAD_INPUT, done
    assert done.stderr.startswith(ja), done.stderr
    assert "  ヒント: レビューには、実行されるすべてのコマンドを" in done.stderr
    assert english_left(done.stderr, "HTML", "code", "step", "script", "fence", "id",
                        "title", "text", "sh") == [], done.stderr  # fmt: skip
    # The English, from the same template as the project's English review.
    (project / "templates" / "review.ja.md.j2").rename(project / "templates" / "review.en.md.j2")
    done = run_cli("show", "--host", "web1", "--lang", "en", cwd=project)
    assert done.stderr.startswith(english.replace("review.ja", "review.en")), done.stderr
    assert "  hint: a review must show every command that will run in a code block" in done.stderr


def test_every_refusal_of_the_template_sandbox_is_said_in_japanese() -> None:
    """Each budget refusal of core.mdsandbox, as the template error wraps it, and the errors
    of reading a template."""
    limit = f"{mdsandbox.MAX_CHARS:,}"
    refusals = [
        EN("error.template.format-width"),
        EN("error.template.time", seconds="2"),
        EN("error.template.wrote", limit=limit),
        EN("error.template.text", limit=limit),
        EN("error.template.value", limit=limit),
        EN("error.template.argument", limit=limit),
        EN("error.template.str-method", name="center", limit=limit),
        EN("error.template.exponent", exponent=100),
        EN("error.template.repetition", limit=limit),
        EN("error.template.filter-would", name="center", limit=limit),
        EN("error.template.filter-made", name="center", limit=limit),
    ]
    assert refusals[0] == "a format with a width of millions in a template"
    assert refusals[3] == "a text of more than 5,000,000 characters in a template"
    assert refusals[6] == "str.center would make more than 5,000,000 characters"
    for problem in refusals:
        said = JA.again(EN("error.template.refused", where="templates/r.j2:1", problem=problem))
        head = "テンプレート templates/r.j2:1: サンドボックスが拒否しました: "
        assert said.startswith(head) and japanese(said.removeprefix(head)), said
        assert english_left(said) == [], said
    reading = [
        EN("error.template.too-large", template="templates/x.j2", limit="256,000"),
        EN("error.template.unreadable", template="templates/x.j2", reason="Permission denied"),
        EN("error.template.not-found", template="x.j2", folder="templates"),
        EN("error.template.bad-name", name="'../x'"),
    ]
    for english in reading:
        said = JA.again(english)
        assert said.startswith("テンプレート"), said
        assert english_left(said, "Permission denied") == [], said
