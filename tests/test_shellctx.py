"""A `{{ }}` in `run` must land where the shell reads its quotes, or the runbook is refused."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from runbook.commands.inputs import parse_vars
from runbook.core.markers import VALUE_CLOSE, VALUE_OPEN
from runbook.core.model import Host, Runbook, Step
from runbook.core.plan import make_plan
from runbook.core.shellctx import place_values
from runbook.errors import InputError

HOST = Host(name="web1", address="10.0.0.1")


def _plan(command: str, overrides: dict[str, str]):  # type: ignore[no-untyped-def]
    runbook = Runbook(
        name="p",
        path="p.yaml",
        title="p",
        description="",
        vars={},
        secrets=(),
        steps=(Step(id="s", action="run", body=command, line=7),),
        rollback=(),
    )
    return make_plan(runbook, HOST, "hosts.yaml", overrides)


def _payload(canary: Path) -> str:
    """A value that runs `touch CANARY` wherever the shell expands it or starts a new line."""
    return f"x $(touch {canary}) `touch {canary}` \ntouch {canary} #"


# Each: a script placing {{ v }} where its quoting means nothing, and the context's word.
MISPLACED = [
    ('printf "%s\\n" "by {{ v }}"', "double quotes"),
    ("printf '%s\\n' 'by {{ v }}'", "single quotes"),
    ("true # deploy {{ v }}", "comment"),
    ("cat <<EOF\n{{ v }}\nEOF", "here-document"),
    ("cat <<-'EOF'\n\tby {{ v }}\n\tEOF", "here-document"),
    ("echo ${unset:-{{ v }}}", "${ }"),
    ("echo $(( {{ v }} ))", "arithmetic"),
    ("echo `echo {{ v }}`", "backticks"),
    ('echo "$(echo "{{ v }}")"', "double quotes"),
]

# Each: a script placing {{ v }} where it stays one intact argument.
PLACED = [
    "printf '%s\\n' {{ v }}",
    "printf '%s\\n' by{{ v }}",
    'printf "%s\\n" "$(printf "%s" {{ v }})"',
    "(printf '%s\\n' {{ v }})",
    "x=$(printf '%s' {{ v }}); printf '%s\\n' \"$x\"",
    "v={{ v }}\ncat <<EOF\n$v\nEOF",
    "printf '%s\\n' \"a\" {{ v }} # a comment after it",
    "case {{ v }} in (*) printf '%s\\n' {{ v }};; esac",
    'printf \\"; printf "%s\\n" {{ v }}',
]


@pytest.mark.parametrize(("script", "context"), MISPLACED)
def test_a_value_where_its_quotes_mean_nothing_is_refused_with_the_line(
    script: str, context: str, tmp_path: Path
) -> None:
    with pytest.raises(InputError) as refused:
        _plan(script, {"v": _payload(tmp_path / "canary")})
    text = str(refused.value)
    assert "p.yaml:" in text and context in text, text
    assert "touch" not in text  # the value itself is not shown, only where it was
    assert "put it outside quotes" in refused.value.problems[0].hint  # type: ignore[operator]


@pytest.mark.parametrize(("script", "context"), MISPLACED)
def test_each_refused_placement_would_have_run_the_value_or_mangled_it(
    script: str, context: str, tmp_path: Path
) -> None:
    """What the check prevents is real: quoted as every value is, the payload runs in `sh`
    (or, in a quoted here-document, arrives with the quoting's own quotes in it)."""
    canary = tmp_path / "canary"
    value = _payload(canary)
    rendered = script.replace("{{ v }}", shlex.quote(value))
    done = subprocess.run(["sh", "-c", rendered], capture_output=True, text=True, check=False)
    assert canary.exists() or value not in done.stdout.splitlines(), (context, done)


@pytest.mark.parametrize("script", PLACED)
def test_a_value_in_plain_command_text_arrives_as_one_intact_argument(
    script: str, tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    value = _payload(canary)
    command = _plan(script, {"v": value}).steps[0].command
    assert VALUE_OPEN not in command and VALUE_CLOSE not in command
    done = subprocess.run(["sh", "-ec", command], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done
    assert not canary.exists()
    assert value in done.stdout


def test_unquoted_is_the_authors_own_choice_and_is_not_checked() -> None:
    command = _plan('echo "{{ v | unquoted }}"', {"v": "a b"}).steps[0].command
    assert command == 'echo "a b"'


def test_a_macro_keeps_the_check_for_the_values_inside_it() -> None:
    macro = '{% macro m(x) %}"{{ x }}"{% endmacro %}'
    assert shlex.split(_plan(macro + "echo {{ m(v) }}", {"v": "$(id)"}).steps[0].command) == [
        "echo",
        "\"'$(id)'\"",
    ]  # quoted whole by the outer {{ }}: one word, nothing expands
    with pytest.raises(InputError, match="double quotes"):
        _plan(macro + "echo {{ m(v) | unquoted }}", {"v": "$(id)"})


def test_the_refusal_names_the_line_of_the_script() -> None:
    with pytest.raises(InputError) as refused:
        _plan('echo one\necho two\ngit commit -m "by {{ v }}"', {"v": "x"})
    assert refused.value.problems[0].line == 9  # the step's run starts on line 7


def test_late_values_are_checked_too() -> None:
    with pytest.raises(InputError, match="double quotes"):
        _plan('echo "run {{ run.id }}"', {})
    assert "run.id" in _plan("echo run-{{ run.id }}", {}).steps[0].command


def test_the_reserved_characters_are_refused_in_inputs() -> None:
    with pytest.raises(InputError, match="U\\+E002"):
        parse_vars((f"v=a{VALUE_OPEN}b",))
    assert parse_vars(("v=a\ue000b",)) == {"v": "a\ue000b"}  # a late marker's: plain text


def test_place_values_without_values_changes_nothing() -> None:
    assert place_values("echo 'a' \"b\" # c") == ("echo 'a' \"b\" # c", [])
