"""Data-driven plan cases: tests/plans/CASE/ holds a runbook, an inventory, case.yaml (host,
--var) and expected.yaml (vars and the rendered steps). Adding a case is adding a folder.

expected.yaml lists only the fields it cares about for each step; `shows` is what a person
sees (secrets as ***).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runbook.commands import parse_vars
from runbook.core.load import load_inventory, load_runbook
from runbook.core.model import mask
from runbook.core.plan import make_plan

CASES = sorted(p for p in (Path(__file__).parent / "plans").iterdir() if p.is_dir())


def _masked(value):  # type: ignore[no-untyped-def]
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_case(case: Path) -> None:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    runbook = load_runbook(case / spec.get("runbook", "runbook.yaml"))
    inventory = load_inventory(case / spec.get("inventory", "hosts.yaml"))
    plan = make_plan(
        runbook,
        inventory.hosts[spec["host"]],
        inventory.path,
        parse_vars(tuple(spec.get("vars", ()))),
    )
    for name, value in expected.get("vars", {}).items():
        assert _masked(plan.vars[name]) == value, f"var {name}"
    for phase in ("steps", "rollback"):
        got = getattr(plan, phase)
        assert [s.id for s in got] == [s["id"] for s in expected[phase]]
        for step, want in zip(got, expected[phase], strict=True):
            for key, value in want.items():
                actual = step.display() if key == "shows" else getattr(step, key)
                if isinstance(actual, tuple):
                    actual = list(actual)
                assert actual == value, f"{phase} {step.id}.{key}"


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
