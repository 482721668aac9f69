"""Every bad input in tests/bad/ gets the one clear message and line it declares.

Each file starts with `# expect: LINE: TEXT` (LINE `-` for the whole file). `*.runbook.yaml` is
checked as the only runbook of a project; `*.hosts.yaml` as the inventory beside a good runbook.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runbook.commands import Options, check
from runbook.core import budget
from runbook.errors import InputError

from .conftest import run_cli

BAD = Path(__file__).parent / "bad"
GOOD_RUNBOOK = 'name: good\nsteps:\n  - {id: one, run: "true"}\n'
CASES = sorted(BAD.glob("*.yaml"))


def expectations(path: Path) -> list[tuple[str, str]]:
    first = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: LINE: TEXT'"
    line, _, text = first.removeprefix("# expect: ").partition(": ")
    return [(line, text)]


def setup(project: Path, case: Path) -> str:
    if case.name.endswith(".hosts.yaml"):
        (project / "runbooks" / "good.yaml").write_text(GOOD_RUNBOOK)
        shutil.copy(case, project / "hosts.yaml")
        return "hosts.yaml"
    shutil.copy(case, project / "runbooks" / case.name)
    return f"runbooks/{case.name}"


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_names_file_line_and_problem(
    project: Path, case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No case expects the time budget: a loaded machine (parallel workers) must not reach it
    # before the operations budget that the loop bomb expects.
    monkeypatch.setattr(budget, "TIME_BUDGET", 60.0)
    shown = setup(project, case)
    with pytest.raises(InputError) as caught:
        check(Options(project=project))
    messages = [str(p) for p in caught.value.problems]
    for line, text in expectations(case):
        where = shown if line == "-" else f"{shown}:{line}"
        assert any(m.startswith(f"{where}: ") and text in m for m in messages), (
            f"expected '{where}: ...{text}...' in:\n" + "\n".join(messages)
        )


@pytest.mark.parametrize(
    "name",
    [
        "unknown-key.runbook.yaml",
        "alias-bomb.runbook.yaml",
        "not-utf8.runbook.yaml",
        "var-cycle.runbook.yaml",
        "group-unknown-host.hosts.yaml",
    ],
)
def test_cli_exits_2_with_the_message_and_no_traceback(project: Path, name: str) -> None:
    case = BAD / name
    shown = setup(project, case)
    done = run_cli("check", cwd=project)
    line, text = expectations(case)[0]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert text in done.stderr
    assert (shown if line == "-" else f"{shown}:{line}") in done.stderr


def test_every_problem_is_reported_in_one_pass(project: Path) -> None:
    (project / "runbooks" / "many.yaml").write_text(
        "name: many\nsteps:\n  - id: a\n    run: 'true'\n    tittle: x\n"
        "  - id: a\n    run: 'true'\n  - id: c\n"
    )
    (project / "hosts.yaml").write_text("hosts:\n  web1: {prot: 22}\n")
    with pytest.raises(InputError) as caught:
        check(Options(project=project))
    text = str(caught.value)
    assert "4 problems" in text
    for expected in (
        "runbooks/many.yaml:5: unknown key 'tittle'",
        "runbooks/many.yaml:6: duplicate step id 'a'",
        "runbooks/many.yaml:8: step 'c' has no action",
        "hosts.yaml:2: unknown key 'prot'",
    ):
        assert expected in text
