"""The problems found while rendering and planning (runbook.words.planning): each raised through
the real code path, its English what it was byte for byte, and `--lang ja` says it in Japanese
with only values, names and code left in English."""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from runbook.commands.credentials import resolve_secrets
from runbook.commands.inputs import parse_vars
from runbook.core.budget import Budget, BudgetError
from runbook.core.load import load_runbook
from runbook.core.markers import RESERVED_HINT
from runbook.core.model import Host
from runbook.core.plan import _first_difference, make_plan
from runbook.errors import BAD_INPUT, InputError, Problem
from runbook.words import EN, Words, planning
from tests.conftest import make_repo, run_cli

JA = Words("ja")
HOST = Host(name="web1", address="10.0.0.1")
SHELL_HINT = (
    "every {{ }} in `run` is quoted already: put it outside quotes (`-m {{ msg }}`), or assign "
    'it first (`who={{ who }}`) and write "$who" where it goes'
)
UNDEFINED_HINT = "define it in vars, the inventory or --var KEY=VALUE"
GIT_HINT = "repo is a git repository on this machine, relative to the project; from and to are refs"

# Names in any language: the runbook's keys, Jinja's and the shell's words, programs, options.
TERMS = {
    "run", "put", "src", "dest", "owner", "diff_base", "backup", "restore", "template", "vars",
    "var", "secrets", "secret", "expect", "stdout", "stderr", "pty", "true", "false", "KEY",
    "VALUE", "changes", "repo", "from", "to", "git_rev", "git", "Jinja", "UTF", "id", "runbook",
    "release", "ref", "title", "description", "center", "filter", "sum", "user", "group",
    "MiB", "who", "msg", "check", "header", "private", "use", "E002", "E003", "note",
    "rollback", "runbooks",
}  # fmt: skip


def english_left(said: str, *values: str) -> list[str]:
    """The words of `said` that are neither a value of the message, code, a path nor a name."""
    for value in sorted(values, key=len, reverse=True):
        said = said.replace(value, " ")
    said = re.sub(
        r"`[^`]*`|\{\{[^}]*\}\}|\$\w+|--[\w-]+|[\w.-]*/[\w./-]*|'[^']*'|\b\w+\.(?:txt|bin)\b",
        " ",
        said,
    )
    words = re.findall(r"[A-Za-z][A-Za-z_0-9]+", said)
    return [w for w in words if w not in TERMS and not re.search(r"\d", w)]


def said_in_japanese(problem: Problem, *values: str) -> str:
    """The problem as `Words.problems` says it: Japanese, with none of our English left."""
    said = JA.problems([problem])
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", said.splitlines()[1]), said
    assert english_left(said, problem.file, *values) == [], said
    return said


def problems_of(
    tmp_path: Path,
    runbook: str,
    files: dict[str, str | bytes] | None = None,
    overrides: dict[str, str] | None = None,
    host: Host = HOST,
) -> list[Problem]:
    """The problems of planning `runbook` (as written in runbooks/app.yaml) for `host`."""
    (tmp_path / "runbooks").mkdir(exist_ok=True)
    path = tmp_path / "runbooks" / "app.yaml"
    path.write_text(textwrap.dedent(runbook))
    for name, data in (files or {}).items():
        target = tmp_path / name
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data)
    loaded = load_runbook(path, "runbooks/app.yaml", tmp_path)
    with pytest.raises(InputError) as caught:
        make_plan(loaded, host, "hosts.yaml", overrides)
    return caught.value.problems


def steps(*lines: str) -> str:
    return "name: app\nvars:\n  msg: hi\n  n: 1\n  empty: ''\nsteps:\n" + "".join(
        f"  {line}\n" for line in lines
    )


# (an id, the runbook, its files, the English message, the English hint)
CASES: list[tuple[str, str, dict[str, str | bytes], str, str | None]] = [
    (
        "undefined",
        steps("- id: hello", "  run: echo {{ nosuch }}"),
        {},
        "step 'hello' run: 'nosuch' is undefined",
        UNDEFINED_HINT,
    ),
    (
        "no-attribute",
        steps("- id: hello", "  run: echo {{ host.nosuch.x }}"),
        {},
        "step 'hello' run: 'dict object' has no attribute 'nosuch'",
        UNDEFINED_HINT,
    ),
    (
        "double-quotes",
        steps("- id: q", '  run: git commit -m "by {{ msg }}"'),
        {},
        "step 'q' run: a {{ }} inside double quotes, where its quotes are literal and `$( )` in "
        'it still runs: git commit -m "by {{ }}"',
        SHELL_HINT,
    ),
    (
        "single-quotes",
        steps("- id: q", "  run: echo '{{ msg }}'"),
        {},
        "step 'q' run: a {{ }} inside single quotes, where its own quotes end the author's and "
        "leave it bare: echo '{{ }}'",
        SHELL_HINT,
    ),
    (
        "comment",
        steps("- id: q", "  run: 'echo hi # {{ msg }}'"),
        {},
        "step 'q' run: a {{ }} in a shell comment, where a newline in it starts a command: "
        "echo hi # {{ }}",
        SHELL_HINT,
    ),
    (
        "heredoc",
        steps("- id: q", "  run: |", "    cat <<EOF", "    {{ msg }}", "    EOF"),
        {},
        "step 'q' run: a {{ }} in a here-document, where its quotes are literal and `$( )` in it "
        "still runs: {{ }}",
        SHELL_HINT,
    ),
    (
        "parameter",
        steps("- id: q", "  run: 'echo ${x:-{{ msg }}}'"),
        {},
        "step 'q' run: a {{ }} inside `${ }`, where quoting means something else: echo ${x:-{{ }}}",
        SHELL_HINT,
    ),
    (
        "arithmetic",
        steps("- id: q", "  run: 'echo $(( {{ n }} + 1 ))'"),
        {},
        "step 'q' run: a {{ }} inside `$(( ))` arithmetic, where a value is evaluated, not "
        "quoted: echo $(( {{ }} + 1 ))",
        SHELL_HINT,
    ),
    (
        "backticks",
        steps("- id: q", "  run: 'echo `echo {{ msg }}`'"),
        {},
        "step 'q' run: a {{ }} inside backticks, where quoting is read twice: echo `echo {{ }}`",
        SHELL_HINT,
    ),
    (
        "late-tested",
        steps("- id: late", "  run: '{% if run.id %}x{% endif %}'"),
        {},
        "step 'late' run: run.id can only be printed, not tested or filtered",
        "print it with {{ }} where it is needed; decide with a var instead",
    ),
    (
        "late-var",
        "name: app\nvars:\n  ref: 'r-{{ run.id }}'\nsteps:\n  - id: late\n"
        '    run: "{{ ref | upper }}"\n',
        {},
        "step 'late' run: 'ref' (it holds run.id) can only be printed, not tested or filtered",
        "print it with {{ }} where it is needed; decide with a var instead",
    ),
    (
        "too-deep",
        steps(
            "- id: deep",
            "  note: '{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}'",
            "  run: 'true'",
        ),
        {},
        "step 'deep' note: nested too deeply (a macro that calls itself without end?)",
        None,
    ),
    (
        "repetition",
        steps("- id: big", "  title: \"{{ 'x' * 2000000 }}\"", "  run: 'true'"),
        {},
        "step 'big' title: a repetition of more than 1,000,000 items in a template",
        None,
    ),
    (
        "width",
        steps("- id: big", "  title: \"{{ 'x' | center(2000000) }}\"", "  run: 'true'"),
        {},
        "step 'big' title: 'center' with 2,000,000 is more than a template may use (1,000,000)",
        None,
    ),
    (
        "exponent",
        steps("- id: big", "  title: '{{ 2 ** 100 }}'", "  run: 'true'"),
        {},
        "step 'big' title: exponent 100 is too large for a template",
        None,
    ),
    (
        "empty-path",
        steps("- id: save", "  backup: '{{ empty }}'"),
        {},
        "step 'save': a backup path renders empty",
        None,
    ),
    (
        "backed-up-twice",
        steps("- id: one", "  backup: /etc/app.conf", "- id: two", "  backup: /etc/app.conf"),
        {},
        "step 'two' backs up /etc/app.conf again (step 'one' already does): its backup would "
        "overwrite the first one",
        "back up each file once, before the first step that changes it",
    ),
    (
        "dest-relative",
        steps("- id: conf", "  put: {src: conf.txt, dest: etc/app.conf}"),
        {"conf.txt": "hi\n"},
        "step 'conf': put.dest 'etc/app.conf' is not an absolute path",
        "give an absolute path to a file on the host",
    ),
    (
        "dest-directory",
        steps("- id: conf", "  put: {src: conf.txt, dest: /etc/}"),
        {"conf.txt": "hi\n"},
        "step 'conf': put.dest '/etc/' names a directory, not a file",
        "give an absolute path to a file on the host",
    ),
    (
        "dest-dotdot",
        steps("- id: conf", "  put: {src: conf.txt, dest: /etc/../x}"),
        {"conf.txt": "hi\n"},
        "step 'conf': put.dest '/etc/../x' has a '..' component",
        "give an absolute path to a file on the host",
    ),
    (
        "owner",
        steps("- id: conf", "  put: {src: conf.txt, dest: /etc/a, owner: '{{ \"a b\" }}'}"),
        {"conf.txt": "hi\n"},
        "step 'conf': put.owner 'a b' is not a user or user:group name",
        None,
    ),
    (
        "src-missing",
        steps("- id: conf", "  put: {src: nothing.txt, dest: /etc/a}"),
        {},
        "step 'conf': no file nothing.txt in {project}",
        "src is a file of the project, relative to it",
    ),
    (
        "src-outside",
        steps("- id: conf", "  put: {src: ../x.txt, dest: /etc/a}"),
        {},
        "step 'conf': src ../x.txt is outside the project {project}",
        "src is a file of the project, relative to it",
    ),
    (
        "src-absolute",
        steps("- id: conf", "  put: {src: /etc/passwd, dest: /etc/a}"),
        {},
        "step 'conf': src /etc/passwd must be relative to the project ({project})",
        "src is a file of the project, relative to it",
    ),
    (
        "src-directory",
        steps("- id: conf", "  put: {src: runbooks, dest: /etc/a}"),
        {},
        "step 'conf': src runbooks is a directory, not a file",
        "src is a file of the project, relative to it",
    ),
    (
        "not-utf8",
        steps("- id: conf", "  put: {src: conf.bin, dest: /etc/a, template: true}"),
        {"conf.bin": b"\xff\xfe{{ x }}"},
        "step 'conf': conf.bin is not UTF-8 text, so it cannot be a template",
        "template: false sends any bytes as they are",
    ),
    (
        "bad-jinja",
        steps("- id: conf", "  put: {src: conf.txt, dest: /etc/a, template: true}"),
        {"conf.txt": "{{ x }\n"},
        "step 'conf': bad Jinja in conf.txt: unexpected '}'",
        None,
    ),
    (
        "put-late",
        steps("- id: conf", "  put: {src: conf.txt, dest: /etc/a, template: true}"),
        {"conf.txt": "{{ run.id }}\n"},
        "step 'conf': conf.txt uses run: a put's content is fixed when the plan is made, so run.* "
        "and secrets (known only when a step is sent) cannot be in it",
        "write the file without them, or use a run step",
    ),
    (
        "put-late-through-var",
        "name: app\nvars:\n  ref: 'r-{{ run.id }}'\nsteps:\n  - id: conf\n"
        "    put: {src: conf.txt, dest: /etc/a, template: true}\n",
        {"conf.txt": "{{ ref }}\n"},
        "step 'conf': conf.txt takes run.* or a secret through a var: a put's content is fixed "
        "when the plan is made, so it cannot hold values known only when a step is sent",
        None,
    ),
    (
        "put-too-large",
        steps("- id: conf", "  put: {src: conf.txt, dest: /etc/a, template: true}"),
        {"conf.txt": "{{ 'é' * 600000 }}"},
        "step 'conf': conf.txt is 1200000 bytes; a put carries at most 1048576 bytes "
        "(a rendered template too)",
        "split the file, or install it from a repository with a run step",
    ),
    (
        "cycle",
        "name: app\nvars:\n  a: '{{ b }}'\n  b: '{{ a }}'\nsteps:\n  - id: x\n    run: 'true'\n",
        {},
        "vars form a cycle: a → b → a",
        "one of them must not use the others",
    ),
    (
        "var-undefined",
        "name: app\nvars:\n  a: '{{ nosuch }}'\nsteps:\n  - id: x\n    run: 'true'\n",
        {},
        "var 'a': 'nosuch' is undefined",
        UNDEFINED_HINT,
    ),
    (
        "runbook-title",
        "name: app\ntitle: '{{ nosuch }}'\nsteps:\n  - id: x\n    run: 'true'\n",
        {},
        "title: 'nosuch' is undefined",
        UNDEFINED_HINT,
    ),
    (
        "check-header",
        steps(
            "- id: look",
            "  check: {http: {url: 'http://x/', headers: {X-Token: '{{ nosuch }}'}}}",
        ),
        {},
        "step 'look' check header X-Token: 'nosuch' is undefined",
        UNDEFINED_HINT,
    ),
    (
        "changes-no-repo",
        "name: app\nchanges:\n  - {repo: nowhere, from: a, to: b, paths: [x]}\n"
        "steps:\n  - id: x\n    run: 'true'\n",
        {},
        "changes[1]: no git repository at {project}/nowhere (no such directory): git_rev, "
        "changes and diff_base read a checkout on this machine; give its path",
        GIT_HINT,
    ),
    (
        "changes-field",
        "name: app\nchanges:\n  - {repo: '{{ nosuch }}', from: a, to: b, paths: [x]}\n"
        "steps:\n  - id: x\n    run: 'true'\n",
        {},
        "changes[1].repo: 'nosuch' is undefined",
        UNDEFINED_HINT,
    ),
]


@pytest.mark.parametrize(
    ("case", "runbook", "files", "english", "hint"), CASES, ids=[c[0] for c in CASES]
)
def test_a_planning_problem_is_english_as_it_was_and_japanese_with_ja(
    tmp_path: Path,
    case: str,
    runbook: str,
    files: dict[str, str | bytes],
    english: str,
    hint: str | None,
) -> None:
    found = problems_of(tmp_path, runbook, files)
    project = str(tmp_path)
    wanted = english.replace("{project}", project)
    assert [p.message for p in found][:1] == [wanted], found
    problem = found[0]
    assert problem.hint == hint
    # The script near a misplaced {{ }} and Jinja's own words stay as they are.
    near = english.rsplit(": ", 1)[1] if case in SHELL_CONTEXTS else ""
    said_in_japanese(problem, project, near, "unexpected", "X-Token")


SHELL_CONTEXTS = ("double-quotes", "single-quotes", "comment", "heredoc", "parameter")
SHELL_CONTEXTS += ("arithmetic", "backticks")


def test_every_shell_context_has_its_case() -> None:
    from runbook.core.shellctx import _WHY

    assert {f"input.shell.{c}" for c in SHELL_CONTEXTS} == set(_WHY.values())
    assert set(SHELL_CONTEXTS) <= {c[0] for c in CASES}


def test_a_diff_base_that_is_no_commit_is_said_in_japanese(tmp_path: Path) -> None:
    make_repo(tmp_path, {"main": {"conf.txt": "old\n"}})
    found = problems_of(
        tmp_path,
        steps("- id: conf", "  put: {src: conf.txt, dest: /etc/a, diff_base: nosuch}"),
    )
    assert [p.message for p in found] == [
        f"step 'conf': put.diff_base 'nosuch': no commit 'nosuch' in {tmp_path}"
    ]
    assert found[0].hint == "diff_base is a ref of src's repository"
    said = said_in_japanese(found[0], str(tmp_path))
    assert "コミット 'nosuch' がありません" in said


def test_a_mistyped_var_is_said_with_its_nearest_name(tmp_path: Path) -> None:
    found = problems_of(tmp_path, steps("- id: x", "  run: echo {{ msg }}"), overrides={"mgs": "1"})
    assert [str(p) for p in found] == [
        "--var: 'mgs' is not a var of runbooks/app.yaml or the inventory, and no template uses "
        "it (hint: did you mean 'msg'?)"
    ]
    said = said_in_japanese(found[0], "runbooks/app.yaml")
    assert "'msg' のことですか?" in said


def test_a_runbook_that_renders_differently_names_the_step(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        "name: app\nsteps:\n  - id: x\n    run: 'true'\nrollback:\n  - id: undo\n    run: 'true'\n"
    )
    runbook = load_runbook(path, "app.yaml", tmp_path)
    plan = make_plan(runbook, HOST, "hosts.yaml")
    other = replace(plan.steps[0], command="false")
    undo = replace(plan.rollback[0], command="false")
    hint = "a template must render the same every time (no random choice, no clock)"
    for changed, english in (
        (replace(plan, steps=(other,)), "step 'x' renders differently each time it is rendered"),
        (
            replace(plan, rollback=(undo,)),
            "rollback step 'undo' renders differently each time it is rendered",
        ),
        (replace(plan, title="other"), "the runbook renders differently each time"),
    ):
        problem = _first_difference(runbook, plan, changed)
        assert (problem.message, problem.hint) == (english, hint)
        said_in_japanese(problem)


def test_the_budget_s_own_limits_are_said_in_japanese() -> None:
    spend = Budget(operations=40)
    with pytest.raises(BudgetError) as caught:
        for _ in range(100):
            spend.tick()
    assert str(caught.value) == (
        "more than 40 loop iterations, calls and filters: a template may not compute that much"
    )
    said = JA.again(str(caught.value))
    assert "40 回を超えました" in said and english_left(said) == []
    slow = Budget(seconds=0.0)
    slow.deadline -= 1
    with pytest.raises(BudgetError) as late:
        slow.check()
    assert str(late.value) == "rendering takes more than 0 s: a template may not"
    assert english_left(JA.again(str(late.value))) == []


def test_vars_on_the_command_line_are_said_in_japanese() -> None:
    cases = {
        "bad": ("'bad' is not KEY=VALUE", "e.g. --var branch=feature/x"),
        "x=a\ue002b": ("--var x: U+E002", RESERVED_HINT),
        "y=a\x1bb": (
            "--var y: U+001B ESCAPE in its value",
            "U+001B ESCAPE can make a terminal or the review show something other than what "
            "runs: remove it",
        ),
    }
    for pair, (message, hint) in cases.items():
        with pytest.raises(InputError) as caught:
            parse_vars((pair,))
        problem = caught.value.problems[0]
        assert (problem.message, problem.hint) == (message, hint)
        said_in_japanese(problem, "U+E002", "U+001B ESCAPE", "branch=feature/x", "'bad'")
    assert RESERVED_HINT == (
        "U+E002 and U+E003 (private use) mark values inside release-runbook: remove it"
    )


@pytest.mark.parametrize(
    ("value", "what"), [("", "empty"), ("ab", "too short to be masked reliably")]
)
def test_a_secret_too_short_is_said_in_japanese(
    monkeypatch: pytest.MonkeyPatch, value: str, what: str
) -> None:
    monkeypatch.setenv("RUNBOOK_SECRET_TOKEN", value)
    with pytest.raises(InputError) as caught:
        resolve_secrets(("token",), interactive=False)
    problem = caught.value.problems[0]
    assert str(problem) == (
        f"RUNBOOK_SECRET_TOKEN: secret 'token' is {what} (hint: at least 4 characters)"
    )
    said_in_japanese(problem, "RUNBOOK_SECRET_TOKEN")


def test_planning_messages_are_input_keys() -> None:
    """Only `input.` keys are said again in a problem: another prefix would stay English."""
    assert all(k.startswith("input.") for k in planning.MESSAGES)


def test_a_problem_for_a_host_with_a_semicolon_is_said_whole() -> None:
    """`(for host X)` after a message that has '; ' in it: one message, not two joined."""
    inner = EN("input.git.no-directory", path="/p/nowhere")
    english = EN(
        "input.at.host", problem=EN("input.at.var", name="commit", problem=inner), host="web1"
    )
    said = JA.again(english)
    assert said == JA(
        "input.at.host",
        problem=JA(
            "input.at.var", name="commit", problem=JA("input.git.no-directory", path="/p/nowhere")
        ),
        host="web1",
    )
    # Messages of several hosts joined are still said one by one.
    two = "; ".join(EN("error.lock.held", host=h, holder="x", lock="/l") for h in ("a", "b"))
    assert JA.again(two) == "; ".join(
        JA("error.lock.held", host=h, holder="x", lock="/l") for h in ("a", "b")
    )


# --- inv check and inv show, as the operator runs them ----------------------------------------


def test_check_says_its_problems_and_warnings_in_japanese(project: Path) -> None:
    (project / "hosts.yaml").write_text("hosts:\n  web1: {address: 10.0.0.1, pty: true}\n")
    (project / "conf.txt").write_text("hi\n")
    (project / "runbooks" / "app.yaml").write_text(
        "name: app\nsteps:\n  - id: conf\n    put: {src: conf.txt, dest: /etc/app.conf}\n"
        "  - id: look\n    run: 'true'\n    expect: {stderr: ok}\n"
    )
    english = run_cli("check", "--lang", "en", cwd=project)
    assert english.returncode == 0, english
    assert (
        "warning: runbooks/app.yaml:4: step 'conf' puts /etc/app.conf, which no earlier backup "
        "step covers: if it exists on the host, the put is refused at its gate (rollback could "
        "not restore it); if it does not, rollback removes the new file (hint: back it up in an "
        "earlier step (backup: /etc/app.conf) unless it is a new file)"
    ) in english.stdout
    assert (
        "warning: runbooks/app.yaml:7: step 'look' expects on stderr, but web1 has `pty: true`: "
        "its stderr arrives in stdout (hint: match the text with `expect: stdout` for this host)"
    ) in english.stdout
    japanese = run_cli("check", "--lang", "ja", cwd=project)
    assert japanese.returncode == 0, japanese
    warnings = [line for line in japanese.stdout.splitlines() if line.startswith("警告")]
    assert len(warnings) == 2, japanese.stdout
    for line in warnings:
        assert english_left(line, "runbooks/app.yaml", "/etc/app.conf") == [], line

    (project / "runbooks" / "same.yaml").write_text(
        "name: app\nsteps:\n  - id: hello\n    run: echo {{ nosuch }}\n"
    )
    english = run_cli("check", "--lang", "en", cwd=project)
    assert english.returncode == BAD_INPUT, english
    assert "runbooks: two runbooks are named 'app'" in english.stderr
    assert (
        "runbooks/same.yaml:4: step 'hello' run: 'nosuch' is undefined (for host web1) "
        f"(hint: {UNDEFINED_HINT})"
    ) in english.stderr
    japanese = run_cli("check", "--lang", "ja", cwd=project)
    assert japanese.returncode == BAD_INPUT, japanese
    assert "runbooks: 2 つの runbook が同じ名前 'app' です" in japanese.stderr
    assert "ステップ 'hello' の run: 'nosuch' は定義されていません(ホスト web1)" in japanese.stderr
    for line in japanese.stderr.splitlines()[1:]:
        assert english_left(line, "runbooks/same.yaml", "web1") == [], line


def test_show_says_a_mistyped_var_in_japanese(project: Path) -> None:
    (project / "runbooks" / "app.yaml").write_text(
        "name: app\nvars:\n  branch: main\nsteps:\n  - id: hello\n    run: echo {{ branch }}\n"
    )
    args = ("show", "--host", "web1", "--var", "brnch=x")
    english = run_cli(*args, "--lang", "en", cwd=project)
    assert english.returncode == BAD_INPUT, english
    assert (
        "--var: 'brnch' is not a var of runbooks/app.yaml or the inventory, and no template "
        "uses it (hint: did you mean 'branch'?)"
    ) in english.stderr
    japanese = run_cli(*args, "--lang", "ja", cwd=project)
    assert japanese.returncode == BAD_INPUT, japanese
    assert "'brnch' は runbooks/app.yaml にもインベントリにもない変数" in japanese.stderr
    assert "'branch' のことですか?" in japanese.stderr
