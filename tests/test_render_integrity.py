"""What was reviewed is what runs: a template cannot behave differently at release time, hide
shell code from the review, or hang or exhaust the machine that renders it.

Each attack found against the renderer is reproduced here through the loader and the planner
(as `inv check`, `inv show` and `inv release` plan), then the executor is shown to fill the late
values in only when it sends a step. The end-to-end forms (real sshd, the CLI) are in
tests/e2e/test_attack_render.py.
"""

from __future__ import annotations

import io
import itertools
import json
import resource
import shlex
import signal
import textwrap
import threading
import time
from pathlib import Path

import pytest

from runbook.commands import Options, check, show
from runbook.console import Console
from runbook.core import budget, jinja, render
from runbook.core.inventory import load_inventory
from runbook.core.load import load_runbook, runbook_from_source
from runbook.core.model import Host, Plan, RunValues, mask
from runbook.core.plan import make_plan
from runbook.core.yamlsrc import parse_yaml
from runbook.errors import DONE, InputError
from runbook.execute import Batch, HostRun, Run, release, run_batch
from runbook.journal.events import Backup, RunKind, Start, StepStart
from runbook.testing import FakeTransport, MemoryJournal, ScriptedGate, fake_connect
from tests.conftest import make_config_clone

WEB1 = Host(name="web1", address="10.0.0.1", sudo=False)
RUN_ID = "20260101T000000Z-abcd"
OPERATOR = "sato"
SECRET = "tok s3cr3t 'x'"
# Long enough for any of the templates below on a slow machine, short enough to catch a hang.
HANG = 5.0


def runbook_text(text: str, path: Path) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def plan_of(text: str, overrides: dict[str, str] | None = None) -> Plan:
    """A runbook (YAML text, its steps from line 5) planned for WEB1 as every command plans."""
    source, problems = parse_yaml(textwrap.dedent(text).encode(), "runbook.yaml")
    assert source is not None, problems
    runbook = runbook_from_source(source, problems)
    assert runbook is not None and not problems, problems
    return make_plan(runbook, WEB1, "hosts.yaml", overrides)


def one_step(run: str, vars_: str = "{}", secrets: str = "[token]") -> str:
    """A runbook whose one step, at line 6 (its text at line 7), runs `run`."""
    return (
        "name: probe\n"
        f"vars: {vars_}\n"
        f"secrets: {secrets}\n"
        "steps:\n"
        "  - id: one\n"
        f"    run: {json.dumps(run)}\n"
    )


def refused(text: str, overrides: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(InputError) as caught:
        plan_of(text, overrides)
    return [str(p) for p in caught.value.problems]


# --- 1. run.* cannot steer the template ---------------------------------------------------------

OPERATOR_ATTACK = "echo hello{% if run.operator == 'alice' %} && touch /tmp/PWNED{% endif %}"


def test_the_operator_attack_is_refused_where_it_is_written() -> None:
    messages = refused(one_step(OPERATOR_ATTACK))

    assert messages == [
        "runbook.yaml:6: step 'one' run: run.operator can only be printed, not tested or "
        "filtered (hint: print it with {{ }} where it is needed; decide with a var instead)"
    ]


def test_the_random_attack_is_refused_random_does_not_exist() -> None:
    messages = refused(one_step("echo hello{% if [0,1]|random %} && touch /tmp/PWNED{% endif %}"))

    assert len(messages) == 1
    assert messages[0].startswith("runbook.yaml:6: step 'one' run: ")
    assert "No filter named 'random'" in messages[0]


@pytest.mark.parametrize(
    "template",
    [
        "{% if run.operator %}x{% endif %}",
        "{% if run.operator != 'bob' %}x{% endif %}",
        "{% if 'ali' in run.operator %}x{% endif %}",
        "{% if run.operator in ['alice'] %}x{% endif %}",
        "{% if run.started_at > '2030' %}x{% endif %}",
        "{% for c in run.operator %}{{ c }}{% endfor %}",
        "{{ run.operator[0] }}",
        "{{ run.operator[1:] }}",
        "{{ run.operator.upper() }}",
        "{{ run.operator | length }}",
        "{{ run.operator | default('x') }}",
        "{{ run.operator | replace('a', 'b') }}",
        "{{ run.operator | unquoted }}",
        "{{ [run.operator] | first }}",
        "{{ {'who': run.operator} | tojson }}",
        "{{ ['alice', 'bob'] | select('equalto', run.operator) | list }}",
        "{{ run.operator is defined }}",
        "{{ 'x' if run.operator is string }}",
        "{{ ('pre' ~ run.operator) | length }}",
        "{% set x %}{{ run.operator }}{% endset %}{% if x == 'alice' %}y{% endif %}",
        "{% macro m() %}{{ run.operator }}{% endmacro %}{% if m() == 'alice' %}y{% endif %}",
        "{{ '%s' % run.operator }}",
        "{{ '{}'.format(run.operator) }}",
        "{{ run.operator + 'x' }}",
        "{{ run.operator * 2 }}",
        "{{ dict(a=1)[run.operator] }}",
        "{% if secrets.token == 'hunter2' %}x{% endif %}",
        "{{ secrets.token | urlencode }}",
    ],
)
def test_a_late_value_can_only_be_printed(template: str) -> None:
    messages = refused(one_step(template))

    assert len(messages) == 1, messages
    assert messages[0].startswith("runbook.yaml:6: step 'one' run: ")
    assert "can only be printed, not tested or filtered" in messages[0]


def test_a_var_that_holds_a_late_value_is_late_itself() -> None:
    messages = refused(
        one_step(
            "echo hi{% if op == 'alice' %} && touch /tmp/PWNED{% endif %}",
            vars_='{op: "{{ run.operator }}", who: "by {{ op }}"}',
        )
    )
    assert messages == [
        "runbook.yaml:6: step 'one' run: 'op' (it holds run.operator) can only be printed, not "
        "tested or filtered (hint: print it with {{ }} where it is needed; decide with a var "
        "instead)"
    ]
    # ... and so is a var made of that var.
    assert (
        "'who' (it holds run.operator) can only be printed"
        in refused(
            one_step("{{ who | upper }}", vars_='{op: "{{ run.operator }}", who: "by {{ op }}"}')
        )[0]
    )


@pytest.mark.parametrize(
    "template, command",
    [
        (
            "echo {{ run.id }} {{ run.operator }}",
            "echo \ue000run.id\ue001 \ue000run.operator\ue001",
        ),
        ("echo {{ 'v-' ~ run.id ~ '.tar' }}", "echo v-\ue000run.id\ue001.tar"),
        ("echo {{ [run.id, 'a b'] }}", "echo \ue000run.id\ue001 'a b'"),
        (
            "{% macro tag(v) %}x{{ v }}{% endmacro %}echo {{ tag(run.id) }}",
            "echo x\ue000run.id\ue001",
        ),
        ("echo {{ secrets.token }}", "echo \ue000secrets.token\ue001"),
        ("{% set ns = namespace(v=run.id) %}echo {{ ns.v }}", "echo \ue000run.id\ue001"),
    ],
)
def test_printing_a_late_value_leaves_its_marker_outside_quotes(
    template: str, command: str
) -> None:
    assert plan_of(one_step(template)).steps[0].command == command


def test_the_review_shows_run_values_as_placeholders_and_secrets_as_stars() -> None:
    step = plan_of(one_step("notify {{ run.operator }} {{ run.id }} {{ secrets.token }}")).steps[0]

    assert step.display() == "notify {run.operator} {run.id} ***"


def test_review_and_release_make_the_same_plan_with_run_values_and_secrets(
    project: Path,
) -> None:
    """The release does not render again: the plan `inv show` digests is the plan it runs."""
    runbook_text(
        """\
        name: late
        title: Late values
        secrets: [token]
        vars:
          tag: "v-{{ run.id }}"
        steps:
          - id: one
            run: notify {{ run.operator }} {{ tag }} {{ secrets.token }}
          - id: look
            check:
              http:
                url: "https://{{ host.address }}/?by={{ run.operator }}&t={{ secrets.token }}"
          - id: tell
            manual: Run {{ run.id }} started at {{ run.started_at }}
        """,
        project / "runbooks" / "late.yaml",
    )
    opts = Options(project=project, host="web1")
    runbook = load_runbook(project / "runbooks" / "late.yaml")
    host = load_inventory(project / "hosts.yaml").hosts["web1"]

    review = make_plan(runbook, host, "hosts.yaml")
    again = make_plan(runbook, host, "hosts.yaml")

    assert review == again
    assert f"sha256:{review.digest}" in show(opts)
    assert review.steps[0].command == (
        "notify \ue000run.operator\ue001 v-\ue000run.id\ue001 \ue000secrets.token\ue001"
    )
    assert review.vars["tag"] == "v-\ue000run.id\ue001"


# --- the executor fills them in when it sends a step --------------------------------------------

LATE = """\
name: late
title: Late values
secrets: [token]
vars:
  conf: /etc/app-{{ run.id }}.conf
steps:
  - id: keep
    backup: "{{ conf }}"
  - id: notify
    run: notify {{ run.operator }} {{ run.id }} {{ run.started_at }} {{ secrets.token }}
  - id: tell
    manual: Tell the team {{ run.operator }} runs {{ run.id }}
rollback:
  - id: put-back
    restore: "{{ conf }}"
  - id: say
    run: echo rolled back {{ run.id }}
"""


def release_batch(plan: Plan, transport: FakeTransport, journal: MemoryJournal) -> ScriptedGate:
    gate = ScriptedGate(["yes", "yes", "yes"])
    batch = Batch(
        kind=RunKind.RELEASE,
        connect=fake_connect({"web1": transport}),
        open_journal=lambda run_id: journal,
        console=Console(io.StringIO(), colour=False),
        gate=gate,
        secrets={"token": SECRET},
        operator=OPERATOR,
    )
    assert run_batch(batch, [HostRun(plan, RUN_ID)]) == DONE
    return gate


def test_the_executor_fills_run_values_and_secrets_in_at_send_time_and_masks_the_secret() -> None:
    plan = plan_of(LATE)
    journal, transport = MemoryJournal(), FakeTransport()

    gate = release_batch(plan, transport, journal)

    (start,) = journal.of(Start)
    assert start.digest == plan.digest  # the reviewed plan, recorded as it was reviewed
    assert start.plan == plan.record()
    started = start.started_at
    scripts = transport.scripts()
    notify = next(s for s in scripts if s.startswith("notify"))
    assert shlex.split(notify) == ["notify", OPERATOR, RUN_ID, started, SECRET]
    assert any(f"/etc/app-{RUN_ID}.conf" in s for s in scripts if s != notify)  # the backup
    (made,) = journal.of(Backup)
    assert made.path == f"/etc/app-{RUN_ID}.conf"
    commands = [e.command for e in journal.of(StepStart)]
    assert f"notify {OPERATOR} {RUN_ID} {started} ***" in commands
    assert gate.asked[-1] == ("done", f"Tell the team {OPERATOR} runs {RUN_ID}")
    text = "\n".join(json.dumps(e.to_json(), ensure_ascii=False) for e in journal.events)
    assert SECRET not in text and shlex.quote(SECRET) not in text


def test_a_run_value_that_needs_quoting_is_sent_as_one_word() -> None:
    plan = plan_of(LATE)
    transport = FakeTransport()
    operator = "eve'; touch /tmp/PWNED; '$(id)"
    run = Run(
        plan=plan,
        run_id=RUN_ID,
        transport=transport,
        journal=MemoryJournal(),
        console=Console(io.StringIO(), colour=False),
        local=FakeTransport(),
        values=RunValues(RUN_ID, "now", operator),
        secrets={"token": SECRET},
    )

    assert release([run], ScriptedGate(["yes", "yes", "yes"])) == DONE

    notify = next(s for s in transport.scripts() if s.startswith("notify"))
    assert shlex.split(notify) == ["notify", operator, RUN_ID, "now", SECRET]


def test_inv_rollback_fills_in_the_release_values_its_rollback_steps_were_written_for() -> None:
    plan = plan_of(LATE)
    journal, transport = MemoryJournal(), FakeTransport()
    released = Backup(
        step="keep",
        path=f"/etc/app-{RUN_ID}.conf",
        backup=f"/etc/app-{RUN_ID}.conf.{RUN_ID}.bak",
        sha256="0" * 64,
        mode="644",
    )
    batch = Batch(
        kind=RunKind.ROLLBACK,
        connect=fake_connect({"web1": transport}),
        open_journal=lambda run_id: journal,
        console=Console(io.StringIO(), colour=False),
        gate=ScriptedGate(["yes", "yes"]),
        operator="someone-else",
    )
    item = HostRun(
        Plan.from_record(plan.record(), runbook="late", runbook_path="x", digest=plan.digest),
        "20260102T000000Z-beef",
        {released.path: released},
        rolls_back=RUN_ID,
        values=RunValues(RUN_ID, "2026-01-01T00:00:00Z", OPERATOR),
    )

    assert run_batch(batch, [item]) == DONE

    assert f"echo rolled back {RUN_ID}" in transport.scripts()
    assert any(released.backup in s for s in transport.scripts())  # the restore


# --- 2. unquoted is recorded where it is called -------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "git checkout {{ branch | unquoted }}",
        "git checkout {{ [branch] | map('un' ~ 'quoted') | first }}",
        "git checkout {{ [branch] | map('unquoted') | join }}",
        "{% set f = 'unquoted' %}git checkout {{ [branch] | map(f) | first }}",
        "{% macro raw(v) %}{{ v | unquoted }}{% endmacro %}git checkout {{ raw(branch) }}",
        "{% filter unquoted %}{{ branch }}{% endfilter %}",
    ],
)
def test_every_way_to_reach_unquoted_is_recorded_for_the_review(template: str) -> None:
    value = "x; touch /tmp/PWNED"

    step = plan_of(one_step(template), {"branch": value}).steps[0]

    assert any(value in v for v in step.unquoted), (step.command, step.unquoted)


def test_the_map_unquoted_attack_shows_in_the_review(project: Path) -> None:
    runbook_text(
        one_step("git checkout {{ [branch] | map('un' ~ 'quoted') | first }}", "{branch: main}"),
        project / "runbooks" / "probe.yaml",
    )
    value = "main; touch /tmp/PWNED"

    review = show(Options(project=project, host="web1", vars=(f"branch={value}",)))

    assert "Unquoted values" in review
    assert f"`{value}`" in review


def test_a_quoted_value_records_nothing() -> None:
    step = plan_of(one_step("echo {{ branch }} unquoted"), {"branch": "x"}).steps[0]

    assert step.unquoted == ()


# --- 3. budgets ---------------------------------------------------------------------------------

PATHOLOGICAL = {
    "nested range": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "more than 1,000,000 loop iterations, calls and filters",
    ),
    "huge center": ('{{ "x".center(3000000000) }}', "a width of 3,000,000,000 is more than"),
    "huge center filter": ("{{ 'x' | center(3000000000) }}", "is more than a template may use"),
    "doubling namespace": (
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
        "a text of more than 1,000,000 characters",
    ),
    "recursive macro": (
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "nested too deeply (a macro that calls itself without end?)",
    ),
    "huge printf width": ("{{ '%3000000000s' % 'x' }}", "a format width of 3000000000"),
    "huge format width": ("{{ '{:>{}}'.format('x', 3000000000) }}", "a format width of"),
    "join of a huge list": ("{{ (['x' * 999999] * 999999) | join }}", "more than 1,000,000"),
    "growing number": (
        "{% set ns = namespace(n=10) %}{% for i in range(40) %}"
        "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}",
        "a number too large for a template",
    ),
    "huge output": (
        "{% for i in range(100000) %}{{ 'x' * 999999 }}{% endfor %}",
        "rendering more than 1,000,000 characters",
    ),
    "list doubling in place": (
        "{% set l = [1] %}{% for i in range(60) %}{{ l.extend(l) }}{% endfor %}",
        "access to attribute 'extend' of 'list' object is unsafe",
    ),
    "sum of lists": ("{{ [[1]] * 100000 | sum(start=[]) }}", "sum adds numbers"),
}


@pytest.mark.parametrize("template, message", PATHOLOGICAL.values(), ids=list(PATHOLOGICAL))
def test_a_pathological_template_is_an_input_error_at_once(template: str, message: str) -> None:
    started = time.monotonic()
    messages = refused(one_step(template))
    elapsed = time.monotonic() - started

    assert elapsed < HANG
    assert len(messages) == 1, messages
    assert messages[0].startswith("runbook.yaml:6: step 'one' run: "), messages
    assert message in messages[0]


@pytest.mark.parametrize(
    "template, command",
    [
        ("echo {{ 'release-20260101 %s' % 'x' }}", "echo 'release-20260101 x'"),
        ("echo {{ 'v-20260101-{}'.format('x') }}", "echo v-20260101-x"),
        ("echo {{ '%5s|%-3d' | format('a', 7) }}", "echo '    a|7  '"),
        ("echo {{ ['b', 'a'] | sort | join(',') }}", "echo a,b"),
        ("echo {{ ('a-b'.split('-') | map('upper') | list) }}", "echo A B"),
        (
            "{% for x in [3, 1] | sort %}{{ loop.index }}{{ x }}"
            "{% if loop.last %}.{% endif %}{% endfor %}",
            "1123.",
        ),
        ("echo {{ range(3) | sum }} {{ 2 ** 10 }} {{ 'ab' * 2 }}", "echo 3 1024 abab"),
        ("{% set d = {'a': 1} %}echo {{ d.a }} {{ d['a'] }} {{ d.get('b', 2) }}", "echo 1 1 2"),
        ("echo {{ x | default('d') }}{% if y is defined %}!{% endif %}", "echo d"),
    ],
)
def test_ordinary_templates_render_as_before(template: str, command: str) -> None:
    assert plan_of(one_step(template)).steps[0].command == command


def test_a_failure_in_a_script_of_several_lines_names_its_line() -> None:
    text = (
        "name: probe\nsteps:\n  - id: one\n    run: |\n"
        "      echo one\n      echo two\n      echo {{ run.id | upper }}\n"
    )
    assert refused(text)[0].startswith("runbook.yaml:7: step 'one' run: run.id can only")


def test_the_timer_stops_a_loop_the_hooks_do_not_see(monkeypatch: pytest.MonkeyPatch) -> None:
    """A filter's own Python loop (wordwrap) calls no hook: SIGALRM ends it at the deadline."""
    monkeypatch.setattr(budget, "TIME_BUDGET", 0.05)
    address_space = resource.getrlimit(resource.RLIMIT_AS)
    started = time.monotonic()

    messages = refused(one_step("{{ ('x ' * 400000) | wordwrap(1) }}"))

    assert time.monotonic() - started < HANG
    assert "rendering takes more than 0.05 s" in messages[0]
    # The timer, its handler and the address-space limit are given back afterwards.
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler, None)
    assert resource.getrlimit(resource.RLIMIT_AS) == address_space


def test_outside_the_main_thread_the_hooks_alone_keep_the_budget() -> None:
    found: list[list[str]] = []

    def plan() -> None:
        found.append(refused(one_step(PATHOLOGICAL["nested range"][0])))

    worker = threading.Thread(target=plan)
    worker.start()
    worker.join(HANG)

    assert not worker.is_alive()
    assert "more than 1,000,000 loop iterations" in found[0][0]


def test_a_rendering_that_differs_each_time_is_refused_naming_the_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last line of defence, should a nondeterministic name ever reach the templates."""
    monkeypatch.setitem(jinja._SHELL.globals, "ticket", itertools.count().__next__)

    messages = refused(one_step("echo {{ ticket() }}"))

    assert messages == [
        "runbook.yaml:5: step 'one' renders differently each time it is rendered (hint: a "
        "template must render the same every time (no random choice, no clock))"
    ]


@pytest.mark.parametrize("name", ["random", "lipsum"])
def test_nothing_random_is_left_in_the_environment(name: str) -> None:
    for env in (jinja.PLAIN, jinja._SHELL):
        assert name not in env.filters and name not in env.globals


def test_a_legitimate_runbook_is_well_within_the_budget(tmp_path: Path) -> None:
    """The shipped runbook: rendering it takes milliseconds, not a noticeable part of 2 s."""
    runbook = load_runbook(Path(__file__).parents[1] / "runbooks" / "nginx-websocket.yaml")
    make_config_clone(tmp_path / "web_server")  # the checkout it pins its commit from
    started = time.monotonic()

    make_plan(runbook, WEB1, "hosts.yaml", {"config_clone": str(tmp_path / "web_server")})

    assert time.monotonic() - started < 1.0


def test_check_reports_a_budget_problem_with_file_and_line(project: Path) -> None:
    runbook_text(one_step(PATHOLOGICAL["huge center"][0]), project / "runbooks" / "bomb.yaml")

    with pytest.raises(InputError) as caught:
        check(Options(project=project))

    assert str(caught.value.problems[0]).startswith(
        "runbooks/bomb.yaml:6: step 'one' run: a width of 3,000,000,000"
    )


def test_mask_shows_run_values_as_placeholders() -> None:
    assert mask("a \ue000run.id\ue001 b \ue000secrets.x\ue001 c \ue000legacy\ue001") == (
        "a {run.id} b *** c ***"
    )


def test_a_journal_from_before_run_values_were_markers_still_reveals_its_secrets() -> None:
    """Its plan names a secret by its bare name; `inv rollback` of it must still send it."""
    command = "login \ue000token\ue001 --run 20250101T000000Z-abcd"

    assert render.reveal(command, {"secrets.token": "it's"}, shell=True) == (
        "login 'it'\"'\"'s' --run 20250101T000000Z-abcd"
    )
