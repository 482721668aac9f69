"""Data-driven plan cases: tests/plans/CASE/ holds a runbook, an inventory, case.yaml (host,
--var) and expected.yaml (vars and the rendered steps). Adding a case is adding a folder.

expected.yaml lists only the fields it cares about for each step; `shows` is what a person
sees (secrets as ***), `put` the fields of a put it checks, `changes` those of each `changes:`
entry, `warnings` text that `inv check`'s warnings must hold.

A case runs in a copy of its folder (the runbook's project). case.yaml may add

- `repos`: git repositories made in the copy first, `{folder: {branch: {file: text}}}` (see
  `conftest.make_repo`); the case's own files are copied over them afterwards, so a file of
  the case is the working tree's version;
- `error`: texts the input error must hold (then there is no expected.yaml).

In case.yaml and expected.yaml, `{project}` is the copy's folder and `{rev:FOLDER:BRANCH}` the
commit id of a branch of one of those repositories.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook.commands import parse_vars
from runbook.core import put as puts
from runbook.core.inventory import load_inventory
from runbook.core.load import load_runbook
from runbook.core.model import mask
from runbook.core.plan import make_plan
from runbook.errors import InputError

from .conftest import make_repo

CASES = sorted(p for p in (Path(__file__).parent / "plans").iterdir() if p.is_dir())


def _masked(value):  # type: ignore[no-untyped-def]
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _filled(value: Any, names: dict[str, str]) -> Any:
    """`{project}` and `{rev:...}` put in, everywhere in a loaded YAML value."""
    if isinstance(value, str):
        return re.sub(
            r"\{(project|rev:[^{}]+)\}", lambda m: names.get(m.group(1), m.group(0)), value
        )
    if isinstance(value, list):
        return [_filled(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v, names) for k, v in value.items()}
    return value


def _where(case: Path, project: Path, name: str) -> Path:
    """A file the case names: in the copy when it is the case's own, else where it is."""
    original = (case / name).resolve()
    return project / name if original.is_relative_to(case.resolve()) else original


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_case(case: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    project = tmp_path / "project"
    names = {"project": str(project)}
    for folder, branches in (spec.get("repos") or {}).items():
        ids = make_repo(project / folder, branches)
        names |= {f"rev:{folder}:{branch}": commit for branch, commit in ids.items()}
    shutil.copytree(case, project, dirs_exist_ok=True)
    spec = _filled(spec, names)
    runbook = load_runbook(_where(case, project, spec.get("runbook", "runbook.yaml")))
    inventory = load_inventory(_where(case, project, spec.get("inventory", "hosts.yaml")))
    host = inventory.hosts[spec["host"]]
    overrides = parse_vars(tuple(spec.get("vars", ())))
    if "error" in spec:
        with pytest.raises(InputError) as raised:
            make_plan(runbook, host, inventory.path, overrides)
        for text in spec["error"]:
            assert text in str(raised.value)
        return
    plan = make_plan(runbook, host, inventory.path, overrides)
    expected = _filled(yaml.safe_load((case / "expected.yaml").read_text()), names)
    for name, value in expected.get("vars", {}).items():
        assert _masked(plan.vars[name]) == value, f"var {name}"
    for phase in ("steps", "rollback"):
        got = getattr(plan, phase)
        assert [s.id for s in got] == [s["id"] for s in expected[phase]]
        for step, want in zip(got, expected[phase], strict=True):
            for key, value in want.items():
                if key == "put":
                    _same_fields(step.put, value, f"{phase} {step.id}.put")
                    continue
                actual = step.display() if key == "shows" else getattr(step, key)
                if isinstance(actual, tuple):
                    actual = list(actual)
                assert actual == value, f"{phase} {step.id}.{key}"
    wanted_changes = expected.get("changes", [])
    assert len(plan.changes) == len(wanted_changes)
    for change, want in zip(plan.changes, wanted_changes, strict=True):
        _same_fields(change, want, "changes")
    warnings = [str(w) for w in puts.warnings(runbook, plan)]
    assert len(warnings) == len(expected.get("warnings", []))
    for text in expected.get("warnings", []):
        assert any(text in w for w in warnings), (text, warnings)


def _same_fields(actual: Any, want: dict[str, Any], where: str) -> None:
    assert actual is not None, where
    for key, value in want.items():
        got = getattr(actual, key)
        if isinstance(got, tuple):
            got = list(got)
        if isinstance(got, bytes):
            got = got.decode()
        assert got == value, f"{where}.{key}"


def test_run_values_and_secrets_are_markers_in_the_one_plan() -> None:
    """The plan `inv show` digests is the plan `inv release` runs: nothing is rendered again."""
    case = Path(__file__).parent / "plans" / "secrets-masked"
    runbook = load_runbook(case / "runbook.yaml")
    host = load_inventory(case / "hosts.yaml").hosts["db1"]

    one = make_plan(runbook, host, "hosts.yaml")
    two = make_plan(runbook, host, "hosts.yaml")

    assert one == two
    assert one.digest == two.digest
    assert len(one.digest) == 64


def test_digest_changes_when_a_command_changes() -> None:
    case = Path(__file__).parent / "plans" / "quoting"
    runbook = load_runbook(case / "runbook.yaml")
    host = load_inventory(case / "hosts.yaml").hosts["web1"]
    one = make_plan(runbook, host, "hosts.yaml")
    two = make_plan(runbook, host, "hosts.yaml", {"branch": "main"})
    assert one.digest != two.digest
