"""The review and the report cannot hide or forge what runs.

A project's templates render in a sandbox and cannot run code; whatever they say, a review that
leaves out a command, a step id or a title is refused; every value is escaped for its context, so
no note, title, command or host output can open an HTML comment, a `<details>`, or a code block
that swallows what follows; control and bidirectional characters are input errors with file and
line. The documents are read back with a CommonMark renderer (markdown-it-py) to check what a
reader sees.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from runbook.commands import parse_vars, report, show
from runbook.core import mdsafe, mdsandbox, scripts
from runbook.core.inventory import load_inventory
from runbook.core.load import load_runbook
from runbook.core.markdown import PACKAGED, template_fingerprints
from runbook.core.plan import make_plan
from runbook.errors import InputError, RunbookError
from runbook.journal import Journal
from runbook.journal.events import End, Gate, Start, StepEnd, StepStart
from runbook.options import Options
from runbook.text import visible

from .conftest import run_cli

MD = MarkdownIt("commonmark", {"html": True}).enable("table")
LANGS = ("en", "ja")


# --- reading a document as a reader sees it -----------------------------------------------------


def _walk(tokens: list[Token]) -> list[Token]:
    found: list[Token] = []
    for token in tokens:
        found.append(token)
        found += _walk(token.children or [])
    return found


class Seen:
    """What a CommonMark renderer makes of a document: its code blocks, its text, its HTML."""

    def __init__(self, document: str) -> None:
        self.tokens = _walk(MD.parse(document))
        self.blocks = [t.content for t in self.tokens if t.type in ("fence", "code_block")]
        self.html = [t.content for t in self.tokens if t.type in ("html_block", "html_inline")]
        self.text = "".join(
            t.content for t in self.tokens if t.type in ("text", "code_inline", "softbreak")
        )
        inlines = [t for t in MD.parse(document)]
        self.headings = [
            "".join(c.content for c in inlines[i + 1].children or [])
            for i, t in enumerate(inlines)
            if t.type == "heading_open"
        ]
        self.rendered = MD.render(document)

    def shows_command(self, command: str) -> bool:
        """`command` is the whole content of a code block, outside any HTML comment."""
        want = visible(command).rstrip("\n")
        if not any(b.rstrip("\n") == want for b in self.blocks):
            return False
        outside = re.sub(r"<!--.*?-->", "", self.rendered, flags=re.DOTALL)
        return _escaped_html(want) in outside


def _escaped_html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


# --- a project ----------------------------------------------------------------------------------


def _project(
    tmp_path: Path, runbook: str, hosts: str = "hosts:\n  web1: {address: 10.0.0.1}\n"
) -> Path:
    (tmp_path / "runbooks").mkdir(exist_ok=True)
    (tmp_path / "runbooks" / "probe.yaml").write_text(runbook, encoding="utf-8")
    (tmp_path / "hosts.yaml").write_text(hosts, encoding="utf-8")
    return tmp_path


def _review(project: Path, lang: str = "en", host: str = "web1") -> str:
    return show(Options(project=project, host=host), lang=lang)


def _plans(project: Path, host: str = "web1") -> list[Any]:
    runbook = load_runbook(project / "runbooks" / "probe.yaml")
    inventory = load_inventory(project / "hosts.yaml")
    return [make_plan(runbook, h, inventory.path) for h in inventory.select(host)]


def _every_command_shown(project: Path, document: str) -> None:
    seen = Seen(document)
    assert seen.html == [], seen.html
    for plan in _plans(project):
        for step in (*plan.steps, *plan.rollback):
            script = scripts.step_script(step)
            if script:
                assert seen.shows_command(script), f"{step.id} not shown:\n{document}"
            assert f"`{step.id}`" in document or step.id in seen.text


HIDING = """\
name: probe
title: Hiding probe
steps:
  - id: first
    title: Harmless
    note: "All fine here <!--"
    run: echo hello
  - id: wipe
    title: Clean up
    run: sudo rm -rf /srv/app
    sudo: true
  - id: last
    title: Done
    note: "--> nothing to see"
    run: echo bye
"""


# --- project templates --------------------------------------------------------------------------


def _template(project: Path, name: str, text: str) -> Path:
    folder = project / "templates"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


SIMPLE = """\
name: probe
title: Template probe
steps:
  - {id: one, title: First step, run: echo one}
  - {id: two, title: Second step, run: echo two}
rollback:
  - {id: undo, title: Undo it, run: echo undo}
"""


@pytest.mark.parametrize(
    "payload",
    [
        '{% set _ = cycler.__init__.__globals__.os.system("touch MARKER") %}',
        '{{ joiner.__init__.__globals__.os.system("touch MARKER") }}',
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        '{{ self.__init__.__globals__.__builtins__.open("MARKER", "w") }}',
        '{{ namespace.__init__.__globals__["os"].system("touch MARKER") }}',
    ],
)
def test_a_hostile_project_template_runs_nothing_and_is_refused(
    tmp_path: Path, payload: str
) -> None:
    project = _project(tmp_path, SIMPLE)
    marker = tmp_path / "marker"
    _template(project, "review.en.md.j2", payload.replace("MARKER", str(marker)))

    with pytest.raises(RunbookError) as caught:
        _review(project)

    assert not marker.exists()
    assert "templates/review.en.md.j2:1" in str(caught.value)
    assert "sandbox" in str(caught.value)


def test_the_hostile_template_through_the_cli_exits_2_without_a_traceback(tmp_path: Path) -> None:
    project = _project(tmp_path, SIMPLE)
    marker = tmp_path / "marker"
    _template(
        project,
        "_expected.en.j2",
        f'{{% set _ = cycler.__init__.__globals__.os.system("id > {marker}") %}}',
    )

    done = run_cli("show", "--host", "web1", cwd=project)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "templates/_expected.en.j2:1" in done.stderr
    assert not marker.exists()


def _shipped(name: str) -> str:
    return (PACKAGED / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "old", "new", "missing"),
    [
        # the step left out altogether
        (
            "review.en.md.j2",
            "{% for step in plan.steps %}",
            "{% for step in plan.steps if step.id != 'two' %}",
            "step 2 'two' on web1",
        ),
        # the rollback left out
        ("review.en.md.j2", "{% if plan.rollback %}", "{% if false %}", "step R1 'undo' on web1"),
        # the command shown, but as text, where Markdown may eat it
        ("_expected.en.j2", '{{ step | script | fence("sh") }}', "{{ step | script }}", "command"),
        # the id left out
        ("_expected.en.j2", " ({{ step.id | code }})", "", "the id of step 1 'one'"),
        # the title left out, or where no one sees it
        ("_expected.en.j2", "{{ step.title | text }}", "", "the title of step 1 'one'"),
        (
            "_expected.en.j2",
            "### {{ kind }}{{ step.number }}. {{ step.title | text }}",
            "[//]: # ({{ step.title | text }})\n\n### {{ kind }}{{ step.number }}.",
            "the title of step 1 'one'",
        ),
        (
            "_expected.en.j2",
            "{{ step.title | text }}",
            "![{{ step.title | text }}](logo.png)",
            "the title of step 1 'one'",
        ),
    ],
)
def test_a_project_template_that_leaves_something_out_is_refused(
    tmp_path: Path, name: str, old: str, new: str, missing: str
) -> None:
    project = _project(tmp_path, SIMPLE)
    assert old in _shipped(name)
    _template(project, name, _shipped(name).replace(old, new, 1))

    with pytest.raises(RunbookError) as caught:
        _review(project)

    message = str(caught.value)
    assert f"templates/{name}" in message
    assert missing in message
    assert "refusing to print it" in message


@pytest.mark.parametrize(
    "hiding",
    [
        "<!--\n{{ step_block(step, '') }}\n-->",
        "<details>\n\n{{ step_block(step, '') }}\n\n</details>",
        "<div hidden>\n\n{{ step_block(step, '') }}\n\n</div>",
        "~~~\n{{ step_block(step, '') }}\n~~~",
    ],
)
def test_a_project_template_that_hides_a_step_is_refused(tmp_path: Path, hiding: str) -> None:
    project = _project(tmp_path, SIMPLE)
    name = "review.en.md.j2"
    shipped = _shipped(name)
    assert '{{ step_block(step, "") }}' in shipped
    _template(project, name, shipped.replace('{{ step_block(step, "") }}', hiding, 1))

    with pytest.raises(RunbookError) as caught:
        _review(project)

    assert "templates/review.en.md.j2" in str(caught.value)
    assert "refusing to print it" in str(caught.value)


def test_a_project_template_that_is_fine_renders_and_is_listed_with_its_sha256(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path, SIMPLE)
    text = _shipped("review.en.md.j2").replace(
        "## Schedule", "Reviewed by the ops team.\n\n## Schedule"
    )
    path = _template(project, "review.en.md.j2", text)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()

    document = _review(project)

    assert "Reviewed by the ops team." in document
    _every_command_shown(project, document)
    assert f"| `templates/review.en.md.j2` | `{sha}` |" in document
    assert "_expected.en.j2" not in document.split("## Templates")[1]  # the shipped one
    fingerprints = template_fingerprints(project)
    assert fingerprints["project:review.en.md.j2"] == sha
    assert (
        fingerprints["package:_expected.en.j2"]
        == hashlib.sha256((PACKAGED / "_expected.en.j2").read_bytes()).hexdigest()
    )
    assert set(fingerprints) == {
        "project:review.en.md.j2",
        "package:review.ja.md.j2",
        "package:report.en.md.j2",
        "package:report.ja.md.j2",
        "package:_expected.en.j2",
        "package:_expected.ja.j2",
    }
    assert list(fingerprints) == sorted(fingerprints)


def test_fingerprints_follow_what_a_project_template_includes(tmp_path: Path) -> None:
    project = _project(tmp_path, SIMPLE)
    _template(project, "_footer.j2", "Reviewed by the ops team.\n")
    _template(
        project,
        "review.ja.md.j2",
        _shipped("review.ja.md.j2") + '{% include "_footer.j2" %}\n',
    )
    fingerprints = template_fingerprints(project)
    assert "project:_footer.j2" in fingerprints and "project:review.ja.md.j2" in fingerprints
    document = _review(project, lang="ja")
    assert "Reviewed by the ops team." in document
    assert "`templates/_footer.j2`" in document and "テンプレート" in document

    _template(project, "review.ja.md.j2", "{% include name %}")
    with pytest.raises(RunbookError, match="computes"):
        template_fingerprints(project)


def test_the_packaged_templates_are_fingerprinted_when_the_project_has_none(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path, SIMPLE)
    fingerprints = template_fingerprints(project)
    assert all(k.startswith("package:") for k in fingerprints)
    assert len(fingerprints) == 6
    assert "## Templates" not in _review(project)


@pytest.mark.parametrize(
    ("template", "why"),
    [
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "longer than",
        ),
        ("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", "more than"),
        (
            "{% set x %}{% for i in range(99999) %}{{ i }}" + "x" * 60 + "{% endfor %}{% endset %}",
            "more than",
        ),
        ("{{ '{:>999999999}'.format(1) }}", "width"),
        ("{{ 'x' | center(999999999) }}", "more than"),
        ("{% set a = 'x' * 1000000 %}{{ a ~ a ~ a ~ a ~ a ~ a }}", "more than"),
        ("{% set a = 'x' * 1000000 %}{{ '-'.join([a, a, a, a, a, a]) }}", "more than"),
        ("{% set l = [1] %}{% set _ = l.append(2) %}", "unsafe"),
        ("{% set _ = plans[0].vars.update(x=1) %}", "unsafe"),
    ],
)
def test_a_project_template_has_a_budget_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, template: str, why: str
) -> None:
    # Only the endless loop is for the clock; the others must reach their size or operations
    # budget first even on a loaded machine (parallel workers).
    monkeypatch.setattr(mdsandbox, "SECONDS", 1.0 if why == "longer than" else 60.0)
    project = _project(tmp_path, SIMPLE)
    _template(project, "review.en.md.j2", template)
    with pytest.raises(RunbookError) as caught:
        _review(project)
    assert why in str(caught.value)
    assert "refused by the sandbox" in str(caught.value)


# --- what a runbook says cannot hide what runs ---------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_an_html_comment_opened_in_one_note_and_closed_in_another_hides_nothing(
    tmp_path: Path, lang: str
) -> None:
    project = _project(tmp_path, HIDING)
    document = _review(project, lang)
    _every_command_shown(project, document)
    seen = Seen(document)
    assert "All fine here <!--" in seen.text and "--> nothing to see" in seen.text
    assert "<!--" not in seen.rendered
    assert any("Clean up" in h for h in seen.headings)


TRICKS = r"""
name: probe
title: "Tricks `` ` with <b>tags</b> & &#x202e; entities"
description: |
  Ends with an open fence:

  ```
  and never closes it
vars:
  pipes: "a|b `c` | d"
  ticks: "```"
  lines: "one\ntwo"
steps:
  - id: details
    title: "Title with ``` backticks ` and | pipes"
    note: |
      <details><summary>Nothing</summary>

      hidden?
    run: echo details
  - id: hidden
    title: "<div hidden>"
    note: "<div hidden>"
    run: echo hidden
  - id: fences
    title: "[x]: /link-definition"
    note: "~~~"
    run: |
      cat <<'EOF'
      ```
      ~~~
      ````
      <!--
      EOF
      echo {{ pipes }} {{ ticks }}
  - id: heading
    title: "# not a heading #"
    note: "    indented"
    run: echo "</details> -->"
  - id: manual
    title: "1. not a list"
    manual: |
      Watch the log for `<script>` and `` ` `` marks; then tell the team.
      ~~~
rollback:
  - id: undo
    title: "- not a list"
    run: echo undo
"""


@pytest.mark.parametrize("lang", LANGS)
def test_notes_titles_vars_and_commands_cannot_break_out_of_their_place(
    tmp_path: Path, lang: str
) -> None:
    project = _project(tmp_path, TRICKS)
    document = _review(project, lang)
    _every_command_shown(project, document)
    seen = Seen(document)
    for title in (
        "Title with ``` backticks ` and | pipes",
        "<div hidden>",
        "[x]: /link-definition",
        "# not a heading #",
        "1. not a list",
        "- not a list",
        "Tricks `` ` with <b>tags</b> & &#x202e; entities",
    ):
        assert any(title in h for h in seen.headings), (title, seen.headings)
    assert "\u202e" not in seen.rendered
    # the vars table keeps its two columns, and each value whole
    rows = [t for t in seen.tokens if t.type == "tr_open"]
    assert len(rows) >= 3
    assert "a|b `c` | d" in seen.text and "one\\ntwo" in seen.text
    assert "<script>" in seen.text and "hidden?" in seen.text
    assert any("never closes it" in b for b in seen.blocks)
    # every step is a heading of its own, after all of that
    for step_id in ("details", "hidden", "fences", "heading", "manual", "undo"):
        assert any(f"{step_id}" in h for h in seen.headings), step_id


def test_a_multi_host_review_shows_each_hosts_commands(tmp_path: Path) -> None:
    hosts = (
        "hosts:\n  a: {address: 10.0.0.1}\n  b: {address: 10.0.0.2}\n"
        "groups:\n  g: {hosts: [a, b]}\n"
    )
    project = _project(tmp_path, SIMPLE, hosts)
    document = _review(project, host="g")
    seen = Seen(document)
    assert sum(b.strip() == "echo one" for b in seen.blocks) == 2
    assert sum(b.strip() == "echo undo" for b in seen.blocks) == 2


# --- the escaping functions, on any text ----------------------------------------------------------

ANY_TEXT = st.text(
    alphabet=st.sampled_from([*"ab <>&!|`~#*_-=[]():\\\n\t\"'1.;", "\x1b", "\u202e", "\r"]),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_code_and_fence_hold_any_text_exactly(value: str) -> None:
    span = Seen(f"x {mdsafe.code(value)} y")
    (inline,) = [t for t in span.tokens if t.type == "code_inline"]
    shown = visible(value, lines=False)  # a carriage return ending the text shows as nothing
    assert inline.content == shown or (not shown and inline.content == " ")
    block = Seen(mdsafe.fence(value, "sh") + "\n\nafter")
    assert block.blocks[0].rstrip("\n") == visible(value).rstrip("\n")
    assert block.text.endswith("after")


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT, ANY_TEXT)
def test_no_escaped_value_opens_html_or_swallows_what_follows(first: str, second: str) -> None:
    document = "\n\n".join(
        [
            mdsafe.markdown(first),
            f"# {mdsafe.text(first)}",
            mdsafe.text(second),
            f"| a | b |\n|---|---|\n| {mdsafe.cell(mdsafe.text(first))} | "
            f"{mdsafe.cell(mdsafe.code(second))} |",
            mdsafe.quote(second),
            mdsafe.fence("echo end", "sh"),
            "The end.",
        ]
    )
    seen = Seen(document)
    assert seen.html == []
    assert "\x1b" not in seen.rendered and "\u202e" not in seen.rendered
    assert seen.blocks[-1] == "echo end\n"
    assert seen.text.endswith("The end.")
    assert mdsafe.layout(document).problems == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab <!-->`\n|")), max_size=30))
def test_text_shows_its_characters_as_written(value: str) -> None:
    seen = Seen(mdsafe.text(value))
    assert seen.html == []
    assert seen.text == " ".join(value.split("\n")).strip()


def test_the_layout_check_finds_what_hides() -> None:
    assert mdsafe.layout("```sh\necho\n```\n").problems == []
    for hiding in (
        "<!--\n```sh\necho\n```\n-->",
        "text <b>x</b>",
        "```sh\nnever closed",
        "  ```sh\nindented\n```",
        "a ` b",
        "| `a | b` |\n|---|---|",
        "&#x202e;",
        "x\x1by",
    ):
        assert mdsafe.layout(hiding).problems, hiding


# --- text is text: input errors ------------------------------------------------------------------


FIELDS = {
    "title": ("title: {v}\n", 2),
    "description": ("description: {v}\n", 2),
    "var": ("vars:\n  x: {v}\n", 3),
    "step title": ("steps:\n  - id: s\n    title: {v}\n    run: 'true'\n", 4),
    "note": ("steps:\n  - id: s\n    note: {v}\n    run: 'true'\n", 4),
    "run": ("steps:\n  - id: s\n    run: {v}\n", 4),
    "manual": ("steps:\n  - id: s\n    manual: {v}\n", 4),
    "backup path": ("steps:\n  - id: s\n    backup: [/etc/a, {v}]\n", 4),
    "check url": ("steps:\n  - id: s\n    check: {{http: {{url: {v}}}}}\n", 4),
    "check header": (
        "steps:\n  - id: s\n    check:\n      http:\n        url: http://x/\n"
        "        headers: {{Server: {v}}}\n",
        7,
    ),
    "jinja literal": ("title: '{{{{ \"{e}\" }}}}'\n", 2),
}
CHARACTERS = {
    "\x1b": ("\\e", "U+001B ESCAPE"),
    "\u202e": ("\\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    "\r": ("\\r", "U+000D CARRIAGE RETURN"),
    "\u2066": ("\\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
}


@pytest.mark.parametrize("char", list(CHARACTERS), ids=[c[1] for c in CHARACTERS.values()])
@pytest.mark.parametrize("field", list(FIELDS))
def test_control_and_bidi_characters_in_every_field_are_input_errors_with_file_and_line(
    project: Path, field: str, char: str
) -> None:
    escape, name = CHARACTERS[char]
    template, line = FIELDS[field]
    body = template.format(v=f'"a{escape}b"', e=escape.replace("\\e", "\\x1b"))
    if "steps:" not in body:
        body += "steps:\n  - {id: s, run: 'true'}\n"
    (project / "runbooks" / "probe.yaml").write_text(f"name: probe\n{body}", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_runbook(project / "runbooks" / "probe.yaml", "runbooks/probe.yaml")
    messages = [str(p) for p in caught.value.problems]
    assert any(m.startswith(f"runbooks/probe.yaml:{line}: ") and name in m for m in messages), (
        messages
    )
    assert char not in str(caught.value)  # the message shows it as an escape


def test_a_bidi_control_inside_a_block_of_text_is_found_on_its_own_line(project: Path) -> None:
    (project / "runbooks" / "probe.yaml").write_text(
        "name: probe\ndescription: |\n  fine\n  fine\nsteps:\n  - id: s\n    run: |\n"
        "      true\n      echo \u202eexe.sh\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_runbook(project / "runbooks" / "probe.yaml", "runbooks/probe.yaml")
    (problem,) = caught.value.problems
    assert str(problem).startswith("runbooks/probe.yaml:9: steps[0].run: a bidirectional control")


def test_a_line_break_is_allowed_in_text_with_lines_only(project: Path) -> None:
    (project / "runbooks" / "probe.yaml").write_text(
        'name: probe\ndescription: "a\\nb"\nvars: {x: "a\\nb"}\nsteps:\n'
        '  - {id: s, note: "a\\nb", run: "true\\ntrue"}\n  - {id: m, manual: "a\\nb"}\n'
        '  - {id: t, title: "a\\nb", run: "true"}\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_runbook(project / "runbooks" / "probe.yaml", "runbooks/probe.yaml")
    (problem,) = caught.value.problems
    assert str(problem).startswith("runbooks/probe.yaml:7: steps[2].title: a line break")


def test_inventory_text_and_var_values_are_checked_too(project: Path) -> None:
    (project / "hosts.yaml").write_text(
        'defaults:\n  vars: {ok: "a\\nb", bad: "\\u202e"}\nhosts:\n'
        '  web1: {address: "10.0.0.1\\e[2K"}\n  web2: {user: "de\\u200fploy"}\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_inventory(project / "hosts.yaml", "hosts.yaml")
    messages = [str(p) for p in caught.value.problems]
    assert len(messages) == 3, messages
    assert messages[0].startswith("hosts.yaml:2: defaults.vars.bad: a bidirectional control")
    assert messages[1].startswith("hosts.yaml:4: hosts.web1.address: a control character")
    assert "U+200F RIGHT-TO-LEFT MARK" in messages[2] and messages[2].startswith("hosts.yaml:5:")


def test_var_values_on_the_command_line_are_checked(tmp_path: Path) -> None:
    assert parse_vars(("a=one\ntwo", "b=\tx")) == {"a": "one\ntwo", "b": "\tx"}
    with pytest.raises(InputError) as caught:
        parse_vars(("a=\x1b[2Kx", "b=x\u202ey"))
    text = str(caught.value)
    assert "--var a: U+001B ESCAPE" in text and "--var b: U+202E RIGHT-TO-LEFT OVERRIDE" in text
    assert "\x1b" not in text and "\u202e" not in text


# --- the report of a run whose host printed anything ---------------------------------------------


REPORTED = """\
name: probe
title: Report probe
steps:
  - {id: noisy, title: Print anything, run: ./noisy}
  - {id: after, title: A later step, run: echo after}
rollback:
  - {id: undo, title: Undo it, run: echo undo}
"""
NOISE = "\x1b[2K\x1b[1Gok\r\nfine <!--\n```\n~~~\n````\n<details>\n| a | b |\n\u202eevil"


@pytest.mark.parametrize("lang", LANGS)
def test_the_report_of_a_run_whose_host_printed_anything_keeps_every_section_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    project = _project(tmp_path, REPORTED)
    (plan,) = _plans(project)
    state = tmp_path / "state"
    (state / "runs").mkdir(parents=True)
    state.chmod(0o700)
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    run_id = "20260101T000000Z-beef"
    journal = Journal(state / "runs" / f"{run_id}.jsonl")
    events: list[Any] = [
        Start(run=run_id, runbook="probe", host="web1", plan=plan.record(), digest=plan.digest),
        Gate(phase="steps", step="noisy", answer="yes"),
        StepStart(
            phase="steps", step="noisy", number=1, attempt=1, action="run", command="./noisy"
        ),
        StepEnd(
            phase="steps",
            step="noisy",
            outcome="failed",
            attempt=1,
            exit=1,
            message="failed <!-- " + NOISE.split("\n")[0],
            stdout_tail=NOISE,
            stderr_tail="```\n" + NOISE,
            detail="-->" + NOISE,
        ),
        End(result="failed", exit_code=1, message="stopped\n```\n<!--"),
    ]
    for event in events:
        journal.write(event)
    journal.close()

    document = report(Options(project=project), None, lang=lang)

    seen = Seen(document)
    assert seen.html == []
    assert "\x1b" not in document and "\u202e" not in document and "\r" not in document
    # A carriage return that only ends a line hides nothing: it is dropped, not shown.
    assert "failed <!-- \\x1b[2K\\x1b[1Gok" in seen.text
    assert any(b.startswith("\\x1b[2K\\x1b[1Gok\n") for b in seen.blocks)
    assert sum(NOISE.split("\n")[2] in b for b in seen.blocks) >= 3  # stdout, stderr, detail
    # everything after the noise is still a heading, a table or text: nothing was swallowed
    assert any("Print anything" in h for h in seen.headings)
    for step_id in ("noisy", "after"):
        assert f"`{step_id}`" in document
    assert "./noisy" in seen.blocks[0]
    assert "stopped ``` <!--" in seen.text
    assert mdsafe.layout(document).problems == []


PIECES = [
    "```sh",
    "```",
    "````",
    "~~~",
    "  ```",
    " ~~~",
    "<!--",
    "-->",
    "<details>",
    "</details>",
    "| a | b |",
    "|---|---|",
    "| `a|b` | c |",
    "`",
    "``",
    "a `b` c",
    "a `b",
    "c` d",
    "\\`",
    "text",
    "- item",
    "> quote",
    ">```",
    "    indented",
    "",
    "[x]: /y",
    "&#x202e;",
    "&lt;b&gt;",
    "# h",
    "echo <b>",
    "---",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_what_the_layout_check_passes_a_renderer_reads_the_same_way(pieces: list[str]) -> None:
    document = "\n".join(pieces)
    found = mdsafe.layout(document)
    if found.problems:
        return
    seen = Seen(document)
    assert seen.html == [], document
    assert "\u202e" not in seen.rendered
    fences = [t.content.rstrip("\n") for t in seen.tokens if t.type == "fence"]
    for block in found.blocks:
        assert block.rstrip("\n") in fences, document
