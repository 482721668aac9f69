"""Inside `run`, no value can change the shape of a command."""

from __future__ import annotations

import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.core.model import Host, Runbook, Step
from runbook.core.plan import make_plan
from runbook.core.render import is_template, reveal

HOST = Host(name="web1", address="10.0.0.1")
# Any text a YAML value or --var can carry (no NUL: it cannot reach a shell argument at all; not
# the four private-use characters the tool reserves for its markers: inputs refuse them).
VALUES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ue000\ue001\ue002\ue003")
)


def _plan(command: str, overrides: dict[str, str], secrets: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    runbook = Runbook(
        name="p",
        path="p.yaml",
        title="p",
        description="",
        vars={},
        secrets=secrets,
        steps=(Step(id="s", action="run", body=command, line=1),),
        rollback=(),
    )
    return make_plan(runbook, HOST, "hosts.yaml", overrides)


@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_a_value_stays_one_word(value: str) -> None:
    command = _plan("git checkout {{ branch }} --quiet", {"branch": value}).steps[0].command
    assert shlex.split(command) == ["git", "checkout", value, "--quiet"]


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(VALUES.filter(lambda v: not is_template(v)), max_size=5),
    tail=VALUES.filter(lambda v: not is_template(v)),
)
def test_a_list_becomes_separately_quoted_words(values: list[str], tail: str) -> None:
    runbook = Runbook(
        name="p",
        path="p.yaml",
        title="p",
        description="",
        vars={"words": values, "tail": tail},
        secrets=(),
        steps=(Step(id="s", action="run", body="cmd {{ words }} {{ tail }}", line=1),),
        rollback=(),
    )
    command = make_plan(runbook, HOST, "hosts.yaml").steps[0].command
    assert shlex.split(command) == ["cmd", *values, tail]


@settings(max_examples=200, deadline=None)
@given(secret=VALUES.filter(bool), prefix=VALUES)
def test_a_secret_stays_one_word_when_revealed(secret: str, prefix: str) -> None:
    plan = _plan("login {{ prefix ~ secrets.token }} done", {"prefix": prefix}, ("token",))
    command = plan.steps[0].command
    shown = "login " + (shlex.quote(prefix) if prefix else "") + "*** done"
    assert plan.steps[0].display() == shown
    assert shlex.split(reveal(command, {"token": secret}, shell=True)) == [
        "login",
        prefix + secret,
        "done",
    ]


def test_the_opt_out_is_explicit_and_recorded() -> None:
    step = _plan("ls {{ flags | unquoted }}", {"flags": "-l -a"}).steps[0]
    assert step.command == "ls -l -a"
    assert step.unquoted == ("-l -a",)
